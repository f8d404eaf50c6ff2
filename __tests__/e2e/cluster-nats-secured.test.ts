/**
 * Cluster processes on a secured NATS, with the built binary and a real nats-server for
 * each way to secure it: a token (`authorization { token }`), users with passwords, TLS with
 * client certificates (`tls { … verify: true }`, with a user too) and decentralized JWT
 * authentication (an operator, `--nats-creds`). With the matching options an ingest and a
 * gateway deliver events; a wrong token, password or CA is refused at once
 * (`ERR_LOG_AUTH`, exit 1), a missing client certificate is tried again with a hint, a
 * running process whose token NATS stops taking (a reloaded configuration) says so and
 * keeps trying until it is taken again, and no secret ever shows in the output, `/stats` or
 * a refusal. Every wait is bounded; every
 * process, socket and server is stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type RunningBinary, run } from '../helpers/binary.js';
import {
  clientsOn,
  gateway,
  ingest,
  lastStats,
  logFlags,
  type Started,
  serve,
  simulate,
  stop,
} from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { natsOperator } from '../helpers/nats-jwt.js';
import { NATS_TLS_FLAGS, natsUserFlags, startTlsNatsServer } from '../helpers/nats-tls.js';
import { useTcpPeers, waitUntil, withTimeout, writeAll } from '../helpers/sockets.js';

const WAIT_MS = 30_000;
const STATS = ['--stats-interval', '50'];
const TLS = new URL('../fixtures/tls/', import.meta.url).pathname;
const EVENTS = '1|B\n2|B\n3|B\n';
// Starting with a letter: nats-server reads a variable's value that starts with a digit as a number.
const secret = (): string => `s${randomBytes(12).toString('hex')}`;

describeWithNats('cluster processes on a secured NATS (built binaries)', () => {
  const peers = useTcpPeers();
  const dir = mkdtempSync(join(tmpdir(), 'follower-maze-nats-secured-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes `text` to a file of the suite's temp dir, readable by its owner only. */
  function secretFile(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  }

  /**
   * An ingest and a gateway on `stream` with `login` deliver a broadcast to a client; returns
   * both, still running.
   */
  async function delivers(nats: NatsServer, stream: string, login: string[]): Promise<Started[]> {
    const events = await ingest(nats, stream, [...STATS, ...login]);
    const clients = await gateway(nats, stream, [...STATS, ...login]);
    const [client] = await clientsOn(clients, 1, peers, WAIT_MS);
    const source = await peers.connect(events.port);
    await writeAll(source.socket, EVENTS, WAIT_MS);
    await client?.received.waitForLength(EVENTS.length, WAIT_MS);
    expect(client?.received.text).toBe(EVENTS);
    // Ended, so that stopping the ingest does not wait for it.
    await source.close();
    return [events, clients];
  }

  /** A gateway with `login` on `nats`, to its exit: refused with `ERR_LOG_AUTH`, exit 1. */
  async function refused(nats: NatsServer, login: string[], why: RegExp): Promise<RunningBinary> {
    const refusedGateway = run([
      'gateway',
      ...logFlags(nats, 'REFUSED'),
      '--client-port',
      '0',
      ...login,
    ]);
    expect(await withTimeout(refusedGateway.exited, WAIT_MS, 'the refused gateway to exit')).toBe(
      1,
    );
    const stderr = refusedGateway.stderr.join('\n');
    expect(stderr).toMatch(new RegExp(`problem ERR_LOG_AUTH.*${why.source}`));
    expect(refusedGateway.stderr.at(-1)).toBe(
      'follower-maze: NATS refused this process (ERR_LOG_AUTH above): not trying again',
    );
    // Refused at the first attempt, not tried again.
    expect(stderr).not.toContain('trying again in');
    return refusedGateway;
  }

  /** Everything `processes` wrote: none of `secrets` in it. */
  function expectNoSecret(processes: readonly RunningBinary[], secrets: readonly string[]): void {
    const output = processes.flatMap((process) => [...process.stdout, ...process.rawStderr]);
    expect(output.length).toBeGreaterThan(0);
    for (const text of secrets) expect(output.join('\n')).not.toContain(text);
  }

  describe('with a token', () => {
    const token = secret();
    let nats: NatsServer;
    beforeAll(async () => {
      nats = await startNatsServer({
        config: 'authorization { token: $MAZE_TOKEN }\n',
        env: { MAZE_TOKEN: token },
      });
    });

    it('delivers with --nats-token-file, refuses a wrong or missing token', async () => {
      const running = await delivers(nats, 'TOKEN', [
        '--nats-token-file',
        secretFile('token', `${token}\n`),
      ]);
      const wrong = secret();
      const refusals = [
        await refused(
          nats,
          ['--nats-token-file', secretFile('wrong-token', wrong)],
          /refused the login: Authorization Violation/,
        ),
        await refused(nats, [], /refused the login: Authorization Violation/),
      ];
      for (const process of running) expect(await stop(process)).toBe(0);
      expectNoSecret([...running, ...refusals], [token, wrong]);
    }, 90_000);

    it('keeps trying when NATS stops taking its token, says why, and is back once it does', async () => {
      const config = 'authorization { token: $MAZE_TOKEN }\n';
      const other = secret();
      const running = await gateway(nats, 'TOKEN_RELOAD', [
        '--nats-token-file',
        secretFile('token-reload', token),
      ]);
      await nats.reload(`authorization { token: "${other}" }\n`);
      await running.waitForLine(
        'stderr',
        /problem ERR_LOG_AUTH: NATS at .* refused the login while reconnecting: Authorization Violation; trying again/,
        WAIT_MS,
      );
      await nats.reload(config);
      await running.waitForLine('stderr', /connected to NATS at .* again/, WAIT_MS);
      expect(await stop(running)).toBe(0);
      expectNoSecret([running], [token, other]);
    }, 60_000);

    it('takes no secret as a flag: --nats-token is an unknown option, its value not echoed', async () => {
      const flagged = run(['gateway', ...logFlags(nats, 'FLAG'), '--nats-token', token]);
      expect(await withTimeout(flagged.exited, WAIT_MS, 'the refusal')).toBe(2);
      expect(flagged.rawStderr.join('\n')).toMatch(
        /unknown option --nats-token \(did you mean --nats-token-file\?\)/,
      );
      expectNoSecret([flagged], [token]);
    });
  });

  describe('with users and passwords', () => {
    const password = secret();
    let nats: NatsServer;
    beforeAll(async () => {
      nats = await startNatsServer({
        config: 'authorization { users = [ { user: maze, password: $MAZE_PASSWORD } ] }\n',
        env: { MAZE_PASSWORD: password },
      });
    });

    it('refuses a wrong password, a password in the URL (unquoted) and TLS it lacks', async () => {
      const wrong = secret();
      const refusal = await refused(
        nats,
        natsUserFlags(secretFile('wrong-password', wrong)),
        /refused the login: Authorization Violation \(check natsUser \(--nats-user/,
      );
      const inUrl = run([
        'gateway',
        '--nats-url',
        `nats://maze:${password}@127.0.0.1:${nats.port}`,
        '--client-port',
        '0',
      ]);
      expect(await withTimeout(inUrl.exited, WAIT_MS, 'the refusal')).toBe(2);
      expect(inUrl.rawStderr.join('\n')).toMatch(/natsUrl .*must not carry credentials/);
      // TLS asked of a server that has none.
      const noTls = await refused(
        nats,
        ['--nats-tls-ca', `${TLS}ca.pem`, ...natsUserFlags(secretFile('password', password))],
        /TLS with NATS at .* failed: server does not support 'tls'/,
      );
      expectNoSecret([refusal, inUrl, noTls], [password, wrong]);
    }, 60_000);
  });

  describe('with TLS and client certificates', () => {
    const password = secret();
    let nats: NatsServer;
    const login = (): string[] => natsUserFlags(secretFile('tls-password', password));
    beforeAll(async () => {
      nats = await startTlsNatsServer(password);
    });

    it('delivers with the CA, a client certificate and a user; /stats shows no secret', async () => {
      const running = await delivers(nats, 'TLS', [
        ...NATS_TLS_FLAGS,
        ...login(),
        '--monitor-port',
        '0',
      ]);
      for (const process of running) {
        const monitor = /http:\/\/[\d.:]+/.exec(
          await process.waitForLine('stderr', /follower-maze monitor: http/, WAIT_MS),
        )?.[0];
        const stats = await fetch(`${monitor}/stats`, { signal: AbortSignal.timeout(5_000) });
        expect(stats.status).toBe(200);
        const text = await stats.text();
        expect(text).toContain('"problems":0');
        expect(text).not.toContain(password);
        expect(await stop(process)).toBe(0);
      }
      expectNoSecret(running, [password]);
    }, 90_000);

    it('passes simulate through an ingest and 2 gateways on it', async () => {
      const secured = [...NATS_TLS_FLAGS, ...login()];
      const events = await ingest(nats, 'TLS_SIMULATE', secured);
      const gateways = await Promise.all([1, 2].map(() => gateway(nats, 'TLS_SIMULATE', secured)));
      const { code, summary } = await simulate(
        [
          '--event-port',
          String(events.port),
          '--client-port',
          gateways.map((started) => started.port).join(','),
          '--total-events',
          '10000',
          '--concurrency-level',
          '20',
          '--number-of-users',
          '100',
          '--log-interval',
          '0',
        ],
        60_000,
      );
      expect({ code, ok: summary.ok, failure: summary.failure }).toEqual({
        code: 0,
        ok: true,
        failure: undefined,
      });
      expect(summary.notifications).toBeGreaterThan(10_000);
      for (const process of [events, ...gateways]) expect(await stop(process)).toBe(0);
      expectNoSecret([events, ...gateways], [password]);
    }, 120_000);

    it('refuses a server certificate from another CA, or TLS without a CA, at once', async () => {
      const withoutCa = await refused(
        nats,
        login(),
        /TLS with NATS at .* failed: unable to verify the first certificate/,
      );
      const refusal = await refused(
        nats,
        [
          '--nats-tls-ca',
          `${TLS}other-ca.pem`,
          '--nats-tls-cert',
          `${TLS}client.pem`,
          '--nats-tls-key',
          `${TLS}client-key.pem`,
          ...login(),
        ],
        /TLS with NATS at .* failed: unable to verify the first certificate/,
      );
      expectNoSecret([withoutCa, refusal], [password]);
    }, 60_000);

    it('says why it waits without a client certificate, and stops on SIGTERM', async () => {
      const waiting = run([
        'gateway',
        ...logFlags(nats, 'NO_CERT'),
        '--client-port',
        '0',
        '--nats-tls-ca',
        `${TLS}ca.pem`,
        ...login(),
      ]);
      await waiting.waitForLine(
        'stderr',
        /ERR_LOG_UNAVAILABLE.*timeout \(with TLS, also what a server that does not accept the client certificate, natsTlsCert, looks like\); trying again/,
        WAIT_MS,
      );
      expect(await stop(waiting)).toBe(0);
      expectNoSecret([waiting], [password]);
    }, 60_000);
  });

  describe('with an operator and user credentials (decentralized JWT)', () => {
    const operator = natsOperator();
    let nats: NatsServer;
    beforeAll(async () => {
      nats = await startNatsServer({ config: operator.config });
    });

    it('delivers with --nats-creds, and refuses a malformed credentials file', async () => {
      const creds = operator.newUserCreds();
      const seed = /^SU[A-Z0-9]+$/m.exec(creds)?.[0] as string;
      const running = await delivers(nats, 'CREDS', [
        '--nats-creds',
        secretFile('user.creds', creds),
      ]);
      const malformed = run([
        'gateway',
        ...logFlags(nats, 'CREDS'),
        '--nats-creds',
        secretFile('bad.creds', creds.replace(seed, `${seed.slice(0, -4)}AAAA`)),
      ]);
      expect(await withTimeout(malformed.exited, WAIT_MS, 'the refusal')).toBe(2);
      expect(malformed.rawStderr.join('\n')).toMatch(
        /natsCreds .*bad\.creds is not a NATS credentials file/,
      );
      // serve on the log connects as the others do.
      const single = await serve(
        [
          ...STATS,
          ...logFlags(nats, 'SERVE_CREDS'),
          '--nats-creds',
          secretFile('serve.creds', operator.newUserCreds()),
        ],
        { ms: WAIT_MS },
      );
      const client = await peers.connect(single.clientPort);
      client.socket.write('5\n');
      await waitUntil(
        () => lastStats(single).clientsConnected === '1',
        'the client of serve identified',
        WAIT_MS,
      );
      const source = await peers.connect(single.eventPort);
      await writeAll(source.socket, EVENTS, WAIT_MS);
      await client.received.waitForLength(EVENTS.length, WAIT_MS);
      expect(client.received.text).toBe(EVENTS);
      await source.close();
      for (const process of [...running, single]) expect(await stop(process)).toBe(0);
      expectNoSecret([...running, malformed, single], [seed, seed.slice(0, -4)]);
    }, 90_000);
  });
});

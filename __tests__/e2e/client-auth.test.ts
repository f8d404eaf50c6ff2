/**
 * `serve --client-auth jwt` as a user runs it: the simulator signs its clients' tokens and
 * verifies the run; bad tokens are refused with their reason counted and logged without the
 * token; and no connection can receive another user's private messages.
 */

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { type JWTPayload, SignJWT } from 'jose';
import type { RunningBinary } from '../helpers/binary.js';
import {
  gateway,
  ingest,
  lastStats,
  logFlags,
  serve,
  simulate,
  stop,
} from '../helpers/cluster-processes.js';
import { describeWithNats, startNatsServer } from '../helpers/nats.js';
import { type TcpPeer, useTcpPeers, waitUntil } from '../helpers/sockets.js';

const fixture = (name: string): string =>
  new URL(`../fixtures/tls/${name}`, import.meta.url).pathname;
const SECRET_FILE = fixture('jwt-hs256.secret');
const SECRET = readFileSync(SECRET_FILE);
const OTHER_SECRET = readFileSync(fixture('jwt-hs256-other.secret'));
const NOW = Math.floor(Date.now() / 1000);
const AUDIENCE = 'maze-e2e';
const SIMULATION_MS = 60_000;

const peers = useTcpPeers();
const running: RunningBinary[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((process) => stop(process)));
});

async function jwtServe(extra: string[] = []) {
  const server = await serve([
    '--client-auth',
    'jwt',
    '--jwt-audience',
    AUDIENCE,
    '--stats-interval',
    '50',
    ...extra,
  ]);
  running.push(server);
  return server;
}

function token(claims: JWTPayload, secret: Uint8Array = SECRET): Promise<string> {
  return new SignJWT({ aud: AUDIENCE, exp: NOW + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(secret);
}

/** A client that sends `idLine` and is served, or is refused (its socket closed). */
async function client(port: number, idLine: string): Promise<TcpPeer> {
  const peer = await peers.connect(port);
  peer.socket.write(idLine);
  return peer;
}

/** `simulate` with 20 clients and 20000 events against a maze's ports, with `extra` flags. */
function simulateAgainst(eventPort: number, clientPorts: string, extra: string[]) {
  return simulate(
    [
      '--event-port',
      String(eventPort),
      '--client-port',
      clientPorts,
      '--total-events',
      '20000',
      '--concurrency-level',
      '20',
      ...extra,
    ],
    SIMULATION_MS,
  );
}

describe('serve --client-auth jwt', () => {
  it('passes simulate with HS256 tokens, and with RS256 tokens against the public key', async () => {
    const hs = await jwtServe(['--jwt-secret-file', SECRET_FILE]);
    const hsRun = await simulateAgainst(hs.eventPort, String(hs.clientPort), [
      '--jwt-secret-file',
      SECRET_FILE,
      '--jwt-audience',
      AUDIENCE,
    ]);
    expect(hsRun).toMatchObject({ code: 0, summary: { ok: true } });
    const rs = await jwtServe(['--jwt-public-key', fixture('jwt-rs256-public.pem')]);
    const rsRun = await simulateAgainst(rs.eventPort, String(rs.clientPort), [
      '--jwt-private-key',
      fixture('jwt-rs256-key.pem'),
      '--jwt-audience',
      AUDIENCE,
    ]);
    expect(rsRun).toMatchObject({ code: 0, summary: { ok: true } });
    await waitUntil(() => lastStats(rs).authAccepted === '20', 'the stats line');
    expect(lastStats(rs)).toMatchObject({ authSignature: '0', authMalformed: '0' });
  });

  it('resumes clients that identify with tokens exactly (TOKEN|-, then TOKEN|LASTSEQ|EPOCH)', async () => {
    const server = await jwtServe(['--jwt-secret-file', SECRET_FILE, '--resume-bytes', '4194304']);
    const run = await simulateAgainst(server.eventPort, String(server.clientPort), [
      '--jwt-secret-file',
      SECRET_FILE,
      '--jwt-audience',
      AUDIENCE,
      '--reconnect-every',
      '100',
    ]);
    expect(run).toMatchObject({ code: 0, summary: { ok: true } });
    const reconnects = run.summary.reconnects;
    expect(reconnects?.drops).toBeGreaterThan(20);
    expect(reconnects).toMatchObject({
      resumes: reconnects?.drops,
      refused: { trimmed: 0, ahead: 0 },
      skipped: 0,
      repeats: 0,
    });
  });

  it('refuses bad tokens with their reason counted and logged, never showing the token, and goes on', async () => {
    const server = await jwtServe([
      '--jwt-secret-file',
      SECRET_FILE,
      '--monitor-port',
      '0',
      '--log-level',
      'debug',
    ]);
    const monitorLine = await server.waitForLine('stderr', /^follower-maze monitor: http:/);
    const monitor = /http:\/\/127\.0\.0\.1:\d+/.exec(monitorLine)?.[0];
    const bad = {
      malformed: '56\n',
      signature: `${await token({ sub: '56' }, OTHER_SECRET)}\n`,
      expired: `${await token({ sub: '56', exp: NOW - 120 })}\n`,
      audience: `${await token({ sub: '56', aud: 'another-service' })}\n`,
      subject: `${await token({ sub: 'alice' })}\n`,
    };
    for (const idLine of Object.values(bad)) {
      const refused = await client(server.clientPort, idLine);
      await refused.received.waitForEnd();
      expect(refused.received.text).toBe('');
    }
    await waitUntil(
      () =>
        Object.keys(bad).every(
          (reason) =>
            lastStats(server)[`auth${reason[0]?.toUpperCase()}${reason.slice(1)}`] === '1',
        ),
      'every refusal counted',
    );
    const pages = await Promise.all(
      ['metrics', 'stats', 'clients'].map(async (path) => {
        const response = await fetch(`${monitor}/${path}`, { signal: AbortSignal.timeout(5_000) });
        return response.text();
      }),
    );
    for (const reason of ['malformed', 'signature', 'expired', 'audience', 'subject']) {
      expect(pages[0]).toMatch(new RegExp(`^follower_maze_client_auth_${reason}_total 1$`, 'm'));
    }
    const log = [server.rawStderr.join('\n'), ...pages].join('\n');
    for (const reason of Object.keys(bad)) {
      expect(log).toContain(`(${reason})`);
    }
    expect(log).toContain('ERR_CLIENT_AUTH');
    for (const idLine of Object.values(bad).slice(1)) {
      const [header, payload, signature] = idLine.trim().split('.');
      for (const part of [header, payload, signature]) expect(log).not.toContain(part);
    }
    // Still serving.
    const good = await client(server.clientPort, `${await token({ sub: '56' })}\n`);
    await waitUntil(() => lastStats(server).clientsConnected === '1', 'the good client');
    const source = await peers.connect(server.eventPort);
    source.socket.write('1|P|1|56\n');
    await good.received.waitForLength('1|P|1|56\n'.length);
    expect(good.received.text).toBe('1|P|1|56\n');
  });

  it('lets no connection receive another user’s private messages', async () => {
    const server = await jwtServe(['--jwt-secret-file', SECRET_FILE]);
    const alice = await client(server.clientPort, `${await token({ sub: '1' })}\n`);
    const bob = await client(server.clientPort, `${await token({ sub: '2' })}\n`);
    await waitUntil(() => lastStats(server).clientsConnected === '2', 'alice and bob');
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"2"}').toString('base64url')}.`;
    const attackers = [
      await client(server.clientPort, '2\n'),
      await client(server.clientPort, '2|0\n'),
      await client(server.clientPort, `${await token({ sub: '2' }, OTHER_SECRET)}\n`),
      await client(server.clientPort, `${await token({ sub: '2', aud: 'x' })}\n`),
      await client(server.clientPort, `${unsigned}\n`),
      await client(server.clientPort, `${await token({ sub: '02x' })}\n`),
      // A valid token for user 1, then a refresh with one for user 2: closed for it.
      await client(
        server.clientPort,
        `${await token({ sub: '1' })}\n${await token({ sub: '2' })}\n`,
      ),
    ];
    for (const attacker of attackers) await attacker.received.waitForEnd();
    const source = await peers.connect(server.eventPort);
    source.socket.write('1|P|1|2\n2|P|2|1\n3|B\n');
    await bob.received.waitForLength('1|P|1|2\n3|B\n'.length);
    await alice.received.waitForLength('2|P|2|1\n3|B\n'.length);
    // Exact: the broadcast, the last event, came after the private messages.
    expect(bob.received.text).toBe('1|P|1|2\n3|B\n');
    expect(alice.received.text).toBe('2|P|2|1\n3|B\n');
    for (const attacker of attackers) expect(attacker.received.text).toBe('');
    expect(lastStats(server).clientsConnected).toBe('2');
  });
});

describeWithNats('cluster mode with --client-auth jwt', () => {
  it('ingest and two gateways pass simulate with ES256 tokens', async () => {
    const nats = await startNatsServer();
    const auth = ['--client-auth', 'jwt', '--jwt-public-key', fixture('jwt-es256-public.pem')];
    const events = await ingest(nats, 'JWT');
    running.push(events);
    const gateways = [await gateway(nats, 'JWT', auth), await gateway(nats, 'JWT', auth)];
    running.push(...gateways);
    const run = await simulateAgainst(
      events.port,
      gateways.map((started) => started.port).join(','),
      ['--jwt-private-key', fixture('jwt-es256-key.pem')],
    );
    expect(run).toMatchObject({ code: 0, summary: { ok: true } });
  });

  it('serve --nats-url passes simulate with EdDSA tokens', async () => {
    const nats = await startNatsServer();
    const server = await jwtServe([
      '--jwt-public-key',
      fixture('jwt-eddsa-public.pem'),
      ...logFlags(nats, 'JWTSERVE'),
    ]);
    const run = await simulateAgainst(server.eventPort, String(server.clientPort), [
      '--jwt-private-key',
      fixture('jwt-eddsa-key.pem'),
      '--jwt-audience',
      AUDIENCE,
    ]);
    expect(run).toMatchObject({ code: 0, summary: { ok: true } });
  });
});

/**
 * TLS on the ports of `listen()` (lib/net/tls.ts): what reaches the maze (a finished handshake,
 * a trusted certificate where one is required), what is refused and counted, and reloads.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { type ConnectionOptions, connect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, MazeError } from '../../lib/errors.js';
import { listen, type MazeServer } from '../../lib/net/listen.js';
import { ServerTls, type TlsMaterial } from '../../lib/net/tls.js';
import { collectProblems, useClosing } from '../helpers/closing.js';
import { Collector, sleep, waitUntil } from '../helpers/sockets.js';
import { handshakeOf } from '../helpers/tls.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const pem = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

const SERVER: TlsMaterial = { cert: pem('server.pem'), key: pem('server-key.pem') };
const ROTATED: TlsMaterial = {
  cert: pem('server-rotated.pem'),
  key: pem('server-rotated-key.pem'),
};
const TRUST = { ca: pem('ca.pem') };
const SOURCE = { ...TRUST, cert: pem('source.pem'), key: pem('source-key.pem') };
const UNTRUSTED_SOURCE = {
  ...TRUST,
  cert: pem('untrusted-source.pem'),
  key: pem('untrusted-source-key.pem'),
};

const track = useClosing();

/** Closes `socket` after the test, before the server it is connected to. */
function tracked<T extends Socket>(socket: T): T {
  track({ close: async () => void socket.destroy() });
  return socket;
}

async function serve(tls: ServerTls, identifyTimeout?: number): Promise<MazeServer> {
  return track(
    await listen({
      eventPort: 0,
      clientPort: 0,
      tls,
      ...(identifyTimeout !== undefined && { identifyTimeout }),
    }),
  );
}

/** A TLS connection once its handshake is done (it may still be refused right after). */
function tlsConnect(port: number, options: ConnectionOptions): Promise<TLSSocket> {
  return handshakeOf(tracked(connect({ host: '127.0.0.1', port, ...options })));
}

/** A client identified as `user`, its output collected. */
async function tlsClient(server: MazeServer, user: number): Promise<Collector> {
  const identified = server.maze.stats().clientsConnected + 1;
  const socket = await tlsConnect(server.clientAddress.port, TRUST);
  const received = new Collector(socket);
  socket.write(`${user}\n`);
  await waitUntil(() => server.maze.stats().clientsConnected >= identified, 'the client id');
  return received;
}

function fingerprintOf(material: TlsMaterial): string {
  return new X509Certificate(material.cert).fingerprint256;
}

/** The code of the `MazeError` `action` throws, or `'no error'`. */
function codeThrown(action: () => void): string {
  try {
    action();
  } catch (error) {
    return error instanceof MazeError ? error.code : `not a MazeError: ${String(error)}`;
  }
  return 'no error';
}

describe('TLS ports', () => {
  it('refuses and counts a plain TCP client on the TLS client port, and goes on', async () => {
    const tls = new ServerTls(SERVER);
    const server = await serve(tls);
    const problems = collectProblems(server.maze);
    const plain = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    const closed = new Collector(plain);
    plain.write('56\n56\n56\n');
    await closed.waitForEnd();
    await waitUntil(() => tls.stats().clientTlsFailures === 1, 'the failure counted');
    await waitUntil(() => problems.length > 0, 'the failure reported');
    expect(problems[0]).toMatchObject({
      code: ErrorCode.TlsHandshake,
      context: { connection: 'client-port' },
    });
    expect(problems[0]?.message).toMatch(/1 protocol/);
    expect(server.maze.stats().clientsConnected + server.maze.stats().clientsIdentifying).toBe(0);

    const client = await tlsClient(server, 56);
    const source = await tlsConnect(server.eventAddress.port, TRUST);
    source.write('1|B\n');
    await client.waitForLength('1|B\n'.length);
    expect(client.text).toBe('1|B\n');
    expect(tls.stats()).toEqual({ clientTlsFailures: 1, eventTlsFailures: 0 });
  });

  it('serves a client that half-closes after its id, and lets go at once of one that leaves in its handshake', async () => {
    const tls = new ServerTls(SERVER);
    const server = await serve(tls);
    const leaving = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    leaving.end();
    await waitUntil(() => tls.stats().clientTlsFailures === 1, 'the leaver counted');

    const socket = await tlsConnect(server.clientAddress.port, TRUST);
    const received = new Collector(socket);
    socket.end('5\n');
    await waitUntil(() => server.maze.stats().clientsHalfClosed === 1, 'the half-close');
    const source = await tlsConnect(server.eventAddress.port, TRUST);
    source.write('1|B\n2|P|1|5\n');
    await received.waitForLength(12);
    expect(received.text).toBe('1|B\n2|P|1|5\n');
  });

  it('closes a client whose handshake never finishes within the identify timeout', async () => {
    const tls = new ServerTls(SERVER);
    const server = await serve(tls, 200);
    const silent = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    await new Collector(silent).waitForEnd();
    await waitUntil(() => tls.stats().clientTlsFailures === 1, 'the timeout counted');
  });

  it('counts handshakes in progress against maxClients: at the bound, the oldest silent one gives way', async () => {
    const tls = new ServerTls(SERVER);
    const server = track(
      await listen({ eventPort: 0, clientPort: 0, tls, maxClients: 2, identifyTimeout: 60_000 }),
    );
    const problems = collectProblems(server.maze);
    const silent = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    const silentClosed = new Collector(silent);
    await once(silent, 'connect');
    const talking = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    await once(talking, 'connect');
    // A partial TLS record: it has begun its handshake.
    talking.write(Buffer.from([0x16, 0x03, 0x01]));
    const client = await tlsClient(server, 3);
    // Well before the first-record deadline: the bound closed it.
    await silentClosed.waitForEnd();
    await waitUntil(() => tls.stats().clientTlsFailures === 1, 'the eviction counted');
    await waitUntil(() => problems.length > 0, 'the eviction reported');
    expect(problems[0]?.message).toMatch(/\(1 limit\)/);
    expect(talking.destroyed).toBe(false);
    expect(client.text).toBe('');
  });

  it('closes a connection that sends no byte within 1 s, long before the handshake deadline', async () => {
    const tls = new ServerTls(SERVER);
    const server = await serve(tls, 60_000);
    const problems = collectProblems(server.maze);
    const silent = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    await new Collector(silent).waitForEnd();
    await waitUntil(() => problems.length > 0, 'the timeout reported');
    expect(problems[0]?.message).toMatch(/\(1 timeout\)/);
    expect(tls.stats().clientTlsFailures).toBe(1);
  });

  it('counts a first record that arrived while the loop was busy past its deadline as sent', async () => {
    const tls = new ServerTls(SERVER);
    const server = await serve(tls, 60_000);
    const talking = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    await once(talking, 'connect');
    // Some loop turns: the server accepts it and its first-record timer starts.
    await sleep(50);
    await new Promise<void>((resolve) => {
      // In the check phase: the next loop turn runs the expired timer before it polls.
      setImmediate(() => {
        // A partial TLS record, handed to the kernel before the busy spell.
        talking.write(Buffer.from([0x16, 0x03, 0x01]));
        const until = performance.now() + 1_200;
        while (performance.now() < until) {
          // Busy past the 1 s first-record deadline: nothing is read meanwhile.
        }
        resolve();
      });
    });
    // A second connection's handshake, finished, shows the loop has turned since.
    await tlsClient(server, 3);
    expect(talking.readableEnded || talking.destroyed).toBe(false);
    expect(tls.stats().clientTlsFailures).toBe(0);
  });

  it('counts a handshake whose last flight arrived while the loop was busy past its deadline as done', async () => {
    const tls = new ServerTls(SERVER);
    const server = await serve(tls, 1_000);
    const connectedAt = performance.now();
    const socket = tracked(
      connect({ host: '127.0.0.1', port: server.clientAddress.port, ...TRUST }),
    );
    // On the client's side the handshake is done once its last flight is handed to the
    // kernel; the server reads that flight only after the busy spell, past its deadline.
    socket.once('secureConnect', () => {
      socket.write('3\n');
      const until = connectedAt + 1_300;
      while (performance.now() < until) {
        // Busy past the 1 s handshake deadline: nothing is read meanwhile.
      }
    });
    const received = new Collector(socket);
    await waitUntil(() => server.maze.stats().clientsConnected === 1, 'the client id');
    const source = await tlsConnect(server.eventAddress.port, TRUST);
    source.write('1|B\n');
    await received.waitForLength('1|B\n'.length);
    expect(received.text).toBe('1|B\n');
    expect(tls.stats().clientTlsFailures).toBe(0);
  });

  it('lets the trusted source in past silent connections kept re-opening on the event port', async () => {
    const tls = new ServerTls({ ...SERVER, eventCa: pem('ca.pem') });
    const server = await serve(tls);
    const client = await tlsClient(server, 7);
    // 20 silent connections, each re-opened as soon as the server closes it: more than the
    // 16 handshakes the event port lets run. Not tracked one by one: they are all in `holders`.
    const holders = new Set<Socket>();
    let stopped = false;
    track({
      close: async () => {
        stopped = true;
        for (const socket of holders) socket.destroy();
      },
    });
    const hold = (): void => {
      const socket = connectTcp(server.eventAddress.port, '127.0.0.1');
      holders.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => {
        holders.delete(socket);
        if (!stopped) hold();
      });
    };
    for (let index = 0; index < 20; index++) hold();
    await waitUntil(() => tls.stats().eventTlsFailures >= 4, 'the port at its bound');
    const source = await tlsConnect(server.eventAddress.port, SOURCE);
    source.write('1|P|2|7\n');
    await client.waitForLength('1|P|2|7\n'.length);
    expect(client.text).toBe('1|P|2|7\n');
    expect(server.maze.stats().eventSourcesAccepted).toBe(1);
    expect(holders.size).toBe(20);
    stopped = true;
  });

  it('lets a TLS client in at maxClients when a half-closed client can give way', async () => {
    const tls = new ServerTls(SERVER);
    const server = track(await listen({ eventPort: 0, clientPort: 0, tls, maxClients: 2 }));
    for (const user of [1, 2]) {
      const socket = await tlsConnect(server.clientAddress.port, TRUST);
      socket.end(`${user}\n`);
    }
    await waitUntil(() => server.maze.stats().clientsHalfClosed === 2, 'the half-closes');
    const socket = await tlsConnect(server.clientAddress.port, TRUST);
    const third = new Collector(socket);
    socket.write('3\n');
    await waitUntil(() => server.maze.stats().clientsEvicted === 1, 'the eviction');
    await waitUntil(() => server.maze.stats().clientsConnected === 2, 'the third client id');
    const source = await tlsConnect(server.eventAddress.port, TRUST);
    source.write('1|P|1|3\n');
    await third.waitForLength(8);
    expect(third.text).toBe('1|P|1|3\n');
    expect(server.maze.stats()).toMatchObject({ clientsEvicted: 1, clientsRefused: 0 });
    expect(tls.stats().clientTlsFailures).toBe(0);
  });

  it('refuses a TLS client at maxClients like a plain one (ERR_CLIENT_LIMIT), before any TLS work', async () => {
    const tls = new ServerTls(SERVER);
    const server = track(await listen({ eventPort: 0, clientPort: 0, tls, maxClients: 1 }));
    const problems = collectProblems(server.maze);
    await tlsClient(server, 1);
    const refused = tracked(connectTcp(server.clientAddress.port, '127.0.0.1'));
    await new Collector(refused).waitForEnd();
    await waitUntil(() => server.maze.stats().clientsRefused === 1, 'the refusal counted');
    await waitUntil(() => problems.length > 0, 'the refusal reported');
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientLimit]);
    expect(tls.stats().clientTlsFailures).toBe(0);
    expect(server.maze.stats()).toMatchObject({ clientsConnected: 1, clientsRefused: 1 });
  });

  it.each([
    ['no certificate', TRUST],
    ['a certificate from another CA', UNTRUSTED_SOURCE],
  ])(
    'gives the event source slot to no source with %s, and still to the real one',
    async (_what, options) => {
      const tls = new ServerTls({ ...SERVER, eventCa: pem('ca.pem') });
      const server = await serve(tls);
      const problems = collectProblems(server.maze);
      const client = await tlsClient(server, 7);

      // TLS 1.3 may finish the client's side of the handshake before the server refuses it.
      const intruder = tracked(
        connect({ host: '127.0.0.1', port: server.eventAddress.port, ...options }),
      );
      const intruderClosed = new Collector(intruder);
      intruder.on('secureConnect', () => intruder.write('1|P|1|7\n'));
      await intruderClosed.waitForEnd();
      await waitUntil(() => tls.stats().eventTlsFailures === 1, 'the refusal counted');
      expect(server.maze.stats().eventSourcesAccepted).toBe(0);
      expect(problems.map((problem) => problem.code)).toContain(ErrorCode.TlsHandshake);
      expect(problems.find((problem) => problem.code === ErrorCode.TlsHandshake)?.message).toMatch(
        /1 certificate/,
      );

      const source = await tlsConnect(server.eventAddress.port, SOURCE);
      source.write('1|P|2|7\n');
      await client.waitForLength('1|P|2|7\n'.length);
      expect(client.text).toBe('1|P|2|7\n');
      expect(server.maze.stats().eventSourcesAccepted).toBe(1);
    },
  );

  it('takes only clients with a certificate from the client CA when one is given', async () => {
    const tls = new ServerTls({ ...SERVER, clientCa: pem('ca.pem') });
    const server = await serve(tls);
    const anonymous = tracked(
      connect({ host: '127.0.0.1', port: server.clientAddress.port, ...TRUST }),
    );
    anonymous.on('secureConnect', () => anonymous.write('9\n'));
    await new Collector(anonymous).waitForEnd();
    await waitUntil(() => tls.stats().clientTlsFailures === 1, 'the refusal counted');

    const socket = await tlsConnect(server.clientAddress.port, {
      ...TRUST,
      cert: pem('client.pem'),
      key: pem('client-key.pem'),
    });
    socket.write('9\n');
    await waitUntil(() => server.maze.stats().clientsConnected === 1, 'the client identified');
    expect(tls.stats()).toEqual({ clientTlsFailures: 1, eventTlsFailures: 0 });
  });

  it('serves new connections the reloaded certificate while open ones keep flowing', async () => {
    const tls = new ServerTls(SERVER);
    const server = await serve(tls);
    const before = await tlsConnect(server.clientAddress.port, TRUST);
    expect(before.getPeerX509Certificate()?.fingerprint256).toBe(fingerprintOf(SERVER));
    const early = new Collector(before);
    before.write('3\n');
    const source = await tlsConnect(server.eventAddress.port, TRUST);
    await waitUntil(() => server.maze.stats().clientsConnected === 1, 'the first client');

    tls.reload(ROTATED);
    const after = await tlsConnect(server.clientAddress.port, TRUST);
    expect(after.getPeerX509Certificate()?.fingerprint256).toBe(fingerprintOf(ROTATED));
    const late = new Collector(after);
    after.write('3\n');
    await waitUntil(() => server.maze.stats().clientsConnected === 2, 'the second client');

    source.write('1|B\n2|P|1|3\n');
    await early.waitForLength(12);
    await late.waitForLength(12);
    expect(early.text).toBe('1|B\n2|P|1|3\n');
    expect(late.text).toBe('1|B\n2|P|1|3\n');
  });

  it('keeps the material in force when a reload is bad', async () => {
    const tls = new ServerTls({ ...SERVER, eventCa: pem('ca.pem') });
    const server = await serve(tls);
    const bad: readonly [string, TlsMaterial][] = [
      ['a key of another certificate', { ...ROTATED, key: SERVER.key, eventCa: pem('ca.pem') }],
      ['no PEM', { ...ROTATED, cert: 'not a certificate', eventCa: pem('ca.pem') }],
      ['a CA without certificates', { ...ROTATED, eventCa: pem('ca-key.pem') }],
      ['no CA where one was', ROTATED],
    ];
    for (const [what, material] of bad) {
      expect([what, codeThrown(() => tls.reload(material))]).toEqual([what, ErrorCode.TlsReload]);
    }
    const client = await tlsConnect(server.clientAddress.port, TRUST);
    expect(client.getPeerX509Certificate()?.fingerprint256).toBe(fingerprintOf(SERVER));
    expect(tls.requiresCertificate('event')).toBe(true);
  });

  it('refuses material that does not make a server context at start', () => {
    for (const material of [
      { ...SERVER, key: pem('source-key.pem') },
      { ...SERVER, cert: 'hello' },
      { ...SERVER, clientCa: 'garbage' },
    ]) {
      expect(codeThrown(() => new ServerTls(material))).toBe(ErrorCode.InvalidOption);
    }
  });
});

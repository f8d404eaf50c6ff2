/**
 * `listen()` over real TCP on 127.0.0.1 (docs/protocol.md §1, 5-7): dozens of clients, tens of thousands
 * of shuffled events, every client's stream checked exactly against the reference model.
 * Every wait is bounded; every socket and server is closed.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, type Problem } from '../../lib/errors.js';
import { listen, type MazeServer } from '../../lib/net/listen.js';
import { expectedDeliveries, type ModelOp } from '../helpers/model.js';
import { type TcpPeer, useTcpPeers, waitUntil, withTimeout } from '../helpers/sockets.js';
import { generateEventLines, mulberry32, randomInt, shuffleInBatches } from '../helpers/streams.js';

const peers = useTcpPeers();
let servers: MazeServer[] = [];

async function startServer(options: Parameters<typeof listen>[0] = {}): Promise<MazeServer> {
  const server = await listen({ eventPort: 0, clientPort: 0, ...options });
  servers.push(server);
  return server;
}

afterEach(async () => {
  await withTimeout(
    Promise.all(servers.map((server) => server.close())),
    10_000,
    'the servers to close',
  );
  servers = [];
});

describe('listen() over TCP', () => {
  it('binds both ports on 127.0.0.1 and reports the bound addresses', async () => {
    const server = await startServer();
    expect(server.eventAddress.address).toBe('127.0.0.1');
    expect(server.clientAddress.address).toBe('127.0.0.1');
    expect(server.eventAddress.port).toBeGreaterThan(0);
    expect(server.clientAddress.port).not.toBe(server.eventAddress.port);
  });

  it('delivers tens of thousands of shuffled events exactly to dozens of clients', async () => {
    const server = await startServer();
    const rng = mulberry32(2024);
    const users = 30;
    const ops: ModelOp[] = [];
    const clients = new Map<number, TcpPeer>();
    // 45 connections over 30 users: some users have two or three connections.
    for (let connection = 1; connection <= 45; connection++) {
      const user = connection <= users ? connection : randomInt(rng, 1, users);
      ops.push({ kind: 'connect', connection, user });
      const peer = await peers.connect(server.clientAddress.port);
      peer.socket.write(connection % 2 === 0 ? `${user}\r\n` : `${user}\n`);
      clients.set(connection, peer);
    }
    await waitUntil(() => server.maze.stats().clientsConnected === 45, '45 identified clients');

    const lines = shuffleInBatches(
      generateEventLines({ count: 40_000, users, seed: 7, terminator: '\n' }),
      100,
      rng,
    ).map((line, i) => (i % 7 === 0 ? line.replace('\n', '\r\n') : line));
    for (const line of lines) ops.push({ kind: 'line', line });
    const expected = expectedDeliveries(ops);

    const source = await peers.connect(server.eventAddress.port);
    // Uneven writes, so lines are cut at arbitrary points on the way.
    const text = lines.join('');
    for (let at = 0; at < text.length; ) {
      const size = randomInt(rng, 1, 5_000);
      source.socket.write(text.slice(at, at + size));
      at += size;
    }
    source.socket.end();

    for (const [connection, peer] of clients) {
      const want = (expected.get(connection) ?? []).join('');
      await peer.received.waitForLength(want.length, 20_000);
      expect(peer.received.text.length).toBe(want.length);
      if (peer.received.text !== want) {
        expect({ connection, lines: peer.received.lines }).toEqual({
          connection,
          lines: expected.get(connection),
        });
      }
    }
    const stats = server.maze.stats();
    expect(stats).toMatchObject({ eventsApplied: 40_000, pending: 0, nextSequence: 40_001 });
    expect(stats.notificationsSent).toBe(
      [...expected.values()].reduce((sum, received) => sum + received.length, 0),
    );
  });

  it('keeps serving when a client leaves mid-stream', async () => {
    const server = await startServer();
    const leaving = await peers.connect(server.clientAddress.port);
    const staying = await peers.connect(server.clientAddress.port);
    leaving.socket.write('1\n');
    staying.socket.write('2\n');
    await waitUntil(() => server.maze.stats().clientsConnected === 2, 'two clients');
    const source = await peers.connect(server.eventAddress.port);
    source.socket.write('1|B\n');
    await leaving.received.waitForLength(4);
    // A closed socket looks half-closed to the server until a write to it is refused (the
    // first write draws the peer's reset, the second fails).
    leaving.socket.destroy();
    source.socket.write('2|B\n');
    await staying.received.waitForLength(4 + 4);
    source.socket.write('3|B\n');
    await waitUntil(() => server.maze.stats().clientsConnected === 1, 'one client');
    source.socket.write('4|P|1|2\n');
    await staying.received.waitForLength(4 + 4 + 4 + 8);
    expect(staying.received.text).toBe('1|B\n2|B\n3|B\n4|P|1|2\n');
  });

  it('refuses a second event source and accepts one after the first leaves', async () => {
    const server = await startServer();
    const problems: Problem[] = [];
    server.maze.on('problem', (problem) => problems.push(problem));
    const client = await peers.connect(server.clientAddress.port);
    client.socket.write('1\n');
    await waitUntil(() => server.maze.stats().clientsConnected === 1, 'the client');
    const first = await peers.connect(server.eventAddress.port);
    first.socket.write('1|B\n');
    await client.received.waitForLength(4);
    const second = await peers.connect(server.eventAddress.port);
    second.socket.write('2|B\n');
    await second.received.waitForEnd();
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.EventSourceBusy]);
    await first.close();
    await waitUntil(() => !server.maze.stats().eventSourceConnected, 'the first source to go');
    const third = await peers.connect(server.eventAddress.port);
    third.socket.write('2|B\n');
    await client.received.waitForLength(8);
    expect(client.received.text).toBe('1|B\n2|B\n');
  });

  it('rejects with ERR_LISTEN when a port is in use, leaving nothing open', async () => {
    const server = await startServer();
    const attempt = listen({ eventPort: 0, clientPort: server.clientAddress.port });
    await expect(attempt).rejects.toMatchObject({
      code: ErrorCode.ListenFailed,
      message: expect.stringMatching(/address already in use \(EADDRINUSE\)/),
    });
  });

  it('splits on its delimiter over TCP; a bad one rejects with ERR_INVALID_OPTION', async () => {
    const server = await startServer({ delimiter: '\xa7' });
    const client = await peers.connect(server.clientAddress.port);
    client.socket.write('2\n');
    await waitUntil(() => server.maze.stats().clientsConnected === 1, 'the client');
    const source = await peers.connect(server.eventAddress.port);
    // The byte 0xA7, not its two-byte UTF-8 form.
    source.socket.write(Buffer.from('1\xa7P\xa71\xa72\n', 'latin1'));
    await client.received.waitForLength(8);
    expect(client.received.text).toBe('1\xa7P\xa71\xa72\n');
    await expect(listen({ eventPort: 0, clientPort: 0, delimiter: '\r' })).rejects.toMatchObject({
      code: ErrorCode.InvalidOption,
      message: expect.stringMatching(/^delimiter must be one character/),
    });
  });

  it('rejects a bad port with ERR_INVALID_OPTION', async () => {
    await expect(listen({ eventPort: 70_000 })).rejects.toMatchObject({
      code: ErrorCode.InvalidOption,
    });
  });

  it('drops a TCP client that stops reading, and the others get everything', async () => {
    const server = await startServer({ clientBufferLimit: 64 * 1024, slowClientTimeout: 200 });
    const problems: Problem[] = [];
    server.maze.on('problem', (problem) => problems.push(problem));
    const stuck = await peers.connect(server.clientAddress.port);
    const reader = await peers.connect(server.clientAddress.port);
    stuck.socket.write('1\n');
    reader.socket.write('2\n');
    await waitUntil(() => server.maze.stats().clientsConnected === 2, 'two clients');
    stuck.socket.pause();
    const source = await peers.connect(server.eventAddress.port);
    // Long status updates (~10 MB) so the kernel buffers of the stuck socket fill up first.
    const star = Number.MAX_SAFE_INTEGER;
    const events = 400_000;
    let text = `1|F|1|${star}\n2|F|2|${star}\n`;
    for (let i = 3; i <= events; i++) text += `${i}|S|${star}\n`;
    source.socket.end(text);
    const want = text.slice(text.indexOf('3|S'));
    await reader.received.waitForLength(want.length, 30_000);
    expect(reader.received.text === want).toBe(true);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientSlow]);
    expect(server.maze.stats()).toMatchObject({ slowClientDisconnects: 1, eventsApplied: events });
  });
});

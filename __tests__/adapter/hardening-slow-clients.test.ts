/**
 * Hardening, slow clients over real sockets (docs/protocol.md §6): a client that stops reading pauses
 * the event source once its buffer limit is reached, so nobody loses anything and the
 * server's memory stays bounded; one stuck past the slow-client timeout is dropped with
 * `ERR_CLIENT_SLOW` and everybody else goes on; a slow reader under the timeout loses nothing.
 */
import { describe, expect, it } from '@jest/globals';
import { createMaze } from '../../lib/adapter/maze.js';
import { ErrorCode, type Problem } from '../../lib/errors.js';
import { MiB, retainedBytes } from '../helpers/memory.js';
import { expectedDeliveries, type ModelOp } from '../helpers/model.js';
import {
  attachMemoryClient,
  attachMemorySource,
  deliveryMismatch,
  identifyUsers,
  lineOps,
  pump,
  randomChunker,
  sleep,
  type TcpMaze,
  useTcpMazes,
  waitForClientEvent,
  waitUntil,
} from '../helpers/sockets.js';
import { generateEventLines, mulberry32 } from '../helpers/streams.js';

const startMaze = useTcpMazes();
const BUFFER_LIMIT = 256 * 1024;

/**
 * About `megabytes` MiB of valid events for users 1..4, mostly broadcasts, each padded to
 * ~1 KiB with leading zeros in its sequence number (still valid: ids may have them), so a
 * few thousand events fill socket buffers quickly.
 */
function bulkyStream(megabytes: number, seed: number): string[] {
  const count = megabytes * 1024;
  return generateEventLines({
    count,
    users: 4,
    seed,
    mix: { F: 10, U: 5, B: 60, P: 10, S: 15 },
  }).map((line) => '0'.repeat(1_000 - line.length) + line);
}

/** Cuts the stream into the random pieces a source writes (prepared before measuring memory). */
function pieces(lines: readonly string[], seed: number): Buffer[] {
  const text = lines.join('');
  return randomChunker(
    mulberry32(seed),
    64 * 1024,
  )(text).map((piece) => Buffer.from(piece, 'latin1'));
}

/**
 * Connects a source and sends `chunks`, honouring backpressure. The returned promise is
 * marked handled, so a test that fails before awaiting it leaves no unhandled rejection.
 */
function send(maze: TcpMaze, chunks: readonly Buffer[], ms: number): Promise<void> {
  const sending = maze.connectSource().then((source) => pump(source.socket, chunks, ms));
  sending.catch(() => undefined);
  return sending;
}

describe('slow clients over TCP', () => {
  it('pauses the source at the buffer limit of a stalled client; nothing lost, memory bounded', async () => {
    const maze = await startMaze({ clientBufferLimit: BUFFER_LIMIT, slowClientTimeout: 20_000 });
    const { clients, ops } = await identifyUsers(maze, [1, 2, 3, 4, 3]);
    const stalled = clients.get(1);
    if (stalled === undefined) throw new Error('no client 1');
    stalled.socket.pause();
    const lines = bulkyStream(24, 1);
    const chunks = pieces(lines, 1);
    const before = retainedBytes();
    const sending = send(maze, chunks, 30_000);

    await waitUntil(() => maze.maze.stats().eventSourcePaused, 'the source to pause', 10_000);
    const heldAt = maze.maze.stats().eventsReceived;
    await sleep(300);
    const stats = maze.maze.stats();
    // Held: not one more line read while the stalled client is over its limit.
    expect(stats).toMatchObject({
      eventsReceived: heldAt,
      eventSourcePaused: true,
      clientsOverLimit: 1,
    });
    expect(heldAt).toBeLessThan(lines.length);
    // Its queue is its limit plus at most one input chunk's worth of output.
    const queued = maze.serverSockets.get(stalled.connection)?.writableLength ?? -1;
    expect(queued).toBeGreaterThan(BUFFER_LIMIT);
    expect(queued).toBeLessThan(BUFFER_LIMIT + 128 * 1024);
    // The readers are all caught up: nothing else is queued in the server.
    for (const [connection, client] of clients) {
      if (connection === 1) continue;
      await waitUntil(
        () => maze.serverSockets.get(client.connection)?.writableLength === 0,
        `client ${connection} to be flushed`,
      );
    }
    // And the rest of the 24 MiB waits in the source's socket, not in the server: what this
    // process retains grew by what the test's readers collected and little more.
    const collected = [...clients.values()].reduce(
      (sum, client) => sum + client.received.text.length,
      0,
    );
    // The resume history is bounded on its own (resumeBytes) and left out.
    const history = maze.maze.stats().resumeHistoryBytes;
    expect(retainedBytes() - before - collected - history).toBeLessThan(4 * MiB);

    stalled.socket.resume();
    await sending;
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    expect(await deliveryMismatch(clients, expected, 20_000)).toBeUndefined();
    expect(maze.problems).toEqual([]);
    expect(maze.maze.stats()).toMatchObject({
      eventsApplied: lines.length,
      eventSourcePaused: false,
      clientsOverLimit: 0,
      slowClientDisconnects: 0,
    });
  });

  it('drops a client stuck past the slow-client timeout; a late reader and the rest get everything', async () => {
    const timeout = 500;
    const maze = await startMaze({ clientBufferLimit: BUFFER_LIMIT, slowClientTimeout: timeout });
    const { clients, ops } = await identifyUsers(maze, [1, 2, 3, 4, 2]);
    const stuck = clients.get(1);
    const late = clients.get(2);
    if (stuck === undefined || late === undefined) throw new Error('no clients 1 and 2');
    stuck.socket.pause();
    late.socket.pause();
    const dropped = waitForClientEvent(maze.maze, 'clientClosed', stuck.connection, 10_000);
    const lines = bulkyStream(24, 2);
    const chunks = pieces(lines, 2);
    const sendStart = Date.now();
    const sending = send(maze, chunks, 30_000);

    await waitUntil(() => maze.maze.stats().eventSourcePaused, 'the source to pause', 10_000);
    const pausedAt = Date.now();
    // The late reader catches up well within the timeout: it is not dropped.
    await sleep(100);
    late.socket.resume();
    expect(await dropped).toMatchObject({ connection: stuck.connection, userId: 1 });
    // Not before the timeout, and not much after it either.
    const droppedAt = Date.now();
    expect(droppedAt - sendStart).toBeGreaterThanOrEqual(timeout);
    expect(droppedAt - pausedAt).toBeLessThan(timeout + 2_000);
    await sending;

    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    const others = new Map([...clients].filter(([connection]) => connection !== 1));
    const othersExpected = new Map([...expected].filter(([connection]) => connection !== 1));
    expect(await deliveryMismatch(others, othersExpected, 20_000)).toBeUndefined();
    expect(maze.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientSlow,
        context: { connection: stuck.connection, userId: 1 },
      }),
    ]);
    expect(maze.maze.stats()).toMatchObject({
      eventsApplied: lines.length,
      slowClientDisconnects: 1,
      clientsConnected: 4,
      eventSourcePaused: false,
    });
    // What the stuck client got before it was dropped is a prefix of its share (the socket
    // was destroyed, so its last line may be cut where the kernel stopped taking bytes).
    stuck.socket.resume();
    await stuck.received.waitForEnd();
    const want = (expected.get(1) ?? []).join('');
    expect(want.startsWith(stuck.received.text)).toBe(true);
    expect(stuck.received.text.length).toBeLessThan(want.length);
  });

  it('releases the source at once when a stalled client goes away by itself', async () => {
    const maze = await startMaze({ clientBufferLimit: BUFFER_LIMIT, slowClientTimeout: 20_000 });
    const { clients, ops } = await identifyUsers(maze, [1, 2, 3]);
    const stalled = clients.get(1);
    if (stalled === undefined) throw new Error('no client 1');
    stalled.socket.pause();
    const lines = bulkyStream(16, 5);
    const sending = send(maze, pieces(lines, 5), 10_000);
    await waitUntil(() => maze.maze.stats().eventSourcePaused, 'the source to pause', 10_000);
    const closed = waitForClientEvent(maze.maze, 'clientClosed', stalled.connection);
    stalled.socket.destroy();
    await closed;
    // Long before the 20 s timeout: the rest goes through, exactly, with nothing reported.
    await sending;
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    const others = new Map([...clients].filter(([connection]) => connection !== 1));
    const othersExpected = new Map([...expected].filter(([connection]) => connection !== 1));
    expect(await deliveryMismatch(others, othersExpected, 10_000)).toBeUndefined();
    expect(maze.maze.stats()).toMatchObject({
      eventsApplied: lines.length,
      eventSourcePaused: false,
      clientsOverLimit: 0,
      slowClientDisconnects: 0,
    });
    // Closing with unread data resets the connection: at most that is reported.
    expect(maze.problems.filter((problem) => problem.code !== ErrorCode.StreamError)).toEqual([]);
  });

  it('a slow but reading client under the timeout loses nothing', async () => {
    const maze = await startMaze({ clientBufferLimit: 64 * 1024, slowClientTimeout: 3_000 });
    const { clients, ops } = await identifyUsers(maze, [1, 2, 3]);
    const slow = clients.get(1);
    if (slow === undefined) throw new Error('no client 1');
    // Reads for 2 ms out of every 20.
    let throttle: NodeJS.Timeout | undefined;
    const readFor = (ms: number): void => {
      slow.socket.resume();
      throttle = setTimeout(() => {
        slow.socket.pause();
        throttle = setTimeout(() => readFor(2), 18);
      }, ms);
    };
    const lines = bulkyStream(12, 3);
    try {
      // It starts reading only once it has held the source, so the run always has
      // backpressure however fast or slow this machine is right now.
      slow.socket.pause();
      const sending = send(maze, pieces(lines, 3), 30_000);
      await waitUntil(() => maze.maze.stats().eventSourcePaused, 'the source to pause', 10_000);
      readFor(2);
      await sending;
      const expected = expectedDeliveries([...ops, ...lineOps(lines)] as ModelOp[]);
      expect(await deliveryMismatch(clients, expected, 20_000)).toBeUndefined();
    } finally {
      clearTimeout(throttle);
      slow.socket.resume();
    }
    const stats = maze.maze.stats();
    expect(stats.eventSourcePauses).toBeGreaterThan(0);
    expect(stats).toMatchObject({ slowClientDisconnects: 0, eventsApplied: lines.length });
    expect(maze.problems).toEqual([]);
  });

  it('keeps a client that reads its way back under its limit in time, though never empty', async () => {
    // In memory, so the reader's pace is exact: 4 KB every 20 ms.
    const maze = createMaze({
      clientBufferLimit: 64 * 1024,
      slowClientTimeout: 250,
      shutdownTimeout: 100,
    });
    const problems: Problem[] = [];
    maze.on('problem', (problem) => problems.push(problem));
    try {
      const slow = await attachMemoryClient(maze, '1\n', { read: false });
      const source = attachMemorySource(maze);
      // Chunks of 8 events (~5 KB for this client): each time it crosses its limit it is
      // back under it after two reads (40 ms), but would need ~350 ms to empty its queue,
      // longer than the timeout.
      const lines = bulkyStream(1, 4).slice(0, 300);
      for (let at = 0; at < lines.length; at += 8) {
        source.peer.write(lines.slice(at, at + 8).join(''));
      }
      const reader = setInterval(
        () => slow.peer.read(Math.min(4_000, slow.peer.readableLength)),
        20,
      );
      try {
        const expected = expectedDeliveries([
          { kind: 'connect', connection: 1, user: 1 },
          ...lineOps(lines),
        ]);
        const total = (expected.get(1) ?? []).join('');
        await waitUntil(
          () => slow.received.text.length >= total.length || problems.length > 0,
          'every notification, or a problem',
          10_000,
        );
        expect(problems).toEqual([]);
        expect(slow.received.text === total).toBe(true);
      } finally {
        clearInterval(reader);
      }
      expect(problems).toEqual([]);
      // It went over its limit again and again, and was never dropped.
      expect(maze.stats().eventSourcePauses).toBeGreaterThan(1);
      expect(maze.stats().slowClientDisconnects).toBe(0);
    } finally {
      await maze.close();
    }
  });
});

describe('the total output budget over TCP', () => {
  const TOTAL = 1 * MiB;
  const STALLED = [1, 2, 3, 4, 5, 6, 7, 8];

  /** A maze whose total budget is far below the sum of its clients' own limits. */
  async function stalledCrowd(slowClientTimeout: number) {
    const maze = await startMaze({
      clientBufferLimit: 4 * MiB,
      totalBufferLimit: TOTAL,
      slowClientTimeout,
    });
    const { clients, ops } = await identifyUsers(maze, [...STALLED, 9]);
    for (const connection of STALLED) clients.get(connection)?.socket.pause();
    const queuedInAll = (): number =>
      [...clients.values()].reduce(
        (sum, client) => sum + (maze.serverSockets.get(client.connection)?.writableLength ?? 0),
        0,
      );
    return { maze, clients, ops, queuedInAll };
  }

  it('pauses the source when all queues together pass the budget, each under its own limit', async () => {
    const { maze, clients, ops, queuedInAll } = await stalledCrowd(20_000);
    const lines = bulkyStream(48, 3);
    const sending = send(maze, pieces(lines, 3), 60_000);

    await waitUntil(() => maze.maze.stats().eventSourcePaused, 'the source to pause', 20_000);
    const heldAt = maze.maze.stats().eventsReceived;
    await sleep(200);
    expect(maze.maze.stats()).toMatchObject({
      eventsReceived: heldAt,
      clientsOverLimit: 0,
      outputOverBudget: true,
    });
    expect(heldAt).toBeLessThan(lines.length);
    // Over the budget by at most one input chunk's output per client.
    expect(queuedInAll()).toBeGreaterThan(TOTAL);
    expect(queuedInAll()).toBeLessThan(TOTAL + STALLED.length * 128 * 1024);

    for (const connection of STALLED) clients.get(connection)?.socket.resume();
    await sending;
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    expect(await deliveryMismatch(clients, expected, 30_000)).toBeUndefined();
    expect(maze.problems).toEqual([]);
    expect(maze.maze.stats()).toMatchObject({ outputOverBudget: false, slowClientDisconnects: 0 });
  });

  it('drops the largest queues first once over budget past the timeout; the reader gets everything', async () => {
    const { maze, clients, ops } = await stalledCrowd(300);
    const lines = bulkyStream(48, 4);
    const sending = send(maze, pieces(lines, 4), 60_000);
    await sending;
    const reader = new Map([...clients].filter(([connection]) => connection === 9));
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    const readerExpected = new Map([...expected].filter(([connection]) => connection === 9));
    expect(await deliveryMismatch(reader, readerExpected, 30_000)).toBeUndefined();

    const drops = maze.problems.filter((problem) => problem.code === ErrorCode.ClientSlow);
    expect(drops.length).toBeGreaterThan(0);
    expect(maze.codes().every((code) => code === ErrorCode.ClientSlow)).toBe(true);
    for (const drop of drops) {
      expect(drop.message).toMatch(/largest queue .* total buffer limit/);
      expect(STALLED).toContain(drop.context.userId);
    }
    expect(maze.maze.stats()).toMatchObject({
      eventsApplied: lines.length,
      slowClientDisconnects: drops.length,
      outputOverBudget: false,
    });
  });
});

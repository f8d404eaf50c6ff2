/**
 * Hardening, the event source lifecycle over real sockets (docs/protocol.md §7): a second concurrent
 * source is refused and none of its lines is applied; a source that goes away mid-stream
 * (cleanly or by a reset) and comes back resumes exactly where it left off, pending events
 * included; `resetOnDisconnect` starts every source from scratch instead. A silent holder,
 * or one sending only empty or invalid lines, gives way to a new source after
 * `sourceIdleTimeout`; one sending valid events or paused by backpressure never does,
 * and accepted event sockets have TCP keepalive.
 */
import { Socket } from 'node:net';
import { describe, expect, it, jest } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';
import { EVENT_SOURCE_KEEPALIVE_MS } from '../../lib/net/ports.js';
import { expectedDeliveries } from '../helpers/model.js';
import {
  deliveryMismatch,
  identifyUsers,
  lineOps,
  pump,
  randomChunker,
  sleep,
  useTcpMazes,
  waitUntil,
} from '../helpers/sockets.js';
import { generateEventLines, mulberry32, randomInt, shuffleInBatches } from '../helpers/streams.js';

const startMaze = useTcpMazes();

describe('event source lifecycle over TCP', () => {
  it('refuses a second concurrent source without applying any of its lines; it may retry later', async () => {
    const maze = await startMaze();
    const { clients, ops } = await identifyUsers(maze, [1, 2]);
    const first = await maze.connectSource();
    first.socket.write('1|F|1|2\n');
    await waitUntil(() => maze.maze.stats().eventsApplied === 1, 'event 1');

    const intruder = await maze.connectSource();
    // Exactly the numbers the first source is about to send, and a lot more.
    const intruding = generateEventLines({ count: 20_000, users: 2, seed: 4, start: 2 }).join('');
    intruder.socket.write(`2|B\n3|P|2|1\n${intruding}`);
    await intruder.received.waitForEnd();
    expect(maze.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.EventSourceBusy,
        context: { connection: 'event-source#2' },
      }),
    ]);

    const lines = ['1|F|1|2\n', '2|S|2\n', '3|P|1|2\n', '4|B\n'];
    first.socket.write(lines.slice(1).join(''));
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    expect(await deliveryMismatch(clients, expected)).toBeUndefined();
    expect(maze.maze.stats()).toMatchObject({
      eventsReceived: 4,
      eventsApplied: 4,
      eventSourcesAccepted: 1,
      eventSourcesRefused: 1,
    });

    // Once the first has gone, the refused one may retry and is accepted.
    await first.close();
    await maze.sourceReleased();
    const retry = await maze.connectSource();
    retry.socket.write('5|B\n');
    const all = [...lines, '5|B\n'];
    expect(
      await deliveryMismatch(clients, expectedDeliveries([...ops, ...lineOps(all)])),
    ).toBeUndefined();
    expect(maze.maze.stats()).toMatchObject({ eventSourcesAccepted: 2, eventSourcesRefused: 1 });
  });

  it('resumes exactly where a source left off, across clean ends and resets, pending events included', async () => {
    const maze = await startMaze();
    const { clients, ops } = await identifyUsers(maze, [1, 2, 3, 4, 5, 6, 2]);
    const rng = mulberry32(77);
    // Shuffled in batches, so most cuts leave events waiting in the reorder buffer.
    const lines = shuffleInBatches(
      generateEventLines({ count: 12_000, users: 6, seed: 77 }),
      40,
      rng,
    );
    let sent = 0;
    let cutsWithPending = 0;
    for (let session = 0; sent < lines.length; session++) {
      const segment = lines.slice(sent, sent + randomInt(rng, 200, 1_500));
      sent += segment.length;
      // A source that is reset gets cut mid-line: the next one sends that line again whole.
      const reset = session % 3 === 2;
      const cutLine = reset ? (lines[sent] ?? '') : '';
      const text = segment.join('') + cutLine.slice(0, Math.ceil(cutLine.length / 2));
      const source = await maze.connectSource();
      await pump(source.socket, randomChunker(rng, 2_000)(text));
      await waitUntil(() => maze.maze.stats().eventsReceived === sent, `${sent} lines read`);
      if (maze.maze.stats().pending > 0) cutsWithPending++;
      if (reset) {
        await sleep(10);
        source.socket.resetAndDestroy();
      } else {
        source.socket.end();
      }
      await maze.sourceReleased();
    }
    expect(cutsWithPending).toBeGreaterThan(3);
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    expect(await deliveryMismatch(clients, expected, 10_000)).toBeUndefined();
    expect(maze.maze.stats()).toMatchObject({
      eventsApplied: 12_000,
      eventsDiscarded: 0,
      pending: 0,
      nextSequence: 12_001,
    });
    // A reset is a stream error (reported), and its cut-off line is dropped, not applied;
    // a clean end is not a problem at all.
    expect(maze.codes().every((code) => code === ErrorCode.StreamError)).toBe(true);
    expect(maze.codes().length).toBeGreaterThan(0);
  });

  it('starts every source from scratch with resetOnDisconnect', async () => {
    const maze = await startMaze({ resetOnDisconnect: true });
    const { clients, ops } = await identifyUsers(maze, [1, 2]);
    const sessions = [
      // 1 follows 2; 4 and 5 wait for the missing 3 when the source leaves.
      ['1|F|1|2\n', '2|S|2\n', '4|B\n', '5|P|2|1\n'],
      // A fresh stream: numbers start at 1 again, 1 follows nobody, 4 and 5 are gone.
      ['1|S|2\n', '2|B\n', '3|F|2|1\n', '4|S|1\n'],
    ];
    for (const [index, session] of sessions.entries()) {
      const source = await maze.connectSource();
      source.socket.write(session.join(''));
      const received = 4 * (index + 1);
      await waitUntil(() => maze.maze.stats().eventsReceived === received, `${received} lines`);
      source.socket.end();
      await maze.sourceReleased();
      expect(maze.maze.stats()).toMatchObject({ nextSequence: 1, pending: 0, followEdges: 0 });
    }
    // Each session on its own, as the model sees a fresh stream.
    const first = expectedDeliveries([...ops, ...lineOps(sessions[0] ?? [])]);
    const second = expectedDeliveries([...ops, ...lineOps(sessions[1] ?? [])]);
    const expected = new Map(
      [...first].map(([connection, lines]) => [
        connection,
        [...lines, ...(second.get(connection) ?? [])],
      ]),
    );
    expect(expected.get(1)).toEqual(['2|S|2\n', '2|B\n', '3|F|2|1\n']);
    expect(expected.get(2)).toEqual(['1|F|1|2\n', '2|B\n', '4|S|1\n']);
    expect(await deliveryMismatch(clients, expected)).toBeUndefined();
    expect(maze.maze.stats()).toMatchObject({ eventsReceived: 8, eventsDiscarded: 2 });
    expect(maze.problems).toEqual([]);
  });
});

describe('idle event source over TCP', () => {
  it('lets a new source take over from a silent holder after the idle timeout, and refuses one before', async () => {
    const maze = await startMaze({ sourceIdleTimeout: 300 });
    const { clients, ops } = await identifyUsers(maze, [1, 2]);
    // Connects and never sends a byte.
    const silent = await maze.connectSource();
    await waitUntil(() => maze.maze.stats().eventSourceConnected, 'the silent source to attach');
    const early = await maze.connectSource();
    await early.received.waitForEnd();
    expect(maze.codes()).toEqual([ErrorCode.EventSourceBusy]);

    await sleep(400);
    const real = await maze.connectSource();
    const lines = ['1|F|1|2\n', '2|S|2\n', '3|B\n'];
    real.socket.write(lines.join(''));
    expect(
      await deliveryMismatch(clients, expectedDeliveries([...ops, ...lineOps(lines)])),
    ).toBeUndefined();
    expect(maze.problems.slice(1)).toEqual([
      expect.objectContaining({
        code: ErrorCode.EventSourceIdle,
        context: { connection: 'event-source#1', lineNumber: 0 },
      }),
    ]);
    // The silent holder is closed by the server.
    await silent.received.waitForEnd();
    expect(maze.maze.stats()).toMatchObject({
      eventSourcesAccepted: 2,
      eventSourcesRefused: 1,
      eventSourceTakeovers: 1,
      eventSourceConnected: true,
      eventsApplied: 3,
    });
  });

  // What an idle holder could keep the slot with, were any byte activity: a line every 100 ms
  // with a timeout of 300 ms, as one every 3 s would with the default 10 s.
  it.each([
    ['empty lines', ['\n', '\r\n']],
    ['invalid lines', ['x\n', '|B\n', '9|Q\n', '9|F|1\n', '1|X|y\n']],
  ])('lets a returning source take over from a holder sending only %s', async (_, junk) => {
    const maze = await startMaze({ sourceIdleTimeout: 300 });
    const { clients, ops } = await identifyUsers(maze, [1, 2]);
    const first = await maze.connectSource();
    first.socket.write('1|F|1|2\n');
    await waitUntil(() => maze.maze.stats().eventsApplied === 1, 'event 1');
    first.socket.end();
    await waitUntil(() => !maze.maze.stats().eventSourceConnected, 'the source to leave');

    const holder = await maze.connectSource();
    let sent = 0;
    const junkTimer = setInterval(() => {
      holder.socket.write(junk[sent++ % junk.length] as string);
    }, 100);
    try {
      await waitUntil(() => maze.maze.stats().eventSourceConnected, 'the holder to attach');
      await sleep(500);
      expect(sent).toBeGreaterThanOrEqual(3);
      const returning = await maze.connectSource();
      const lines = ['2|S|2\n', '3|B\n'];
      returning.socket.write(lines.join(''));
      expect(
        await deliveryMismatch(
          clients,
          expectedDeliveries([...ops, ...lineOps(['1|F|1|2\n', ...lines])]),
        ),
      ).toBeUndefined();
      expect(maze.problems).toContainEqual(
        expect.objectContaining({
          code: ErrorCode.EventSourceIdle,
          message: expect.stringMatching(/^event source sent no valid event for \d+ ms/),
          context: expect.objectContaining({ connection: 'event-source#2' }),
        }),
      );
      await holder.received.waitForEnd();
      expect(maze.maze.stats()).toMatchObject({
        eventSourceTakeovers: 1,
        eventSourcesRefused: 0,
        eventsApplied: 3,
      });
    } finally {
      clearInterval(junkTimer);
    }
  });

  it('keeps the slot for a holder sending valid events, stale ones included', async () => {
    const maze = await startMaze({ sourceIdleTimeout: 300 });
    const holder = await maze.connectSource();
    let sequence = 0;
    // New numbers and repeats of number 1 (stale once applied), one every 100 ms.
    const eventTimer = setInterval(() => {
      sequence++;
      holder.socket.write(sequence % 2 === 0 ? '1|B\n' : `${(sequence + 1) / 2}|B\n`);
    }, 100);
    try {
      await waitUntil(() => maze.maze.stats().eventSourceConnected, 'the holder to attach');
      await sleep(500);
      expect(sequence).toBeGreaterThanOrEqual(3);
      const newcomer = await maze.connectSource();
      await newcomer.received.waitForEnd();
      expect(maze.codes().filter((code) => code !== ErrorCode.EventStale)).toEqual([
        ErrorCode.EventSourceBusy,
      ]);
      expect(maze.maze.stats()).toMatchObject({ eventSourceTakeovers: 0, eventSourcesRefused: 1 });
    } finally {
      clearInterval(eventTimer);
    }
  });

  it('never takes over from a holder paused by backpressure, however long it waits', async () => {
    const maze = await startMaze({
      sourceIdleTimeout: 200,
      clientBufferLimit: 64 * 1024,
      slowClientTimeout: 20_000,
    });
    const { clients } = await identifyUsers(maze, [1]);
    const stalled = clients.get(1);
    if (stalled === undefined) throw new Error('no client 1');
    stalled.socket.pause();
    const holder = await maze.connectSource();
    // 4 KiB broadcasts (leading zeros) until the stalled client's buffers hold the source.
    const padded = (sequence: number): string => {
      const line = `${sequence}|B\n`;
      return `${'0'.repeat(4096 - line.length)}${line}`;
    };
    const sending = pump(
      holder.socket,
      Array.from({ length: 8_000 }, (_, i) => padded(i + 1)),
      20_000,
    );
    sending.catch(() => undefined);
    await waitUntil(() => maze.maze.stats().eventSourcePaused, 'the source to pause', 10_000);
    await sleep(500);
    const newcomer = await maze.connectSource();
    await newcomer.received.waitForEnd();
    expect(maze.codes()).toEqual([ErrorCode.EventSourceBusy]);
    expect(maze.maze.stats()).toMatchObject({
      eventSourcePaused: true,
      eventSourceTakeovers: 0,
      eventSourcesRefused: 1,
    });
    // Once the client reads again, the same holder goes on and everything arrives.
    stalled.socket.resume();
    await sending;
    await waitUntil(() => maze.maze.stats().eventsApplied === 8_000, '8,000 events', 20_000);
    await stalled.received.waitForLength(8_000 * 4096, 20_000);
    expect(maze.maze.stats().eventSourceTakeovers).toBe(0);
  });

  it('turns TCP keepalive on for every accepted event source socket', async () => {
    const setKeepAlive = jest.spyOn(Socket.prototype, 'setKeepAlive');
    try {
      const maze = await startMaze();
      const source = await maze.connectSource();
      await waitUntil(() => maze.maze.stats().eventSourceConnected, 'the source to attach');
      const calls = setKeepAlive.mock.contexts.map((socket, index) => ({
        remotePort: (socket as Socket).remotePort,
        args: setKeepAlive.mock.calls[index],
      }));
      expect(calls).toContainEqual({
        remotePort: source.socket.localPort,
        args: [true, EVENT_SOURCE_KEEPALIVE_MS],
      });
    } finally {
      setKeepAlive.mockRestore();
    }
  });
});

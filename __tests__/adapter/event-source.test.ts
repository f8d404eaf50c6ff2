/**
 * The event source side of the adapter (docs/protocol.md §2, 7, 8): one source at a time, state kept or
 * reset across sources, the final unterminated line, over-long lines, stream errors, and
 * closing the maze.
 */

import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { defaultMaxClients } from '../../lib/adapter/descriptor-limit.js';
import { createMaze } from '../../lib/adapter/maze.js';
import { ErrorCode, MazeError } from '../../lib/errors.js';
import {
  attachMemoryClient,
  attachMemorySource,
  sleep,
  useMemoryMazes,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';
import { broadcasts } from '../helpers/streams.js';

const newMaze = useMemoryMazes();

describe('event source lifecycle', () => {
  it('refuses a second source while one is active, without applying its lines', async () => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, '1\n');
    const first = attachMemorySource(maze);
    const second = attachMemorySource(maze);
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.EventSourceBusy,
        context: { connection: second.connection },
      }),
    ]);
    await withTimeout(
      new Promise((resolve) => second.peer.once('end', resolve)),
      1_000,
      'the refused source to be ended',
    );
    second.peer.write('1|B\n');
    first.peer.write('2|B\n');
    await sleep(20);
    expect(client.received.text).toBe('');
    first.peer.write('1|B\n');
    await client.received.waitForLength(8);
    expect(client.received.text).toBe('1|B\n2|B\n');
    expect(maze.stats()).toMatchObject({ eventSourcesAccepted: 1, eventSourcesRefused: 1 });
  });

  it('keeps the graph, the position and pending events for the next source', async () => {
    const { maze } = newMaze();
    const client = await attachMemoryClient(maze, '1\n');
    const first = attachMemorySource(maze);
    first.peer.write('1|F|1|2\n3|S|2\n');
    await waitUntil(() => maze.stats().eventsReceived === 2, 'two lines');
    await first.end();
    expect(maze.stats()).toMatchObject({
      pending: 1,
      nextSequence: 2,
      eventSourceConnected: false,
    });
    const second = attachMemorySource(maze);
    second.peer.write('2|B\n');
    await client.received.waitForLength(10);
    expect(client.received.text).toBe('2|B\n3|S|2\n');
    expect(second.connection).toBe('event-source#2');
  });

  it('resets the state between sources with resetOnDisconnect', async () => {
    const { maze } = newMaze({ resetOnDisconnect: true });
    const client = await attachMemoryClient(maze, '1\n');
    const first = attachMemorySource(maze);
    first.peer.write('1|F|1|2\n3|B\n');
    await waitUntil(() => maze.stats().eventsReceived === 2, 'two lines');
    await first.end();
    expect(maze.stats()).toMatchObject({ pending: 0, nextSequence: 1, followEdges: 0 });
    const second = attachMemorySource(maze);
    second.peer.write('1|S|2\n2|B\n');
    await client.received.waitForLength(4);
    await sleep(10);
    expect(client.received.text).toBe('2|B\n');
  });

  it('reports and discards a final unterminated fragment at a clean end', async () => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, '1\n');
    const source = attachMemorySource(maze);
    source.peer.write('1|B\n2|P|9|');
    source.peer.write('1');
    await source.end();
    await waitUntil(() => problems.length === 1, 'the fragment to be reported');
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.LineUnterminated,
        context: { connection: 'event-source#1', lineNumber: 2, line: '2|P|9|1' },
      }),
    ]);
    // The fragment consumed nothing: the whole line from the next source is applied.
    const next = attachMemorySource(maze);
    next.peer.write('2|P|9|1\n');
    await client.received.waitForLength(4 + 8);
    expect(client.received.text).toBe('1|B\n2|P|9|1\n');
  });

  it('drops a final unterminated line when the source fails', async () => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, '1\n');
    const stream = new PassThrough();
    maze.attachEventSource(stream);
    stream.write('1|B\n2|B');
    await waitUntil(() => maze.stats().eventsReceived === 1, 'one line');
    stream.destroy(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
    await waitUntil(() => !maze.stats().eventSourceConnected, 'the source to go');
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.StreamError,
        context: { connection: 'event-source#1', lineNumber: 1 },
      }),
    ]);
    expect(maze.stats().eventsReceived).toBe(1);
    expect(client.received.text).toBe('1|B\n');
    // The next source is accepted.
    const next = attachMemorySource(maze);
    next.peer.write('2|B\n');
    await client.received.waitForLength(8);
  });

  it('reports an over-long line with its number and applies the rest', async () => {
    const { maze, problems } = newMaze({ maxLineLength: 32 });
    const client = await attachMemoryClient(maze, '1\n');
    const source = attachMemorySource(maze);
    source.peer.write(`1|B\n${'9'.repeat(20)}`);
    source.peer.write(`${'9'.repeat(20)}|B\n2|B\n`);
    await client.received.waitForLength(8);
    expect(client.received.text).toBe('1|B\n2|B\n');
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.LineTooLong,
        context: expect.objectContaining({ connection: 'event-source#1', lineNumber: 2 }),
      }),
    ]);
    expect(maze.stats().linesTooLong).toBe(1);
  });

  it('adds the connection and line number to the core problems', async () => {
    const { maze, problems } = newMaze();
    const source = attachMemorySource(maze);
    source.peer.write('1|B\nnope\n1|B\n');
    await waitUntil(() => problems.length === 2, 'two problems');
    expect(problems.map((problem) => [problem.code, problem.context.lineNumber])).toEqual([
      [ErrorCode.EventBadSequence, 2],
      [ErrorCode.EventStale, 3],
    ]);
    expect(problems[1]?.context).toMatchObject({ connection: 'event-source#1', sequence: 1 });
  });
});

describe('idle event source takeover', () => {
  it('lets a new source take over from one idle longer than sourceIdleTimeout, not sooner', async () => {
    const { maze, problems } = newMaze({ sourceIdleTimeout: 100 });
    const client = await attachMemoryClient(maze, '1\n');
    const holder = attachMemorySource(maze);
    holder.peer.write('1|B\n2|B');
    await waitUntil(() => maze.stats().eventsReceived === 1, 'event 1');
    const early = attachMemorySource(maze);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.EventSourceBusy]);
    expect(problems[0]?.context.connection).toBe(early.connection);

    await sleep(150);
    const newcomer = attachMemorySource(maze);
    expect(problems.slice(1)).toEqual([
      expect.objectContaining({
        code: ErrorCode.EventSourceIdle,
        message: expect.stringContaining(`${newcomer.connection} takes over`),
        context: { connection: holder.connection, lineNumber: 1 },
      }),
      // The holder's cut-off line is discarded as at any end of a source.
      expect.objectContaining({
        code: ErrorCode.LineUnterminated,
        context: { connection: holder.connection, lineNumber: 2, line: '2|B' },
      }),
    ]);
    // Whatever the old holder still sends is never applied; the newcomer's lines are.
    holder.peer.write('|X\n3|B\n');
    newcomer.peer.write('2|B\n3|B\n');
    await client.received.waitForLength(12);
    expect(client.received.text).toBe('1|B\n2|B\n3|B\n');
    expect(maze.stats()).toMatchObject({
      eventSourcesAccepted: 2,
      eventSourcesRefused: 1,
      eventSourceTakeovers: 1,
      eventSourceConnected: true,
    });
  });

  it('never takes over with sourceIdleTimeout 0', async () => {
    const { maze, problems } = newMaze({ sourceIdleTimeout: 0 });
    attachMemorySource(maze);
    await sleep(30);
    attachMemorySource(maze);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.EventSourceBusy]);
    expect(maze.stats().eventSourceTakeovers).toBe(0);
  });
});

describe('closing the maze', () => {
  it('flushes buffered output, ends every stream and is idempotent', async () => {
    // The source stays open: close() reads it for the shutdown timeout, then closes it.
    const { maze } = newMaze({ shutdownTimeout: 200 });
    const clients = await Promise.all(
      [1, 2, 3].map((user) => attachMemoryClient(maze, `${user}\n`)),
    );
    const identifying = await attachMemoryClient(maze, undefined);
    const source = attachMemorySource(maze);
    const batch = broadcasts(5_000).join('');
    source.peer.write(batch);
    await waitUntil(() => maze.stats().eventsApplied === 5_000, 'every event');
    await withTimeout(Promise.all([maze.close(), maze.close()]), 2_000, 'close');
    for (const client of clients) {
      await client.received.waitForEnd();
      expect(client.received.text).toBe(batch);
    }
    await identifying.received.waitForEnd();
    expect(maze.closed).toBe(true);
    expect(() => maze.attachClient(new PassThrough())).toThrow(MazeError);
    expect(() => maze.attachEventSource(new PassThrough())).toThrow(/closed/);
  });

  it('destroys a client that does not take its output within the shutdown timeout', async () => {
    const { maze } = newMaze({ shutdownTimeout: 50, clientBufferLimit: 1 << 30 });
    const stuck = await attachMemoryClient(maze, '1\n', { read: false });
    const source = attachMemorySource(maze);
    const lines = broadcasts(20_000);
    for (let at = 0; at < lines.length; at += 500) {
      source.peer.write(lines.slice(at, at + 500).join(''));
    }
    await waitUntil(() => maze.stats().eventsApplied === 20_000, 'every event');
    const started = Date.now();
    await withTimeout(maze.close(), 2_000, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(maze.stats().clientsConnected).toBe(0);
    // It got what fit in the pipe, not everything: the rest was dropped after the timeout.
    stuck.peer.resume();
    await sleep(10);
    expect(stuck.received.text.length).toBeLessThan(lines.join('').length);
  });
});

describe('closing drains the event source', () => {
  it('reads the open source to its end, applies and delivers all of it, and takes no new one', async () => {
    const { maze, problems } = newMaze();
    const clients = await Promise.all([1, 2].map((user) => attachMemoryClient(maze, `${user}\n`)));
    const source = attachMemorySource(maze);
    const before = broadcasts(20_000).join('');
    const after = broadcasts(5_000, 20_001).join('');
    source.peer.write(before);
    const closed = maze.close();
    expect(() => maze.attachEventSource(new PassThrough())).toThrow(MazeError);
    // Still read after close(): everything the source sends until it ends is applied.
    await sleep(20);
    source.peer.end(after);
    await withTimeout(closed, 2_000, 'close');
    for (const client of clients) {
      await client.received.waitForEnd();
      expect(client.received.text).toBe(before + after);
    }
    expect(maze.stats()).toMatchObject({ eventsApplied: 25_000, eventSourcesAccepted: 1 });
    expect(problems).toEqual([]);
  });

  it('keeps backpressure while draining: a slow client holds the source, then gets everything', async () => {
    const { maze, problems } = newMaze({ clientBufferLimit: 4_096, slowClientTimeout: 10_000 });
    const slow = await attachMemoryClient(maze, '1\n', { read: false });
    const source = attachMemorySource(maze);
    // One chunk owing the client more than a flush: the rest of it waits while it is held.
    const batch = broadcasts(200_000).join('');
    source.peer.end(batch);
    const closed = maze.close();
    await waitUntil(() => maze.stats().eventSourcePaused, 'the source to be held');
    expect(maze.stats().eventsApplied).toBeLessThan(200_000);
    slow.peer.resume();
    await withTimeout(closed, 5_000, 'close');
    await slow.received.waitForEnd();
    expect(slow.received.text).toBe(batch);
    expect(problems).toEqual([]);
  });

  it('stops waiting for a source that never ends after shutdownTimeout, and reports what it drops', async () => {
    const { maze, problems } = newMaze({ shutdownTimeout: 100 });
    const client = await attachMemoryClient(maze, '1\n');
    const source = attachMemorySource(maze);
    // 2 waits for 1; `5|B` is a line still being sent.
    source.peer.write('3|B\n1|B\n2|P|9|1\n4|B\n5|B');
    await waitUntil(() => maze.stats().eventsReceived === 4, 'four lines');
    await withTimeout(maze.close(), 2_000, 'close');
    expect(problems).toEqual([
      {
        code: ErrorCode.ShutdownUndrained,
        message:
          'shut down with input not drained: the event source was still open after 100 ms (what it had not sent yet is lost), 3 byte(s) read but not applied; dropped',
        context: { connection: source.connection, lineNumber: 4 },
      },
    ]);
    await client.received.waitForEnd();
    expect(client.received.text).toBe('1|B\n2|P|9|1\n3|B\n4|B\n');
    await waitUntil(() => source.peer.readableEnded, 'the source to be ended');
  });

  it('reports events still waiting for a missing number when the source has ended', async () => {
    const { maze, problems } = newMaze();
    const source = attachMemorySource(maze);
    source.peer.write('1|B\n3|B\n4|B\n');
    await source.end();
    await withTimeout(maze.close(), 2_000, 'close');
    expect(problems).toEqual([
      {
        code: ErrorCode.ShutdownUndrained,
        message:
          'shut down with input not drained: 2 event(s) still waiting for sequence number 2; dropped',
        context: { sequence: 2 },
      },
    ]);
  });
});

describe('options', () => {
  it.each([
    { maxLineLength: 0 },
    { maxLineLength: 1.5 },
    { identifyTimeout: 0 },
    { clientBufferLimit: -1 },
    { slowClientTimeout: Number.NaN },
    { shutdownTimeout: 2 ** 31 },
    { reorderCapacity: 0 },
    { reorderBytes: 0 },
    { startSequence: 0 },
    { sourceIdleTimeout: -1 },
    { sourceIdleTimeout: 2 ** 31 },
    { maxFollowEdges: 0 },
    { maxFollowEdges: 2 ** 27 + 1 },
  ])('rejects %j with ERR_INVALID_OPTION', (options) => {
    expect(() => createMaze(options)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
  });

  it('fills in the defaults', () => {
    expect(createMaze().options).toEqual({
      startSequence: 1,
      reorderCapacity: 100_000,
      reorderBytes: 64 * 1024 * 1024,
      maxFollowEdges: 2 ** 23,
      resumeBytes: 0,
      delimiter: '|',
      maxLineLength: 4096,
      maxIdLineLength: 64,
      identifyTimeout: 5_000,
      maxClients: defaultMaxClients(),
      clientBufferLimit: 1024 * 1024,
      totalBufferLimit: 256 * 1024 * 1024,
      slowClientTimeout: 10_000,
      sourceIdleTimeout: 10_000,
      shutdownTimeout: 5_000,
      resetOnDisconnect: false,
    });
  });
});

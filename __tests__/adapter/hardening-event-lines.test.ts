/**
 * Hardening, bad event lines over real sockets (docs/protocol.md §2, 4): garbage without a sequence
 * number, invalid bodies (and valid lines replacing them while they wait), duplicates, stale numbers, over-long lines and reorder-buffer
 * overflow, by count and by bytes. Each is reported with its `ERR_…` code and context, every well-behaved client
 * still gets exactly what the reference model says, and the stream never stalls.
 */
import { describe, expect, it } from '@jest/globals';
import { LineFramer } from '../../lib/adapter/line-framer.js';
import { ErrorCode } from '../../lib/errors.js';
import { MiB, retainedBytes } from '../helpers/memory.js';
import { expectedDeliveries } from '../helpers/model.js';
import {
  deliveryMismatch,
  identifyUsers,
  lineOps,
  pump,
  randomChunker,
  useTcpMazes,
  waitUntil,
} from '../helpers/sockets.js';
import { broadcasts, generateOpStream, mulberry32 } from '../helpers/streams.js';

const startMaze = useTcpMazes();

describe('bad event lines over TCP', () => {
  it('reports garbage, invalid bodies, duplicates and stale numbers, and delivers the rest', async () => {
    const maze = await startMaze();
    const { clients, ops } = await identifyUsers(maze, [1, 2, 2, 3]);
    const lines = [
      '1|F|1|2\n',
      'hello\n', // no sequence number: discarded
      '2|X|1|2\n', // invalid body: a no-op that consumes 2
      '4|S|2\n', // waits for 3
      '4|B\n', // 4 is already waiting: discarded, the first arrival wins
      '3|P|2|1\r\n', // applies 3, then the waiting 4
      '1|B\n', // stale
      '|B\n', // no sequence number
      '5|B|7\n', // invalid body: a no-op
      '6|B\n',
    ];
    const source = await maze.connectSource();
    source.socket.write(lines.join(''));
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    expect(await deliveryMismatch(clients, expected)).toBeUndefined();
    expect(expected.get(1)).toEqual(['3|P|2|1\r\n', '4|S|2\n', '6|B\n']);
    expect(expected.get(2)).toEqual(['1|F|1|2\n', '6|B\n']);

    const reported = maze.problems.map((problem) => ({
      code: problem.code,
      lineNumber: problem.context.lineNumber,
      sequence: problem.context.sequence,
      connection: problem.context.connection,
    }));
    const at = (code: string, lineNumber: number, sequence?: number) => ({
      code,
      lineNumber,
      sequence,
      connection: 'event-source#1',
    });
    expect(reported).toEqual([
      at(ErrorCode.EventBadSequence, 2),
      at(ErrorCode.EventBadBody, 3, 2),
      at(ErrorCode.EventDuplicate, 5, 4),
      at(ErrorCode.EventStale, 7, 1),
      at(ErrorCode.EventBadSequence, 8),
      at(ErrorCode.EventBadBody, 9, 5),
    ]);
    expect(maze.maze.stats()).toMatchObject({
      eventsReceived: 10,
      eventsApplied: 4,
      eventsNoop: 2,
      eventsDiscarded: 4,
      pending: 0,
      nextSequence: 7,
    });
  });

  it.each([
    ['the invalid line first', ['8|S|32|1\n', '8|S|2\n'], [ErrorCode.EventBadBody]],
    ['the valid line first', ['8|S|2\n', '8|S|32|1\n'], [ErrorCode.EventDuplicate]],
  ])(
    'delivers a valid event that arrives while an invalid one holds its number (%s)',
    async (_, pair, codes) => {
      const maze = await startMaze();
      const { clients, ops } = await identifyUsers(maze, [5, 9]);
      const lines = [...pair, '7|B\n', '6|B\n', '5|B\n', '4|B\n', '3|B\n', '2|B\n', '1|F|5|2\n'];
      const source = await maze.connectSource();
      source.socket.write(lines.join(''));
      const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
      expect(expected.get(1)).toEqual([...broadcasts(6, 2), '8|S|2\n']);
      expect(await deliveryMismatch(clients, expected)).toBeUndefined();
      await waitUntil(() => maze.maze.stats().nextSequence === 9, 'event 8 applied');
      expect(maze.problems.map((problem) => problem.code)).toEqual(codes);
      expect(maze.maze.stats()).toMatchObject({
        eventsApplied: 8,
        eventsNoop: 0,
        eventsDiscarded: 1,
      });
    },
  );

  it('matches the model on thousands of shuffled lines with one fault in five', async () => {
    const maze = await startMaze();
    const users = [1, 2, 3, 4, 5, 6, 7, 8, 3, 5];
    const { clients, ops } = await identifyUsers(maze, users);
    const stream = generateOpStream({
      seed: 515,
      events: 6_000,
      users: 8,
      maxBatch: 30,
      faultRate: 0.2,
    });
    // A final broadcast, numbered past everything: every client must end with it.
    const lines = [...stream.map((op) => (op.kind === 'line' ? op.line : '')), '6001|B\n'];
    const source = await maze.connectSource();
    const rng = mulberry32(515);
    await pump(source.socket, randomChunker(rng, 3_000)(lines.join('')));
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    expect(await deliveryMismatch(clients, expected, 15_000)).toBeUndefined();

    // Never stalls: every number up to the last was consumed, nothing waits.
    const stats = maze.maze.stats();
    expect(stats).toMatchObject({ pending: 0, nextSequence: 6_002, sequencesSkipped: 0 });
    expect(stats.eventsReceived).toBe(
      stats.eventsApplied + stats.eventsNoop + stats.eventsDiscarded,
    );
    // Every discarded line and every no-op was reported, with the right code. An invalid body
    // that a valid line replaced while it waited was reported as invalid, and is discarded.
    const count = (code: string) => maze.problems.filter((problem) => problem.code === code).length;
    const replaced = count(ErrorCode.EventBadBody) - stats.eventsNoop;
    expect(replaced).toBeGreaterThan(0);
    expect(
      count(ErrorCode.EventBadSequence) +
        count(ErrorCode.EventDuplicate) +
        count(ErrorCode.EventStale) +
        replaced,
    ).toBe(stats.eventsDiscarded);
    expect(stats.eventsNoop).toBeGreaterThan(50);
    expect(stats.eventsDiscarded).toBeGreaterThan(200);
    expect(maze.problems.length).toBe(stats.eventsNoop + stats.eventsDiscarded);
  });
});

describe('over-long event lines over TCP', () => {
  it('discards several MiB without a newline, sent in pieces, without holding them', async () => {
    const maze = await startMaze({ maxLineLength: 4096 });
    const { clients, ops } = await identifyUsers(maze, [1, 2]);
    const source = await maze.connectSource();
    // Watch every framer in the process: what it holds of an unfinished line, after each chunk.
    let mostHeld = 0;
    let pushes = 0;
    let bytesFramed = 0;
    const push = LineFramer.prototype.push;
    LineFramer.prototype.push = function (this: LineFramer, chunk: Buffer): void {
      push.call(this, chunk);
      pushes++;
      bytesFramed += chunk.length;
      mostHeld = Math.max(mostHeld, this.bufferedLength);
    };
    try {
      source.socket.write('1|B\n2|P|1|2\n');
      await waitUntil(() => maze.maze.stats().eventsApplied === 2, 'events 1 and 2');
      const before = retainedBytes();
      // Starts like event 3, so applying any of it would consume number 3 as a no-op.
      const piece = Buffer.alloc(64 * 1024, 'x');
      await pump(source.socket, ['3|B', ...Array.from({ length: 128 }, () => piece)], 10_000);
      await waitUntil(() => bytesFramed >= 8 * MiB, 'the server to read 8 MiB', 10_000);
      // Mid-line, 8 MiB read: no framer ever held a line's worth, the server holds no more
      // than before the line started, and the line was reported as soon as it was too long.
      expect(mostHeld).toBeLessThan(4096);
      expect(retainedBytes() - before).toBeLessThan(2 * MiB);
      expect(maze.codes()).toEqual([ErrorCode.LineTooLong]);
      source.socket.write('still the same line\n3|B\n4|P|2|1\n');
      const lines = ['1|B\n', '2|P|1|2\n', '3|B\n', '4|P|2|1\n'];
      const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
      expect(await deliveryMismatch(clients, expected)).toBeUndefined();
    } finally {
      LineFramer.prototype.push = push;
    }
    expect(pushes).toBeGreaterThan(10);
    expect(maze.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.LineTooLong,
        context: { connection: 'event-source#1', lineNumber: 3, line: `3|B${'x'.repeat(77)}…` },
      }),
    ]);
    expect(maze.maze.stats()).toMatchObject({
      linesTooLong: 1,
      eventsReceived: 4,
      eventsApplied: 4,
      eventsNoop: 0,
      nextSequence: 5,
    });
  });
});

describe('reorder buffer overflow over TCP', () => {
  it('names the missing numbers, skips to the smallest pending one and goes on', async () => {
    const maze = await startMaze({ reorderCapacity: 8 });
    const { clients } = await identifyUsers(maze, [1]);
    const source = await maze.connectSource();
    // 1 applies; then 2..4 never come. 5, 6 wait in the ring, 40..45 far ahead: 8 pending.
    source.socket.write([...broadcasts(1), ...broadcasts(2, 5), ...broadcasts(6, 40)].join(''));
    await waitUntil(() => maze.maze.stats().pending === 8, 'eight pending events');
    expect(maze.problems).toEqual([]);
    // The counter moves when the maze applies 1; the client's bytes arrive a little later.
    const client = clients.get(1);
    await client?.received.waitForLength('1|B\n'.length);
    expect(client?.received.text).toBe('1|B\n');
    // The ninth overflows: 2..4 are declared lost, 5 and 6 go out, then 7 is missing.
    source.socket.write('46|B\n');
    await waitUntil(() => maze.problems.length === 1, 'the first gap');
    expect(maze.problems[0]).toMatchObject({
      code: ErrorCode.SequenceGap,
      context: {
        connection: 'event-source#1',
        lineNumber: 10,
        sequence: 5,
        missingFrom: 2,
        missingTo: 4,
      },
    });
    expect(maze.maze.stats()).toMatchObject({ nextSequence: 7, pending: 7, sequencesSkipped: 3 });
    // Two more overflow again: 7..39 are lost and 40..48 go out in order.
    source.socket.write('47|B\n48|B\n3|B\n49|B\n');
    const want = [1, 5, 6, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49].map((n) => `${n}|B\n`);
    expect(await deliveryMismatch(clients, new Map([[1, want]]))).toBeUndefined();
    expect(maze.problems.slice(1)).toEqual([
      expect.objectContaining({
        code: ErrorCode.SequenceGap,
        context: expect.objectContaining({ missingFrom: 7, missingTo: 39, sequence: 40 }),
      }),
      expect.objectContaining({
        code: ErrorCode.EventStale,
        context: expect.objectContaining({ sequence: 3, lineNumber: 13 }),
      }),
    ]);
    expect(maze.problems[1]?.message).toMatch(/7\.\.39/);
    expect(maze.maze.stats()).toMatchObject({
      nextSequence: 50,
      pending: 0,
      sequencesSkipped: 3 + 33,
      eventsApplied: 13,
    });
  });
});

describe('reorder buffer byte bound over TCP', () => {
  it('holds no more than reorderBytes of long leading-zero lines waiting, reports each gap and goes on', async () => {
    const reorderBytes = 256 * 1024;
    const maze = await startMaze({ reorderBytes });
    const { clients } = await identifyUsers(maze, [1]);
    const source = await maze.connectSource();
    // Valid 4 KiB lines (leading zeros), each to a user nobody connects as: they only wait.
    const padded = (sequence: number): string => {
      const body = `${sequence}|P|1|99\n`;
      return `${'0'.repeat(4096 - body.length)}${body}`;
    };
    // Made as they are sent, so the test itself holds none of them.
    function* evenLines(): Generator<string> {
      for (let sequence = 2; sequence <= 4_000; sequence += 2) yield padded(sequence);
    }
    const before = retainedBytes();
    // 8 MiB of events waiting for the odd numbers, which do not come.
    await pump(source.socket, evenLines(), 10_000);
    await waitUntil(() => maze.maze.stats().eventsReceived === 2_000, '2,000 lines', 10_000);
    // 64 lines fill 256 KiB; every later arrival goes over it and skips one odd number.
    expect(maze.maze.stats()).toMatchObject({
      pending: 64,
      pendingBytes: 64 * 4096,
      nextSequence: 3_873,
      sequencesSkipped: 1_936,
      eventsApplied: 1_936,
    });
    // The resume history is bounded on its own (resumeBytes) and left out.
    const history = maze.maze.stats().resumeHistoryBytes;
    expect(retainedBytes() - before - history).toBeLessThan(4 * MiB);
    const gaps = maze.problems.filter((problem) => problem.code === ErrorCode.SequenceGap);
    expect(gaps).toHaveLength(1_936);
    expect(maze.problems).toHaveLength(1_936);
    expect(gaps[0]).toMatchObject({
      message: expect.stringContaining(`(${reorderBytes} bytes)`),
      context: {
        connection: 'event-source#1',
        lineNumber: 65,
        sequence: 2,
        missingFrom: 1,
        missingTo: 1,
      },
    });
    // The missing numbers arrive after all: the waiting lines go out, then 4001.
    const late = Array.from({ length: 65 }, (_, i) => `${3_873 + 2 * i}|B\n`);
    source.socket.write(late.join(''));
    expect(await deliveryMismatch(clients, new Map([[1, late]]))).toBeUndefined();
    expect(maze.maze.stats()).toMatchObject({ pending: 0, pendingBytes: 0, nextSequence: 4_002 });
  });
});

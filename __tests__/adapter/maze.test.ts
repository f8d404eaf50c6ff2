/**
 * The stream adapter end to end over in-memory streams, checked against the reference model:
 * framing at every chunk boundary, several connections per user, clients joining and leaving
 * mid-stream, faults, and exactly what every connection receives.
 */
import { describe, expect, it } from '@jest/globals';
import { createMaze } from '../../lib/adapter/maze.js';
import type { MazeOptions } from '../../lib/adapter/options.js';
import type { Problem } from '../../lib/errors.js';
import { connectOp, disconnectOp, expectedDeliveries, type ModelOp } from '../helpers/model.js';
import {
  attachMemoryClient,
  attachMemorySource,
  type Chunker,
  expectedText,
  lineOps,
  randomChunker,
  runOps,
  waitUntil,
  wholeBlock,
} from '../helpers/sockets.js';
import { broadcasts, generateOpStream, mulberry32 } from '../helpers/streams.js';

async function check(
  ops: readonly ModelOp[],
  chunker: Chunker = wholeBlock,
  options: MazeOptions = {},
): Promise<Problem[]> {
  const maze = createMaze(options);
  const problems: Problem[] = [];
  maze.on('problem', (problem) => problems.push(problem));
  const { received } = await runOps(maze, ops, chunker);
  const expected = expectedText(
    expectedDeliveries(ops, { startSequence: options.startSequence ?? 1 }),
  );
  expect(received.size).toBe(expected.size);
  for (const [connection, text] of expected) {
    const actual = received.get(connection);
    if (actual !== text) {
      // A readable failure: the first differing line of this connection.
      expect({ connection, lines: actual?.split(/(?<=\n)/) }).toEqual({
        connection,
        lines: text.split(/(?<=\n)/),
      });
    }
  }
  return problems;
}

// Out of order, LF and CRLF, an empty line, an invalid body, a follow graph with a status.
const MIXED_LINES = lineOps([
  '2|F|1|2\r\n',
  '1|F|3|2\n',
  '3|S|2\n',
  '\n',
  '5|P|2|1\r\n',
  '4|B\n',
  '6|X|1\n',
  '\r\n',
  '8|U|3|2\n',
  '7|F|2|1\r\n',
  '9|S|2\r\n',
  '10|S|1\n',
  '11|B\r\n',
]);
const FOUR_CLIENTS = [connectOp(1, 1), connectOp(2, 2), connectOp(3, 2), connectOp(4, 3)];

describe('Maze over in-memory streams', () => {
  it('delivers exactly what the model says, in one chunk', async () => {
    const problems = await check([...FOUR_CLIENTS, ...MIXED_LINES]);
    expect(problems.map((problem) => problem.code)).toEqual(['ERR_EVENT_BAD_BODY']);
    expect(problems[0]?.context).toMatchObject({
      connection: 'event-source#1',
      lineNumber: 7,
      sequence: 6,
    });
  });

  it('delivers the same whatever the split into two chunks', async () => {
    const ops = [...FOUR_CLIENTS, ...MIXED_LINES];
    const text = MIXED_LINES.map((op) => (op.kind === 'line' ? op.line : '')).join('');
    for (let at = 0; at <= text.length; at++) {
      await check(ops, (block) => [block.slice(0, at), block.slice(at)].filter((c) => c !== ''));
    }
  });

  it('delivers the same one byte per chunk', async () => {
    await check([...FOUR_CLIENTS, ...MIXED_LINES], (block) => [...block]);
  });

  it('gives every connection of a user every notification', async () => {
    const ops = [
      connectOp(1, 7),
      connectOp(2, 7),
      connectOp(3, 7),
      ...lineOps(['1|P|1|7\n', '2|B\n']),
    ];
    await check(ops);
  });

  it('serves clients joining and leaving mid-stream', async () => {
    const ops: ModelOp[] = [
      connectOp(1, 1),
      ...lineOps(['1|F|2|1\n', '2|B\n']),
      connectOp(2, 2),
      ...lineOps(['4|S|1\n', '3|F|1|2\n']),
      disconnectOp(1),
      ...lineOps(['5|S|2\n', '6|P|2|1\n', '7|B\n']),
      connectOp(3, 1),
      connectOp(4, 2),
      ...lineOps(['8|S|1\n', '9|S|2\r\n']),
      disconnectOp(2),
      ...lineOps(['10|B\n']),
    ];
    await check(ops);
  });

  it('matches the model on random streams with faults, churn and random chunks', async () => {
    for (let seed = 1; seed <= 12; seed++) {
      const ops = generateOpStream({
        seed,
        events: 1_500,
        users: 12,
        maxBatch: 40,
        faultRate: 0.05,
        churnRate: 0.02,
        initialConnections: 6,
      });
      await check(ops, randomChunker(mulberry32(seed), 300));
    }
  });

  it('honours startSequence', async () => {
    const ops = [connectOp(1, 1), ...lineOps(['100|B\n', '99|B\n', '101|P|2|1\n'])];
    await check(ops, wholeBlock, { startSequence: 100 });
  });

  it.each([';', '\xa7'])(
    'parses with its delimiter %j and delivers the lines byte for byte',
    async (delimiter) => {
      const maze = createMaze({ delimiter });
      const problems: Problem[] = [];
      maze.on('problem', (problem) => problems.push(problem));
      const line = (text: string): string => text.replaceAll(';', delimiter);
      const { received } = await runOps(maze, [
        connectOp(1, 1),
        connectOp(2, 2),
        ...lineOps(['2;F;1;2\r\n', '1;B\n', '3;S;2\n', '4;P;2;1\n', '5|B\n'].map(line)),
      ]);
      expect(Object.fromEntries(received)).toEqual({
        1: line('1;B\n3;S;2\n4;P;2;1\n'),
        2: line('1;B\n2;F;1;2\r\n'),
      });
      // A line delimited by `|` has no sequence number under another delimiter.
      expect(problems.map((problem) => problem.code)).toEqual(['ERR_EVENT_BAD_SEQUENCE']);
    },
  );

  it.each(['5', '\n', '', '||', '\u0100', 'P'])(
    'refuses the delimiter %j with ERR_INVALID_OPTION',
    (delimiter) => {
      expect(() => createMaze({ delimiter })).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_OPTION',
          message: expect.stringMatching(/^delimiter must be/),
        }),
      );
    },
  );

  it('counts notifications and bytes', async () => {
    const maze = createMaze();
    await runOps(maze, [
      connectOp(1, 1),
      connectOp(2, 1),
      connectOp(3, 2),
      ...lineOps(['1|B\n', '2|P|2|1\n']),
    ]);
    const stats = maze.stats();
    expect(stats.notificationsSent).toBe(5);
    expect(stats.bytesOut).toBe(3 * 4 + 2 * 8);
    expect(stats.eventsApplied).toBe(2);
  });

  it('lists its clients as plain summaries, oldest first, a page at a time', async () => {
    const maze = createMaze();
    const first = await attachMemoryClient(maze, '7\n');
    const second = await attachMemoryClient(maze, '8\n');
    const third = await attachMemoryClient(maze, undefined);
    const source = attachMemorySource(maze);
    source.peer.write('1|B\n2|P|1|7\n3|B\n');
    await first.received.waitForLength(4 + 8 + 4);
    await second.received.waitForLength(4 + 4);

    const page = maze.clients(0, 2);
    expect(page.total).toBe(3);
    expect(page.items).toEqual([
      {
        connection: first.connection,
        userId: 7,
        remoteAddress: null,
        queuedBytes: 0,
        notificationsSent: 3,
      },
      {
        connection: second.connection,
        userId: 8,
        remoteAddress: null,
        queuedBytes: 0,
        notificationsSent: 2,
      },
    ]);
    expect(maze.clients(2, 2).items.map((item) => [item.connection, item.userId])).toEqual([
      [third.connection, null],
    ]);
    expect(maze.clients(3, 2)).toEqual({ total: 3, items: [] });
    await source.end();
    await maze.close();
  });

  it('writes once per client per input chunk', async () => {
    const maze = createMaze();
    const client = await attachMemoryClient(maze, '1\n');
    const source = attachMemorySource(maze);
    const batch = broadcasts(500).join('');
    source.peer.write(batch);
    await client.received.waitForLength(batch.length);
    // One chunk in, one chunk out: the peer saw the whole batch in a single write.
    expect(client.received.chunks).toBe(1);
    await source.end();
    await maze.close();
  });

  it('waits for lines of a slow chunked source without losing any', async () => {
    const maze = createMaze();
    const ops = [connectOp(1, 1), ...lineOps(broadcasts(50))];
    const { received } = await runOps(maze, ops, randomChunker(mulberry32(5), 3));
    await waitUntil(() => received.size === 1, 'results');
    expect(received.get(1)).toBe(broadcasts(50).join(''));
  });
});

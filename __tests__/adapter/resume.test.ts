/**
 * Clients that resume (docs/protocol.md §12) on a maze over in-memory streams: the replay
 * before anything live, the gap line, bad resume lines, the resume queue under backpressure,
 * and a client that keeps dropping against one that never does.
 */
import { duplexPair } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createMaze, type Maze, type ResumeReport } from '../../lib/adapter/maze.js';
import { ErrorCode } from '../../lib/errors.js';
import { FlakyClient } from '../helpers/resume.js';
import {
  attachMemoryClient,
  attachMemorySource,
  Collector,
  type MemoryClient,
  useMemoryMazes,
  WAIT_MS,
  waitForClientEvent,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';
import { generateEventLines, mulberry32, randomInt, shuffleInBatches } from '../helpers/streams.js';

const newMaze = useMemoryMazes();
/** A history that holds every event of these tests (the default keeps none). */
const HISTORY_BYTES = 16 * 1024 * 1024;

// User 5 follows 9 at 1; 2 is a private message to 5; 4 a status update of 9; 5 a follow of 5.
const HEAD = '1|F|5|9\n2|P|1|5\n3|B\n4|S|9\n5|F|1|5\n';

/**
 * A client of user 1 that does not read, and 80 KB of broadcasts (past the pair's 16 KiB
 * high-water mark): resolves once that client holds the input.
 */
async function holdInput(maze: Maze): Promise<{ slow: MemoryClient; broadcasts: string }> {
  const slow = await attachMemoryClient(maze, '1\n', { read: false });
  const source = attachMemorySource(maze);
  const broadcasts = Array.from(
    { length: 2_000 },
    (_, index) => `${String(index + 1).padStart(37, '0')}|B\n`,
  ).join('');
  source.peer.write(broadcasts);
  await waitUntil(() => maze.stats().eventSourcePaused, 'the input to be held');
  return { slow, broadcasts };
}

describe('resume', () => {
  it('replays what the user missed after its last number, then goes on live', async () => {
    const { maze, problems } = newMaze({ resumeBytes: HISTORY_BYTES });
    const steady = await attachMemoryClient(maze, '5\n');
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await steady.received.waitForLength('2|P|1|5\n3|B\n4|S|9\n5|F|1|5\n'.length);
    const reports: ResumeReport[] = [];
    maze.on('clientResumed', (report) => reports.push(report));
    const resumed = await attachMemoryClient(maze, '5|2\n');
    source.peer.write('6|S|9\n7|U|5|9\n8|S|9\n9|B\n');
    const expected = '3|B\n4|S|9\n5|F|1|5\n6|S|9\n9|B\n';
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
    expect(steady.received.text.endsWith(expected)).toBe(true);
    expect(reports).toEqual([
      expect.objectContaining({
        connection: resumed.connection,
        userId: 5,
        after: 2,
        exact: true,
        notifications: 3,
      }),
    ]);
    expect(maze.stats()).toMatchObject({
      clientsResumed: 1,
      resumesRefused: 0,
      resumeNotifications: 3,
      resumesWaiting: 0,
      resumeHistoryEvents: 9,
      resumableAfter: 0,
    });
    expect(problems).toEqual([]);
  });

  it('sends a gap line without a history (the default), then only live ones', async () => {
    const { maze } = newMaze();
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const resumed = await attachMemoryClient(maze, '5|2\n');
    source.peer.write('6|B\n');
    const expected = '!GAP|trimmed|6\n6|B\n';
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
    expect(maze.stats()).toMatchObject({ clientsResumed: 0, resumesRefused: 1, resumableAfter: 6 });
  });

  it('replays nothing and sends no gap line to a client that missed nothing, even without a history', async () => {
    const { maze } = newMaze();
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const resumed = await attachMemoryClient(maze, '5|5\n');
    source.peer.write('6|B\n');
    await resumed.received.waitForLength(4);
    expect(resumed.received.text).toBe('6|B\n');
    expect(maze.stats()).toMatchObject({ clientsResumed: 1, resumeNotifications: 0 });
  });

  it('says "ahead" to a client whose number was not applied yet', async () => {
    const { maze } = newMaze({ resumeBytes: HISTORY_BYTES });
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const resumed = await attachMemoryClient(maze, '5|0000000000007\r\n');
    source.peer.write('6|B\n');
    const expected = '!GAP|ahead|6\n6|B\n';
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
  });

  it.each(['5|\n', '5|x\n', '5|1|2\n', '5|-1\n', '5|9007199254740992\n'])(
    'closes a client whose resume number is bad (%j) with ERR_CLIENT_BAD_RESUME',
    async (line) => {
      const { maze, problems } = newMaze();
      const client = await attachMemoryClient(maze, undefined);
      const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
      client.peer.write(line);
      expect(await closed).toMatchObject({ userId: undefined });
      expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientBadResume]);
      expect(maze.stats()).toMatchObject({ clientsRejected: 1, clientsResumed: 0 });
    },
  );

  it('keeps a bad id before the separator an ERR_CLIENT_BAD_ID', async () => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('x|5\n');
    await closed;
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientBadId]);
  });

  it('waits while backpressure holds the input, then replays what was applied meanwhile', async () => {
    const { maze } = newMaze({
      clientBufferLimit: 1024,
      slowClientTimeout: WAIT_MS,
      resumeBytes: HISTORY_BYTES,
    });
    const { slow, broadcasts } = await holdInput(maze);
    const resumed = attachMemoryClient(maze, '2|0\n');
    await waitUntil(() => maze.stats().resumesWaiting === 1, 'the resume to wait');
    slow.peer.resume();
    const client = await withTimeout(resumed, WAIT_MS, 'the resume');
    await client.received.waitForLength(broadcasts.length);
    expect(client.received.text).toBe(broadcasts);
    expect(maze.stats()).toMatchObject({ clientsResumed: 1, resumesWaiting: 0 });
  });
});

describe('resume options', () => {
  it('refuses a history together with resetOnDisconnect: numbers would name two streams', () => {
    expect(() => createMaze({ resumeBytes: 1024, resetOnDisconnect: true })).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOption,
        message: expect.stringContaining('resumeBytes and resetOnDisconnect'),
      }),
    );
    expect(createMaze({ resetOnDisconnect: true }).options.resumeBytes).toBe(0);
  });
});

describe('resume at the client limit', () => {
  it('never makes room by closing a half-closed client still waiting for its resume', async () => {
    const { maze, problems } = newMaze({
      maxClients: 2,
      clientBufferLimit: 1024,
      slowClientTimeout: WAIT_MS,
      resumeBytes: HISTORY_BYTES,
    });
    const { slow, broadcasts } = await holdInput(maze);
    const [ours, peer] = duplexPair();
    const connection = maze.attachClient(ours);
    const received = new Collector(peer);
    // Half-closed right after its resume line: nothing queued yet, but owed its replay.
    peer.end('2|0\n');
    await waitUntil(() => maze.stats().resumesWaiting === 1, 'the resume to wait');
    await waitUntil(() => maze.stats().clientsHalfClosed === 1, 'the half-close to be seen');
    await attachMemoryClient(maze, undefined);
    expect(maze.stats()).toMatchObject({ clientsEvicted: 0, clientsRefused: 1, resumesWaiting: 1 });
    const identified = waitForClientEvent(maze, 'clientIdentified', connection);
    slow.peer.resume();
    await identified;
    await received.waitForLength(broadcasts.length);
    expect(received.text).toBe(broadcasts);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientLimit]);
  });
});

describe('a client that drops and resumes at random points', () => {
  it.each([1, 2, 3])(
    'receives what a client that never dropped receives (seed %i)',
    async (seed) => {
      const { maze } = newMaze({ resumeBytes: HISTORY_BYTES });
      const rng = mulberry32(seed);
      const users = 6;
      const lines = shuffleInBatches(generateEventLines({ count: 4_000, users, seed }), 50, rng);
      const steady = await attachMemoryClient(maze, '3\n');
      const flaky = new FlakyClient(3);
      await flaky.connect(maze);
      const source = attachMemorySource(maze);
      let drops = 0;
      for (let at = 0; at < lines.length; ) {
        const chunk = randomInt(rng, 1, 300);
        source.peer.write(lines.slice(at, at + chunk).join(''));
        at += chunk;
        if (rng() < 0.5) {
          // Let some of the output reach the client before it drops, or none of it.
          if (rng() < 0.5) await new Promise((resolve) => setImmediate(resolve));
          flaky.drop();
          drops++;
          await flaky.connect(maze);
        }
      }
      await waitUntil(() => maze.stats().eventsApplied === 4_000, 'every event applied');
      await waitUntil(
        () => flaky.text.length >= steady.received.text.length,
        'the flaky client to catch up',
      );
      expect(drops).toBeGreaterThan(3);
      expect(steady.received.text.length).toBeGreaterThan(1000);
      expect(flaky.text).toBe(steady.received.text);
      expect(maze.stats()).toMatchObject({ clientsResumed: drops + 1, resumesRefused: 0 });
    },
  );
});

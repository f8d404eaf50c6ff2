/**
 * Clients that resume (docs/protocol.md §12) on a maze over in-memory streams: the epoch
 * line, the replay before anything live, the gap line (another epoch included), bad resume
 * lines, the resume queue under backpressure, and a client that keeps dropping against one
 * that never does.
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
    const resumed = await attachMemoryClient(maze, `5|2|${maze.epoch}\n`);
    source.peer.write('6|S|9\n7|U|5|9\n8|S|9\n9|B\n');
    const expected = '3|B\n4|S|9\n5|F|1|5\n6|S|9\n9|B\n';
    await resumed.received.waitForLength(`!EPOCH|${maze.epoch}|2\n${expected}`.length);
    expect(resumed.received.text).toBe(`!EPOCH|${maze.epoch}|2\n${expected}`);
    expect(steady.received.text.endsWith(expected)).toBe(true);
    expect(reports).toEqual([
      expect.objectContaining({
        connection: resumed.connection,
        userId: 5,
        after: 2,
        epoch: maze.epoch,
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
    const resumed = await attachMemoryClient(maze, `5|2|${maze.epoch}\n`);
    source.peer.write('6|B\n');
    const expected = `!EPOCH|${maze.epoch}|5\n!GAP|trimmed|6\n6|B\n`;
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
    expect(maze.stats()).toMatchObject({ clientsResumed: 0, resumesRefused: 1, resumableAfter: 6 });
  });

  it('replays nothing and sends no gap line to a client that missed nothing, even without a history', async () => {
    const { maze } = newMaze();
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const resumed = await attachMemoryClient(maze, `5|5|${maze.epoch}\n`);
    source.peer.write('6|B\n');
    const expected = `!EPOCH|${maze.epoch}|5\n6|B\n`;
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
    expect(maze.stats()).toMatchObject({ clientsResumed: 1, resumeNotifications: 0 });
  });

  it('says "ahead" to a client whose number was not applied yet', async () => {
    const { maze } = newMaze({ resumeBytes: HISTORY_BYTES });
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const resumed = await attachMemoryClient(maze, `5|0000000000007|${maze.epoch}\r\n`);
    source.peer.write('6|B\n');
    const expected = `!EPOCH|${maze.epoch}|5\n!GAP|ahead|6\n6|B\n`;
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
  });

  it.each([
    '5|\n',
    '5|x\n',
    '5|-1|7\n',
    '5|9007199254740992|7\n',
    '5|1|\n',
    '5|1|2|3\n',
    '5|-|7\n',
    '5|1|1234567890123456789012345\n',
  ])('closes a client whose resume part is bad (%j) with ERR_CLIENT_BAD_RESUME', async (line) => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write(line);
    expect(await closed).toMatchObject({ userId: undefined });
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientBadResume]);
    expect(maze.stats()).toMatchObject({ clientsRejected: 1, clientsResumed: 0 });
    expect(client.received.text).toBe('');
  });

  it('refuses USERID|LASTSEQ without the epoch, saying it is missing', async () => {
    const { maze, problems } = newMaze({ resumeBytes: HISTORY_BYTES });
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('5|2\n');
    await closed;
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientBadResume,
        message: expect.stringContaining('the epoch is missing'),
      }),
    ]);
    expect(client.received.text).toBe('');
  });

  it('sends the epoch line, then live notifications, to a client identifying as USERID|-', async () => {
    const { maze, problems } = newMaze();
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const aware = await attachMemoryClient(maze, '5|-\r\n');
    const plain = await attachMemoryClient(maze, '5\n');
    source.peer.write('6|B\n');
    const expected = `!EPOCH|${maze.epoch}|5\n6|B\n`;
    await aware.received.waitForLength(expected.length);
    await plain.received.waitForLength(4);
    expect(aware.received.text).toBe(expected);
    // The original protocol's client is never sent anything but notifications.
    expect(plain.received.text).toBe('6|B\n');
    expect(maze.stats()).toMatchObject({ clientsResumed: 0, resumesRefused: 0 });
    expect(problems).toEqual([]);
  });

  it('resumes a USERID|- client that received nothing after the number its epoch line gave: what it was owed, nothing from before it joined', async () => {
    const { maze, problems } = newMaze({ resumeBytes: HISTORY_BYTES });
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const aware = await attachMemoryClient(maze, '5|-\n');
    await aware.received.waitForLength(`!EPOCH|${maze.epoch}|5\n`.length);
    expect(aware.received.text).toBe(`!EPOCH|${maze.epoch}|5\n`);
    aware.leave();
    await waitUntil(() => maze.stats().clientsConnected === 0, 'the client to be gone');
    // 6 a status update of 9, whom 5 follows since 1; 7 a private message to 5; 8 not for 5.
    source.peer.write('6|S|9\n7|P|2|5\n8|P|5|2\n');
    await waitUntil(() => maze.stats().eventsApplied === 8, '8 events applied');
    const last = /^!EPOCH\|[^|]+\|(\d+)\n$/.exec(aware.received.text)?.[1];
    const resumed = await attachMemoryClient(maze, `5|${last}|${maze.epoch}\n`);
    source.peer.write('9|B\n');
    // Resuming after 0 instead would have replayed 2 to 5, sent before the client joined.
    const expected = `!EPOCH|${maze.epoch}|5\n6|S|9\n7|P|2|5\n9|B\n`;
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
    expect(maze.stats()).toMatchObject({ clientsResumed: 1, resumeNotifications: 2 });
    expect(problems).toEqual([]);
  });

  it('gives startSequence - 1 as the last number while nothing is applied, so resuming after it misses nothing', async () => {
    const { maze, problems } = newMaze({ resumeBytes: HISTORY_BYTES, startSequence: 10 });
    const aware = await attachMemoryClient(maze, '5|-\n');
    await aware.received.waitForLength(`!EPOCH|${maze.epoch}|9\n`.length);
    expect(aware.received.text).toBe(`!EPOCH|${maze.epoch}|9\n`);
    aware.leave();
    await waitUntil(() => maze.stats().clientsConnected === 0, 'the client to be gone');
    const source = attachMemorySource(maze);
    source.peer.write('10|B\n11|P|2|5\n');
    await waitUntil(() => maze.stats().eventsApplied === 2, '2 events applied');
    const resumed = await attachMemoryClient(maze, `5|9|${maze.epoch}\n`);
    const expected = `!EPOCH|${maze.epoch}|9\n10|B\n11|P|2|5\n`;
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
    expect(problems).toEqual([]);
  });

  it('answers a resume from another epoch with !GAP|epoch, without reading its number', async () => {
    const { maze } = newMaze({ resumeBytes: HISTORY_BYTES });
    const source = attachMemorySource(maze);
    source.peer.write(HEAD);
    await waitUntil(() => maze.stats().eventsApplied === 5, '5 events applied');
    const reports: ResumeReport[] = [];
    maze.on('clientResumed', (report) => reports.push(report));
    // Its number is one this stream applied: read against it, it would be replayed 3 and 4.
    const resumed = await attachMemoryClient(maze, '5|2|123456789\n');
    source.peer.write('6|B\n');
    const expected = `!EPOCH|${maze.epoch}|5\n!GAP|epoch|6\n6|B\n`;
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
    expect(reports).toEqual([
      expect.objectContaining({ after: 2, epoch: '123456789', exact: false, notifications: 0 }),
    ]);
    expect(maze.stats()).toMatchObject({ clientsResumed: 0, resumesRefused: 1 });
  });

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
    const resumed = attachMemoryClient(maze, `2|0|${maze.epoch}\n`);
    await waitUntil(() => maze.stats().resumesWaiting === 1, 'the resume to wait');
    slow.peer.resume();
    const client = await withTimeout(resumed, WAIT_MS, 'the resume');
    const expected = `!EPOCH|${maze.epoch}|0\n${broadcasts}`;
    await client.received.waitForLength(expected.length);
    expect(client.received.text).toBe(expected);
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

describe('the epoch', () => {
  it('is random for each maze, digits only, unless one is given', () => {
    const a = createMaze();
    const b = createMaze();
    expect(a.epoch).toMatch(/^\d{1,20}$/);
    expect(b.epoch).not.toBe(a.epoch);
    expect(createMaze({ epoch: 'blue-7' }).epoch).toBe('blue-7');
  });

  it.each(['', 'a|b', 'a\nb', 'a b', '1234567890123456789012345', 'x;y'])(
    'refuses an epoch option %j that is not a token (here with the delimiter ;)',
    (epoch) => {
      expect(() => createMaze({ epoch, delimiter: ';' })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOption }),
      );
    },
  );

  it('refuses an epoch option together with resetOnDisconnect: each source starts another stream', () => {
    expect(() => createMaze({ epoch: '7', resetOnDisconnect: true })).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOption,
        message: expect.stringContaining('epoch and resetOnDisconnect'),
      }),
    );
  });

  it('changes when resetOnDisconnect starts the numbers again, so an old number is never read against the new stream', async () => {
    const { maze } = newMaze({ resetOnDisconnect: true });
    const before = maze.epoch;
    const first = attachMemorySource(maze);
    first.peer.write('1|B\n2|B\n');
    await waitUntil(() => maze.stats().eventsApplied === 2, '2 events applied');
    await first.end();
    await waitUntil(() => maze.epoch !== before, 'the reset');
    const second = attachMemorySource(maze);
    second.peer.write('1|B\n2|B\n');
    await waitUntil(() => maze.stats().eventsApplied === 4, '4 events applied');
    // 2 is this stream's last number too: without the epoch it would look like nothing missed.
    const resumed = await attachMemoryClient(maze, `5|2|${before}\n`);
    second.peer.write('3|B\n');
    const expected = `!EPOCH|${maze.epoch}|2\n!GAP|epoch|3\n3|B\n`;
    await resumed.received.waitForLength(expected.length);
    expect(resumed.received.text).toBe(expected);
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
    peer.end(`2|0|${maze.epoch}\n`);
    await waitUntil(() => maze.stats().resumesWaiting === 1, 'the resume to wait');
    await waitUntil(() => maze.stats().clientsHalfClosed === 1, 'the half-close to be seen');
    await attachMemoryClient(maze, undefined);
    expect(maze.stats()).toMatchObject({ clientsEvicted: 0, clientsRefused: 1, resumesWaiting: 1 });
    const identified = waitForClientEvent(maze, 'clientIdentified', connection);
    slow.peer.resume();
    await identified;
    const expected = `!EPOCH|${maze.epoch}|0\n${broadcasts}`;
    await received.waitForLength(expected.length);
    expect(received.text).toBe(expected);
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
      // Its first connection was `3|-`, not a resume.
      expect(maze.stats()).toMatchObject({ clientsResumed: drops, resumesRefused: 0 });
    },
  );
});

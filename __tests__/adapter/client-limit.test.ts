/**
 * The client connection limit (docs/protocol.md §5, 9): `ClientLimit`'s admission and rate-limited
 * reports on a fake clock, then a maze with `maxClients` over in-memory streams — the
 * client over the limit is destroyed unread, counted and reported, identifying clients
 * count, a slot freed by a leaving client is taken by the next one, and at the limit a
 * half-closed client with nothing queued gives way (the longest half-closed first) while
 * one with output queued is still served.
 */
import { type Duplex, duplexPair } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { CLIENT_LIMIT_REPORT_INTERVAL_MS, ClientLimit } from '../../lib/adapter/client-limit.js';
import { defaultMaxClients } from '../../lib/adapter/descriptor-limit.js';
import type { Maze } from '../../lib/adapter/maze.js';
import { ErrorCode, MazeError, type Problem } from '../../lib/errors.js';
import {
  attachMemoryClient,
  attachMemorySource,
  Collector,
  useMemoryMazes,
  waitForClientEvent,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';

describe('ClientLimit', () => {
  const INTERVAL = 1_000;
  let reports: Problem[];
  let limit: ClientLimit;

  beforeEach(() => {
    jest.useFakeTimers();
    reports = [];
    limit = new ClientLimit(3, (problem) => reports.push(problem), INTERVAL);
  });

  afterEach(() => {
    limit.close();
    jest.useRealTimers();
  });

  it('admits while fewer than the maximum are attached', () => {
    expect([0, 1, 2, 3, 4].map((attached) => limit.admits(attached))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it('reports the first refusal at once, then the rest of the interval in one report with its count', () => {
    limit.refuse('client#4');
    expect(reports).toEqual([
      {
        code: ErrorCode.ClientLimit,
        message: 'client connection refused: already 3 clients attached (maxClients); closed',
        context: { connection: 'client#4' },
      },
    ]);
    for (let n = 5; n <= 9; n++) limit.refuse(`client#${n}`);
    jest.advanceTimersByTime(INTERVAL - 1);
    expect(reports).toHaveLength(1);
    expect(limit.refused).toBe(6);
    jest.advanceTimersByTime(1);
    expect(reports[1]).toEqual({
      code: ErrorCode.ClientLimit,
      message: '5 client connections refused: already 3 clients attached (maxClients); closed',
      context: { connection: 'client#9' },
    });
    // Quiet for a while: nothing more, and the next refusal is reported at once again.
    jest.advanceTimersByTime(10 * INTERVAL);
    expect(reports).toHaveLength(2);
    limit.refuse('client#10');
    expect(reports).toHaveLength(3);
    expect(reports[2]?.context).toEqual({ connection: 'client#10' });
  });

  it('keeps reports an interval apart under a steady stream of refusals', () => {
    for (let n = 0; n < 50; n++) {
      limit.refuse(`client#${n}`);
      jest.advanceTimersByTime(INTERVAL / 10);
    }
    // 5 s of refusals, one every tenth of the interval: one at once, then one per interval.
    limit.close();
    expect(reports.map((problem) => problem.message.split(':')[0])).toEqual([
      'client connection refused',
      '9 client connections refused',
      '10 client connections refused',
      '10 client connections refused',
      '10 client connections refused',
      '10 client connections refused',
    ]);
    expect(limit.refused).toBe(50);
  });

  it('counts and reports evictions apart from refusals, each at most once per interval', () => {
    limit.evict('client#1');
    limit.refuse('client#5');
    limit.evict('client#2');
    limit.evict('client#3');
    expect(reports).toEqual([
      {
        code: ErrorCode.ClientEvicted,
        message:
          'half-closed client with nothing queued closed to make room for new connections: 3 clients attached (maxClients)',
        context: { connection: 'client#1' },
      },
      expect.objectContaining({ code: ErrorCode.ClientLimit }),
    ]);
    jest.advanceTimersByTime(INTERVAL);
    expect(reports[2]).toEqual({
      code: ErrorCode.ClientEvicted,
      message:
        '2 half-closed clients with nothing queued closed to make room for new connections: 3 clients attached (maxClients)',
      context: { connection: 'client#3' },
    });
    expect(reports).toHaveLength(3);
    expect([limit.evicted, limit.refused]).toEqual([3, 1]);
  });

  it('reports what is gathered on close, and nothing after it', () => {
    limit.refuse('client#4');
    limit.refuse('client#5');
    limit.refuse('client#6');
    limit.close();
    expect(reports.map((problem) => problem.message.split(':')[0])).toEqual([
      'client connection refused',
      '2 client connections refused',
    ]);
    jest.advanceTimersByTime(10 * INTERVAL);
    expect(reports).toHaveLength(2);
  });
});

describe('a maze with maxClients', () => {
  const newMaze = useMemoryMazes();

  it('resolves 0 (the default) to the derived limit and rejects a bad one', () => {
    expect(newMaze().maze.options.maxClients).toBe(defaultMaxClients());
    expect(newMaze({ maxClients: 0 }).maze.options.maxClients).toBe(defaultMaxClients());
    expect(newMaze({ maxClients: 7 }).maze.options.maxClients).toBe(7);
    for (const maxClients of [-1, 1.5, Number.NaN]) {
      expect(() => newMaze({ maxClients })).toThrow(MazeError);
    }
  });

  it('destroys the client over the limit unread, counts it and reports it; identifying clients count', async () => {
    const { maze, problems } = newMaze({ maxClients: 3 });
    const one = await attachMemoryClient(maze, '1\n');
    const two = await attachMemoryClient(maze, '2\n');
    const identifying = await attachMemoryClient(maze, undefined);
    const [ours, peer] = duplexPair();
    const refused = new Collector(peer);
    peer.write('3\n');
    const connection = maze.attachClient(ours);
    expect(connection).toBe('client#4');
    expect(ours.destroyed).toBe(true);
    expect(problems).toEqual([
      {
        code: ErrorCode.ClientLimit,
        message: 'client connection refused: already 3 clients attached (maxClients); closed',
        context: { connection: 'client#4' },
      },
    ]);
    expect(maze.stats()).toMatchObject({
      clientsConnected: 2,
      clientsIdentifying: 1,
      clientsRefused: 1,
      problems: 1,
    });

    const source = attachMemorySource(maze);
    source.peer.write('1|B\n2|P|1|2\n');
    await two.received.waitForLength(4 + 8);
    await one.received.waitForLength(4);
    expect(one.received.text).toBe('1|B\n');
    expect(two.received.text).toBe('1|B\n2|P|1|2\n');
    expect(identifying.received.text).toBe('');
    expect(refused.text).toBe('');
    expect(maze.stats().clientsConnected).toBe(2);
  });

  it('gives a freed slot to the next client, whether an identified or an identifying one left', async () => {
    const { maze, problems } = newMaze({ maxClients: 2 });
    const one = await attachMemoryClient(maze, '1\n');
    const identifying = await attachMemoryClient(maze, undefined);
    maze.attachClient(duplexPair()[0]);
    expect(maze.stats().clientsRefused).toBe(1);

    const gone = waitForClientEvent(maze, 'clientClosed', identifying.connection);
    identifying.leave();
    await gone;
    const three = await attachMemoryClient(maze, '3\n');
    const leaving = waitForClientEvent(maze, 'clientClosed', one.connection);
    one.leave();
    await leaving;
    const four = await attachMemoryClient(maze, '4\n');
    expect(maze.stats()).toMatchObject({ clientsConnected: 2, clientsRefused: 1 });

    const source = attachMemorySource(maze);
    source.peer.write('1|B\n');
    await Promise.all([three.received.waitForLength(4), four.received.waitForLength(4)]);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientLimit]);
  });

  it('reports a burst of refusals as one at once and one with the count within the interval', async () => {
    const { maze, problems } = newMaze({ maxClients: 1 });
    await attachMemoryClient(maze, '1\n');
    const started = performance.now();
    const refused = Array.from({ length: 20 }, () => duplexPair()[0]);
    for (const stream of refused) maze.attachClient(stream);
    expect(refused.every((stream) => stream.destroyed)).toBe(true);
    expect(problems).toHaveLength(1);
    expect(maze.stats().clientsRefused).toBe(20);
    await waitUntil(
      () => problems.length === 2,
      'the gathered refusals to be reported',
      CLIENT_LIMIT_REPORT_INTERVAL_MS * 3,
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(CLIENT_LIMIT_REPORT_INTERVAL_MS - 5);
    expect(problems[1]).toEqual({
      code: ErrorCode.ClientLimit,
      message: '19 client connections refused: already 1 client attached (maxClients); closed',
      context: { connection: 'client#21' },
    });
  });
});

/** An identified in-memory client whose peer can half-close (end its sending side). */
async function attachHalfClosing(
  maze: Maze,
  idLine: string,
  options: { read?: boolean } = {},
): Promise<{ connection: string; peer: Duplex; received: Collector; halfClose(): Promise<void> }> {
  const [ours, peer] = duplexPair();
  const connection = maze.attachClient(ours);
  const received = new Collector(peer);
  if (options.read === false) peer.pause();
  const identified = waitForClientEvent(maze, 'clientIdentified', connection);
  peer.write(idLine);
  await identified;
  const halfClose = (): Promise<void> => {
    // The maze's own 'end' listener came first: once this one runs, the maze has seen it.
    const ended = new Promise<void>((resolve) => ours.once('end', () => resolve()));
    peer.end();
    return withTimeout(ended, 5_000, `${connection} to see its peer's end`);
  };
  return { connection, peer, received, halfClose };
}

describe('a maze at maxClients with half-closed clients', () => {
  const newMaze = useMemoryMazes();

  it('closes the longest half-closed idle client for a new one, reports it, and serves the new one', async () => {
    const { maze, problems } = newMaze({ maxClients: 3 });
    const one = await attachHalfClosing(maze, '1\n');
    const two = await attachHalfClosing(maze, '2\n');
    const three = await attachMemoryClient(maze, '3\n');
    await two.halfClose();
    await one.halfClose();
    expect(maze.stats().clientsHalfClosed).toBe(2);

    const four = await attachMemoryClient(maze, '4\n');
    await two.received.waitForEnd();
    expect(problems).toEqual([
      {
        code: ErrorCode.ClientEvicted,
        message:
          'half-closed client with nothing queued closed to make room for new connections: 3 clients attached (maxClients)',
        context: { connection: two.connection },
      },
    ]);
    expect(maze.stats()).toMatchObject({
      clientsConnected: 3,
      clientsEvicted: 1,
      clientsHalfClosed: 1,
      clientsRefused: 0,
    });

    // The half-closed one left is still served, as are the others.
    const source = attachMemorySource(maze);
    source.peer.write('1|B\n2|P|3|1\n');
    await one.received.waitForLength('1|B\n2|P|3|1\n'.length);
    await Promise.all([three.received.waitForLength(4), four.received.waitForLength(4)]);
    expect(one.received.text).toBe('1|B\n2|P|3|1\n');
    expect(four.received.text).toBe('1|B\n');
    expect(two.received.text).toBe('');

    // Next: the other half-closed one gives way; then no one can, and the next is refused.
    const five = await attachMemoryClient(maze, '5\n');
    await one.received.waitForEnd();
    const [refused] = duplexPair();
    maze.attachClient(refused);
    expect(refused.destroyed).toBe(true);
    expect(maze.stats()).toMatchObject({
      clientsConnected: 3,
      clientsEvicted: 2,
      clientsRefused: 1,
    });
    source.peer.write('3|B\n');
    await five.received.waitForLength(4);
    expect(five.received.text).toBe('3|B\n');
    expect(problems.map((problem) => problem.code)).toEqual([
      ErrorCode.ClientEvicted,
      ErrorCode.ClientLimit,
    ]);
  });

  it('keeps a half-closed client whose output is still queued, and takes it once it has read it', async () => {
    const { maze, problems } = newMaze({ maxClients: 2 });
    const stuck = await attachHalfClosing(maze, '1\n', { read: false });
    const idle = await attachHalfClosing(maze, '2\n');
    const source = attachMemorySource(maze);
    // Well over what an in-memory pair takes without reading: the rest stays queued.
    const events = Array.from({ length: 10_000 }, (_, i) => `${i + 1}|B\n`).join('');
    source.peer.write(events);
    await idle.received.waitForLength(events.length);
    await stuck.halfClose();
    await idle.halfClose();
    const stuckStream = () =>
      maze.clients(0, 2).items.find((c) => c.connection === stuck.connection);
    expect(stuckStream()?.queuedBytes).toBeGreaterThan(0);

    // The one half-closed first still has output queued: the other gives way.
    const newcomer = await attachMemoryClient(maze, '3\n');
    await idle.received.waitForEnd();
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientEvicted,
        context: { connection: idle.connection },
      }),
    ]);
    // Now only the one being served is half-closed: a new connection is refused.
    const [refused] = duplexPair();
    maze.attachClient(refused);
    expect(refused.destroyed).toBe(true);
    expect(maze.stats()).toMatchObject({ clientsEvicted: 1, clientsRefused: 1 });

    // It reads everything: with nothing queued any more, it gives way to the next one.
    stuck.peer.resume();
    await stuck.received.waitForLength(events.length);
    await waitUntil(() => stuckStream()?.queuedBytes === 0, 'the queue to empty');
    expect(stuck.received.text).toBe(events);
    const last = await attachMemoryClient(maze, '4\n');
    await stuck.received.waitForEnd();
    expect(maze.stats()).toMatchObject({
      clientsConnected: 2,
      clientsEvicted: 2,
      clientsRefused: 1,
    });
    source.peer.write('10001|B\n');
    await Promise.all([newcomer.received.waitForLength(8), last.received.waitForLength(8)]);
    expect([newcomer.received.text, last.received.text]).toEqual(['10001|B\n', '10001|B\n']);
  });
});

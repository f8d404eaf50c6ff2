/**
 * The snapshot writer (lib/cluster/snapshot-writer.ts) and late gateways that start from its
 * snapshots, on `MemoryEventLog` and `MemorySnapshotStore`: snapshots every N events or T ms
 * of the state after a whole batch, one save at a time, a restart that goes on from the
 * newest snapshot, and a gateway started after retention dropped the first batches that
 * delivers exactly what one maze delivers (follows made before it started included).
 */
import { describe, expect, it } from '@jest/globals';
import type { EventLog } from '../../lib/cluster/event-log.js';
import { createGateway, type Gateway } from '../../lib/cluster/gateway.js';
import { createIngest, type Ingest } from '../../lib/cluster/ingest.js';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import {
  MemorySnapshotStore,
  type SnapshotStore,
  type StoredSnapshot,
} from '../../lib/cluster/snapshot-store.js';
import { createSnapshotWriter, type SnapshotWriter } from '../../lib/cluster/snapshot-writer.js';
import { MazeCore } from '../../lib/core/maze-core.js';
import { ErrorCode } from '../../lib/errors.js';
import { collectProblems, useClosing } from '../helpers/closing.js';
import { edgesOf, newestIn, opened } from '../helpers/graphs.js';
import {
  attachMemorySource,
  attachUsers,
  expectSameDeliveries,
  sleep,
  useMemoryMazes,
  WAIT_MS,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';
import { generateEventLines, mulberry32, shuffleInBatches } from '../helpers/streams.js';

const track = useClosing();

/** Appends `lines` as batches of `perBatch`, numbered from 1; returns the batches' last numbers. */
async function appendLines(log: MemoryEventLog, lines: readonly string[], perBatch: number) {
  // As an ingest does before its first append (nothing if the log records settings already).
  const startSequence = Number(lines[0]?.split('|')[0]);
  await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence, delimiter: '|' }, 1);
  let position = (await log.tail())?.position ?? 0;
  for (let at = 0; at < lines.length; at += perBatch) {
    const batch = lines.slice(at, at + perBatch);
    const first = Number(batch[0]?.split('|')[0]);
    const last = Number(batch.at(-1)?.split('|')[0]);
    await log.append({ firstSequence: first, lastSequence: last, lines: batch }, { position });
    position++;
  }
}

/** A store whose saves wait until the test releases them. */
class HeldStore implements SnapshotStore {
  readonly inner = new MemorySnapshotStore();
  readonly waiting: (() => void)[] = [];
  fail = false;

  readonly where = 'a held store';

  save(bytes: Uint8Array, position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push(() => {
        if (this.fail) reject(new Error('bucket unavailable'));
        else void this.inner.save(bytes, position).then(resolve);
      });
    });
  }

  list(): Promise<readonly StoredSnapshot[]> {
    return this.inner.list();
  }

  read(name: string): Promise<Uint8Array | undefined> {
    return this.inner.read(name);
  }

  releaseAll(): void {
    for (const release of this.waiting.splice(0)) release();
  }
}

/** The graph a core has after `lines`, as sorted `followee>follower` strings. */
function graphAfter(lines: readonly string[]): string[] {
  const core = new MazeCore();
  for (const line of lines) core.applyInOrder(line);
  return edgesOf(core.graph);
}

/** The newest snapshot in `store`, taken from `log`, with the edges of the graph it restores. */
async function snapshotIn(store: SnapshotStore, log: EventLog) {
  const snapshot = opened(await newestIn(store), (await log.identity()).epoch);
  const core = new MazeCore();
  core.restore(snapshot);
  return { ...snapshot, edges: edgesOf(core.graph) };
}

const LINES = generateEventLines({ count: 400, users: 20, seed: 3 });

describe('SnapshotWriter', () => {
  it('saves the state after a whole batch once N events have been applied', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    const writer = track(await createSnapshotWriter({ log, store, snapshotEvents: 100 }));
    await appendLines(log, LINES, 30);
    await waitUntil(() => writer.stats().snapshotLogPosition === 14, 'the whole log applied');
    await waitUntil(() => writer.stats().snapshotsSaved === 3, 'three snapshots');
    // Due after 120, 240 and 360 events: positions 4, 8 and 12.
    const snapshot = await snapshotIn(store, log);
    expect(snapshot).toMatchObject({ position: 12, lastSequence: 360 });
    expect(snapshot.edges).toEqual(graphAfter(LINES.slice(0, 360)));
    expect(writer.stats()).toMatchObject({ snapshotPosition: 12, snapshotFailures: 0 });
  });

  it('skips a foreign message and forged follows on the log: its snapshot holds only the real ones', async () => {
    const log = new MemoryEventLog();
    // Written by this version (settings recorded): batches must follow one another exactly.
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
    const store = new MemorySnapshotStore();
    const writer = track(await createSnapshotWriter({ log, store, snapshotEvents: 400 }));
    const problems = collectProblems(writer);
    await appendLines(log, LINES.slice(0, 200), 50);
    log.publish('hello\n');
    log.publish('FMB1 9000000000 9000000000 1\n9000000000|F|1|2\n');
    log.publish('FMB1 100 100 1\n100|F|3|4\n');
    log.publish('FMB1 150 210 1\n150|F|5|6\n');
    await appendLines(log, LINES.slice(200), 50);
    await waitUntil(() => writer.stats().snapshotsSaved === 1, 'a snapshot');
    const snapshot = await snapshotIn(store, log);
    expect(snapshot).toMatchObject({ position: 12, lastSequence: 400 });
    expect(snapshot.edges).toEqual(graphAfter(LINES));
    expect(writer.stopped).toBe(false);
    expect(problems).toEqual([]);
  });

  it('saves after the interval while events arrive, whatever their number', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    let now = 0;
    const writer = track(
      await createSnapshotWriter({ log, store, snapshotInterval: 1_000, now: () => now }),
    );
    await appendLines(log, LINES.slice(0, 10), 10);
    await waitUntil(() => writer.stats().snapshotLogPosition === 1, 'batch 1');
    now = 1_000;
    await appendLines(log, LINES.slice(10, 20), 10);
    await waitUntil(() => writer.stats().snapshotsSaved === 1, 'the snapshot');
    expect((await snapshotIn(store, log)).position).toBe(2);
  });

  it('keeps one save in flight; a snapshot due meanwhile waits for the next batch', async () => {
    const log = new MemoryEventLog();
    const store = new HeldStore();
    const writer = track(await createSnapshotWriter({ log, store, snapshotEvents: 10 }));
    await appendLines(log, LINES.slice(0, 50), 10);
    await waitUntil(() => writer.stats().snapshotLogPosition === 5, 'five batches');
    expect(store.waiting).toHaveLength(1);
    store.releaseAll();
    await appendLines(log, LINES.slice(50, 60), 10);
    await waitUntil(() => store.waiting.length === 1, 'the next save');
    store.releaseAll();
    await waitUntil(() => writer.stats().snapshotsSaved === 2, 'two saves');
    expect((await snapshotIn(store, log)).position).toBe(6);
  });

  it('reports a failed save and saves again later', async () => {
    const log = new MemoryEventLog();
    const store = new HeldStore();
    const writer = track(await createSnapshotWriter({ log, store, snapshotEvents: 10 }));
    const problems = collectProblems(writer);
    store.fail = true;
    await appendLines(log, LINES.slice(0, 10), 10);
    await waitUntil(() => store.waiting.length === 1, 'a save');
    store.releaseAll();
    await waitUntil(() => writer.stats().snapshotFailures === 1, 'the failure');
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.LogFailed]);
    store.fail = false;
    await appendLines(log, LINES.slice(10, 20), 10);
    await waitUntil(() => store.waiting.length === 1, 'the next save');
    store.releaseAll();
    await waitUntil(() => writer.stats().snapshotsSaved === 1, 'a save');
  });

  it('parses the log with its delimiter, and stops at a batch that records another', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    const writer = track(
      await createSnapshotWriter({ log, store, snapshotEvents: 10, delimiter: ';' }),
    );
    const problems = collectProblems(writer);
    const lines = LINES.slice(0, 10).map((line) => line.replaceAll('|', ';'));
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: ';' }, 1);
    await log.append(
      { firstSequence: 1, lastSequence: 10, lines, delimiter: ';' },
      {
        position: 0,
      },
    );
    await waitUntil(() => writer.stats().snapshotsSaved === 1, 'a snapshot');
    const edges = graphAfter(LINES.slice(0, 10));
    expect(edges.length).toBeGreaterThan(0);
    expect((await snapshotIn(store, log)).edges).toEqual(edges);
    await log.append({ firstSequence: 11, lastSequence: 11, lines: ['11|B\n'] }, { position: 1 });
    await waitUntil(() => writer.stopped, 'the writer to stop');
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.LogConfig]);
    expect(writer.stats()).toMatchObject({ snapshotLogPosition: 1, snapshotsSaved: 1 });
  });

  it('stops, says so and counts it when retention dropped what it had not read', async () => {
    const log = new MemoryEventLog({ retainBatches: 2 });
    await appendLines(log, LINES.slice(0, 50), 10);
    const writer = track(
      await createSnapshotWriter({ log, store: new MemorySnapshotStore(), snapshotEvents: 10 }),
    );
    const problems = collectProblems(writer);
    await waitUntil(() => writer.stopped, 'the writer to stop');
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.LogTruncated]);
    expect(writer.stats()).toMatchObject({ snapshotWriterStopped: true, snapshotsSaved: 0 });
  });

  it('goes on from the newest snapshot when started again', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    const first = await createSnapshotWriter({ log, store, snapshotEvents: 100 });
    await appendLines(log, LINES.slice(0, 200), 50);
    await waitUntil(() => first.stats().snapshotsSaved === 2, 'two snapshots');
    await first.close();
    const second = track(await createSnapshotWriter({ log, store, snapshotEvents: 100 }));
    expect(second.stats()).toMatchObject({ snapshotPosition: 4, snapshotLogPosition: 4 });
    await appendLines(log, LINES.slice(200, 300), 50);
    await waitUntil(() => second.stats().snapshotsSaved === 1, 'a snapshot');
    const snapshot = await snapshotIn(store, log);
    expect(snapshot.position).toBe(6);
    expect(snapshot.edges).toEqual(graphAfter(LINES.slice(0, 300)));
  });

  it('started again beside a corrupt newest snapshot, reports it and goes on from the older one', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    const first = await createSnapshotWriter({ log, store, snapshotEvents: 100 });
    await appendLines(log, LINES.slice(0, 200), 50);
    await waitUntil(() => first.stats().snapshotsSaved === 2, 'two snapshots');
    await first.close();
    const newest = await newestIn(store);
    store.overwrite(0, newest.subarray(0, newest.length - 8));
    const second = track(await createSnapshotWriter({ log, store, snapshotEvents: 100 }));
    const problems = collectProblems(second);
    expect(second.stats()).toMatchObject({ snapshotPosition: 2, snapshotsRefused: 1 });
    await appendLines(log, LINES.slice(200, 300), 50);
    // At 4 again (in place of the corrupt one), then at 6.
    await waitUntil(() => second.stats().snapshotsSaved === 2, 'two snapshots');
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.SnapshotBad]);
    const snapshot = await snapshotIn(store, log);
    expect(snapshot.position).toBe(6);
    expect(snapshot.edges).toEqual(graphAfter(LINES.slice(0, 300)));
  });

  it('stops when the log is deleted and created again, and saves nothing of the new one', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    const writer = track(await createSnapshotWriter({ log, store, snapshotEvents: 100 }));
    const problems = collectProblems(writer);
    await appendLines(log, LINES.slice(0, 100), 50);
    await waitUntil(() => store.saves === 1, 'a snapshot');
    log.replace();
    await appendLines(log, LINES.slice(0, 300), 50);
    await waitUntil(() => writer.stopped, 'the writer to stop');
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.LogReplaced]);
    expect(store.saves).toBe(1);
    expect(writer.stats()).toMatchObject({ snapshotLogPosition: 2, snapshotsSaved: 1 });

    // Started again beside the old bucket, on a log past its snapshot: the old snapshot is
    // refused, never applied, and the new log read from its start.
    const replaced = new MemoryEventLog();
    await appendLines(replaced, LINES.slice(100, 400), 50);
    const again = track(await createSnapshotWriter({ log: replaced, store, snapshotEvents: 100 }));
    expect(again.stats()).toMatchObject({ snapshotPosition: 0, snapshotsRefused: 1 });
    const refused = collectProblems(again);
    await waitUntil(() => again.stats().snapshotLogPosition === 6, 'the new log read');
    expect(refused.map((problem) => problem.message)).toEqual([
      expect.stringMatching(/unusable \(it was taken from another stream \(epoch /),
    ]);
    expect((await snapshotIn(store, replaced)).edges).toEqual(graphAfter(LINES.slice(100, 400)));
  });

  it('refuses a log recorded with another maxFollowEdges, naming both values', async () => {
    const log = new MemoryEventLog();
    await log.recordSettings({ maxFollowEdges: 100, startSequence: 1, delimiter: '|' }, 1);
    await expect(
      createSnapshotWriter({ log, store: new MemorySnapshotStore(), maxFollowEdges: 50 }),
    ).rejects.toThrow('maxFollowEdges 100 (recorded by its writer), this snapshot writer has 50');
  });
});

describe('a gateway started late, from a snapshot', () => {
  const newMaze = useMemoryMazes();

  it('delivers what one maze delivers after retention dropped the first batches', async () => {
    const users = 15;
    const rng = mulberry32(5);
    // Many follows before the gateway starts, so status updates after it depend on them.
    const before = generateEventLines({
      count: 80_000,
      users,
      seed: 9,
      mix: { F: 60, U: 5, B: 5, P: 10, S: 20 },
    });
    const after = generateEventLines({ count: 3_000, users, seed: 10, start: 80_001 });
    // About 1 MB of batches; the log keeps the last 600 KB.
    const log = new MemoryEventLog({ retainBytes: 600_000 });
    const store = new MemorySnapshotStore();
    const ingest: Ingest = track(await createIngest({ log }));
    const writer: SnapshotWriter = track(
      await createSnapshotWriter({ log, store, snapshotEvents: 2_000 }),
    );

    const { maze } = newMaze();

    const direct = attachMemorySource(maze);
    direct.peer.write(shuffleInBatches(before, 50, rng).join(''));
    const source = attachMemorySource(ingest);
    // Paced, as a real source is: the snapshot writer reads the log as fast as it grows.
    const shuffled = shuffleInBatches(before, 50, rng);
    for (let at = 0; at < shuffled.length; at += 2_000) {
      source.peer.write(shuffled.slice(at, at + 2_000).join(''));
      await sleep(1);
    }
    await waitUntil(() => maze.stats().eventsApplied === 80_000, 'the maze applying 80,000');
    await waitUntil(() => ingest.stats().eventsAppended === 80_000, 'the ingest appending 80,000');
    const tail = await log.tail();
    await waitUntil(
      () => writer.stats().snapshotLogPosition === tail?.position,
      'the snapshot writer reading the whole log',
    );
    await waitUntil(() => writer.stats().snapshotPosition > 0, 'a snapshot');
    await expect(withTimeout(log.read(1).next(), WAIT_MS, 'position 1')).rejects.toMatchObject({
      code: ErrorCode.LogTruncated,
    });

    const gateway: Gateway = track(await createGateway({ log, snapshots: store }));
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    expect(gateway.stats().startSnapshotPosition).toBeGreaterThan(0);
    expect(gateway.stats().logPosition).toBe(tail?.position);
    const reference = await attachUsers(maze, users);
    const served = await attachUsers(gateway, users);

    direct.peer.write(after.join(''));
    source.peer.write(after.join(''));
    await waitUntil(() => maze.stats().eventsApplied === 83_000, 'the maze applying the rest');
    await waitUntil(() => gateway.stats().nextSequence === 83_001, 'the gateway applying the rest');
    const statusUpdates = after.filter((line) => line.includes('|S|')).length;
    expect(statusUpdates).toBeGreaterThan(500);
    const notified = await expectSameDeliveries(served, reference);
    expect(notified).toBeGreaterThan(statusUpdates);
  });

  it('refuses a snapshot of a replaced stream, even one within the new log, and reads the log', async () => {
    const store = new MemorySnapshotStore();
    const old = new MemoryEventLog();
    const writer = await createSnapshotWriter({ log: old, store, snapshotEvents: 1 });
    await appendLines(old, LINES.slice(0, 20), 10);
    await waitUntil(() => writer.stats().snapshotPosition === 2, 'a snapshot at 2');
    await writer.close();
    for (const batches of [0, 3]) {
      const replaced = new MemoryEventLog();
      await appendLines(replaced, LINES.slice(20, 20 + 10 * batches), 10);
      const gateway = track(await createGateway({ log: replaced, snapshots: store }));
      await withTimeout(gateway.ready, WAIT_MS, 'the gateway ready');
      expect(gateway.stats()).toMatchObject({
        startSnapshotPosition: 0,
        startSnapshotsRefused: 2,
        batchesApplied: batches,
      });
    }
  });
});

/**
 * Restoring from a snapshot store (lib/cluster/snapshot-store.ts) and the checksum its
 * snapshots carry (lib/cluster/snapshot-checksum.ts), on `MemorySnapshotStore` and
 * `MemoryEventLog`: a snapshot cut short, changed, replaced by garbage or claiming a huge
 * graph is reported and an older one restored, else the log from position 1; only when the
 * log no longer holds it either does restoring reject, saying what to do.
 */
import { describe, expect, it } from '@jest/globals';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import {
  maxStoredSnapshotBytes,
  openSnapshot,
  sealSnapshot,
} from '../../lib/cluster/snapshot-checksum.js';
import {
  MemorySnapshotStore,
  restoreNewest,
  SNAPSHOTS_KEPT,
} from '../../lib/cluster/snapshot-store.js';
import { encodeGraphSnapshot } from '../../lib/core/graph-snapshot.js';
import { MazeCore } from '../../lib/core/maze-core.js';
import { ErrorCode, type Problem } from '../../lib/errors.js';
import { edgesOf, opened } from '../helpers/graphs.js';
import { generateEventLines } from '../helpers/streams.js';

const LINES = generateEventLines({ count: 300, users: 20, seed: 11 });
/** The epoch of the log the snapshots are taken from. */
const EPOCH = '2026-12-07T21:00:00.000000001Z';
const PER_BATCH = 50;

/**
 * The log of `LINES` in batches of `PER_BATCH` (the oldest dropped past `retainBatches`), up to
 * `batches` of them.
 */
async function logOfLines(
  retainBatches?: number,
  batches = LINES.length / PER_BATCH,
): Promise<MemoryEventLog> {
  const log = new MemoryEventLog(retainBatches === undefined ? {} : { retainBatches });
  for (let at = 0; at < batches * PER_BATCH; at += PER_BATCH) {
    const lines = LINES.slice(at, at + PER_BATCH);
    await log.append(
      { firstSequence: at + 1, lastSequence: at + lines.length, lines },
      { position: at / PER_BATCH },
    );
  }
  return log;
}

/** The core after the first `position` batches. */
function coreAt(position: number): MazeCore {
  const core = new MazeCore();
  for (const line of LINES.slice(0, position * PER_BATCH)) core.applyInOrder(line);
  return core;
}

/** The sealed snapshot after the first `position` batches of the log of `epoch`. */
function snapshotAt(position: number, epoch = EPOCH): Uint8Array {
  return sealSnapshot(
    encodeGraphSnapshot(coreAt(position).graph, {
      position,
      lastSequence: position * PER_BATCH,
    }),
    epoch,
  );
}

/** A store holding the snapshots at `positions`, saved in that order. */
async function storeOf(positions: readonly number[]): Promise<MemorySnapshotStore> {
  const store = new MemorySnapshotStore();
  for (const position of positions) await store.save(snapshotAt(position), position);
  return store;
}

/** Restores a new core from `store` over `log`: where it stands, its edges, what was reported. */
async function restore(store: MemorySnapshotStore, log: MemoryEventLog) {
  const core = new MazeCore();
  const problems: Problem[] = [];
  const at = await restoreNewest(core, store, log, EPOCH, (problem) => problems.push(problem));
  return { at, edges: edgesOf(core.graph), problems };
}

/** Ways a stored snapshot goes bad. */
const DAMAGE: Record<string, (bytes: Uint8Array) => Uint8Array> = {
  'cut short by 8 bytes': (bytes) => bytes.subarray(0, bytes.length - 8),
  'one byte changed': (bytes) => bytes.map((byte, index) => (index === 200 ? byte ^ 1 : byte)),
  garbage: (bytes) => bytes.map((_, index) => (index * 31 + 7) % 256),
  'a header claiming a huge graph': () =>
    new TextEncoder().encode('FMS1 5 250 9007199254740991 9007199254740991 8388608\n'),
  'a frame claiming a huge snapshot': (bytes) =>
    new Uint8Array([
      ...new TextEncoder().encode(`FMC2 9007199254740991 ${'0'.repeat(64)} ${EPOCH}\n`),
      ...bytes.subarray(bytes.indexOf(0x0a) + 1),
    ]),
};

describe('the checksum of a stored snapshot', () => {
  it('opens what it sealed, and refuses it changed in any way', () => {
    const bytes = snapshotAt(3);
    expect(opened(bytes, EPOCH)).toMatchObject({ position: 3, lastSequence: 150 });
    for (const [damage, apply] of Object.entries(DAMAGE)) {
      expect([damage, openSnapshot(apply(bytes), EPOCH).ok]).toEqual([damage, false]);
    }
    expect(openSnapshot(DAMAGE['one byte changed']?.(bytes) ?? bytes, EPOCH)).toEqual({
      ok: false,
      reason: 'its checksum does not match',
    });
  });

  it('refuses a snapshot of another epoch of the log, and one without a frame', () => {
    expect(openSnapshot(snapshotAt(2, 'another-epoch'), EPOCH)).toEqual({
      ok: false,
      reason: `it was taken from another stream (epoch another-epoch, this one is ${EPOCH}): the stream was deleted and created again since`,
    });
    const plain = encodeGraphSnapshot(coreAt(2).graph, { position: 2, lastSequence: 100 });
    expect(openSnapshot(plain, EPOCH)).toEqual({
      ok: false,
      reason: 'not a snapshot (no "FMC2 <length> <sha256> <epoch>" header)',
    });
    expect(() => sealSnapshot(plain, 'an epoch')).toThrow(/printable ASCII/);
  });

  it('bounds a stored snapshot by the graph bound', () => {
    const core = coreAt(6);
    const bytes = snapshotAt(6);
    expect(bytes.length).toBeLessThanOrEqual(maxStoredSnapshotBytes(core.graph.edgeCount));
    // Every edge with its own followee: the largest graph of that many edges.
    const graph = new MazeCore({ maxFollowEdges: 1_000 });
    for (let user = 1; user <= 1_000; user++) graph.applyInOrder(`${user}|F|${user}|${user + 1}\n`);
    expect(graph.graph.followeeCount).toBe(1_000);
    const largest = sealSnapshot(
      encodeGraphSnapshot(graph.graph, { position: 9, lastSequence: 1_000 }),
      'e'.repeat(64),
    );
    expect(largest.length).toBeLessThanOrEqual(maxStoredSnapshotBytes(1_000));
  });
});

describe('restoreNewest()', () => {
  it(`keeps the ${SNAPSHOTS_KEPT} newest snapshots and restores the newest`, async () => {
    const store = await storeOf([1, 2, 3, 4, 5]);
    expect((await store.list()).map((stored) => stored.name)).toEqual([
      'graph-5',
      'graph-4',
      'graph-3',
    ]);
    const restored = await restore(store, await logOfLines());
    expect(restored).toEqual({
      at: { position: 5, lastSequence: 250 },
      edges: edgesOf(coreAt(5).graph),
      problems: [],
    });
  });

  for (const [damage, apply] of Object.entries(DAMAGE)) {
    it(`falls back on the older snapshot when the newest is ${damage}`, async () => {
      const store = await storeOf([3, 4, 5]);
      store.overwrite(0, apply(snapshotAt(5)));
      const restored = await restore(store, await logOfLines());
      expect(restored.at).toEqual({ position: 4, lastSequence: 200 });
      expect(restored.edges).toEqual(edgesOf(coreAt(4).graph));
      expect(restored.problems.map((problem) => problem.code)).toEqual([ErrorCode.SnapshotBad]);
      expect(restored.problems[0]?.message).toMatch(/^snapshot graph-5 in memory is unusable \(/);
    });
  }

  it('refuses unread a snapshot larger than the graph bound allows', async () => {
    const store = await storeOf([4, 5]);
    const core = new MazeCore({ maxFollowEdges: 1 });
    const problems: Problem[] = [];
    await expect(
      restoreNewest(core, store, await logOfLines(), EPOCH, (problem) => problems.push(problem)),
    ).resolves.toBeUndefined();
    expect(problems.map((problem) => problem.message)).toEqual([
      expect.stringContaining(
        'more than a graph of maxFollowEdges 1 takes: not a snapshot, or one taken with a larger maxFollowEdges',
      ),
      expect.stringContaining(
        'more than a graph of maxFollowEdges 1 takes: not a snapshot, or one taken with a larger maxFollowEdges',
      ),
    ]);
  });

  it('never applies a snapshot of another epoch: an older one of this epoch, else the log', async () => {
    const store = new MemorySnapshotStore();
    await store.save(snapshotAt(3), 3);
    await store.save(snapshotAt(5, 'deleted-stream'), 5);
    const restored = await restore(store, await logOfLines());
    expect(restored.at).toEqual({ position: 3, lastSequence: 150 });
    expect(restored.edges).toEqual(edgesOf(coreAt(3).graph));
    expect(restored.problems.map((problem) => problem.message)).toEqual([
      expect.stringMatching(
        /^snapshot graph-5 in memory is unusable \(it was taken from another stream \(epoch deleted-stream/,
      ),
    ]);
    const stale = new MemorySnapshotStore();
    await stale.save(snapshotAt(5, 'deleted-stream'), 5);
    const fromLog = await restore(stale, await logOfLines());
    expect(fromLog).toMatchObject({ at: undefined, edges: [] });
    expect(fromLog.problems.map((problem) => problem.code)).toEqual([ErrorCode.SnapshotBad]);
  });

  it("never applies a snapshot of this epoch beyond the log's end (the stream restored from an older backup)", async () => {
    const store = await storeOf([2, 3, 5]);
    // A stream restored from a backup keeps its creation time, its epoch, but not what came after.
    const restored = await restore(store, await logOfLines(undefined, 4));
    expect(restored.at).toEqual({ position: 3, lastSequence: 150 });
    expect(restored.edges).toEqual(edgesOf(coreAt(3).graph));
    expect(restored.problems.map((problem) => problem.message)).toEqual([
      "snapshot graph-5 in memory is unusable (it stands at log position 5, beyond the log's end (4)); trying an older one, else the event log from position 1",
    ]);
  });

  it('reads the log from position 1 when every snapshot is bad and the log holds it', async () => {
    const store = await storeOf([3, 4, 5]);
    for (let index = 0; index < SNAPSHOTS_KEPT; index++) {
      store.overwrite(index, DAMAGE.garbage?.(snapshotAt(5)) ?? new Uint8Array());
    }
    const restored = await restore(store, await logOfLines());
    expect(restored.at).toBeUndefined();
    expect(restored.edges).toEqual([]);
    expect(restored.problems).toHaveLength(SNAPSHOTS_KEPT);
  });

  it('skips an older snapshot whose log is gone, for one whose log is held', async () => {
    // The log keeps positions 3 to 6: the snapshot at 1 is no use, the one at 2 is.
    const store = await storeOf([1, 2, 5]);
    store.overwrite(0, new Uint8Array(8));
    const restored = await restore(store, await logOfLines(4));
    expect(restored.at).toEqual({ position: 2, lastSequence: 100 });
    expect(restored.problems).toHaveLength(1);
  });

  it('rejects, saying what to do, when neither a snapshot nor the log can rebuild the graph', async () => {
    const store = await storeOf([1, 2, 3]);
    store.overwrite(0, new Uint8Array(8));
    const log = await logOfLines(2);
    const refusal = restore(store, log);
    await expect(refusal).rejects.toMatchObject({ code: ErrorCode.SnapshotBad });
    await expect(refusal).rejects.toThrow(
      /^no snapshot in memory is usable \(graph-3: .*; graph-2: the event log no longer holds position 3, after it; graph-1: the event log no longer holds position 2, after it\) and the event log no longer holds position 1: nothing can rebuild the follow graph\. Delete the stream and its snapshot bucket, then start the ingest again with the whole event source/,
    );
  });

  it('reads the log from position 1 without a snapshot, whatever the log holds', async () => {
    const restored = await restore(new MemorySnapshotStore(), await logOfLines(2));
    expect(restored).toEqual({ at: undefined, edges: [], problems: [] });
  });
});

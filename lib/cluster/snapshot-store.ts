/**
 * Where cluster mode keeps the newest snapshots of the follow graph (docs/protocol.md §11):
 * the ingest's snapshot writer saves, a starting gateway (or writer) restores.
 * `JetStreamSnapshotStore` keeps them in a NATS Object Store; `MemorySnapshotStore` in
 * memory, for tests.
 *
 * Invariants:
 * - A store keeps the `SNAPSHOTS_KEPT` newest snapshots saved and lists them newest first;
 *   `read()` gives back exactly the bytes saved (checked, and refused when they fail, by
 *   `restoreNewest()`); store failures are `MazeError`s with `ERR_LOG_…` codes.
 * - Restoring tries the snapshots newest first, then the log from position 1: a snapshot
 *   that fails its checks (its frame, or taken from another epoch of the log: see
 *   snapshot-checksum.ts, or beyond the log's end: a log that lost its last positions under
 *   the same epoch, restored from an older backup or after a power loss) is reported (`ERR_SNAPSHOT_BAD`) and
 *   skipped, never applied, and so is an older
 *   one whose next position the log no longer holds; a snapshot over the graph bound's size
 *   is refused unread. Only when neither a snapshot nor the log can rebuild the graph does
 *   it reject.
 */

import type { MazeCore } from '../core/maze-core.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import type { EventLog } from './event-log.js';
import { maxStoredSnapshotBytes, openSnapshot } from './snapshot-checksum.js';

/** Snapshots a store keeps: the newest, and older ones to start from when it fails its checks. */
export const SNAPSHOTS_KEPT = 3;

/** A snapshot a store holds. */
export interface StoredSnapshot {
  /** Its name in the store. */
  readonly name: string;
  /** Its size in bytes, as the store reports it. */
  readonly bytes: number;
}

export interface SnapshotStore {
  /** Where the snapshots are, for messages (`bucket FM_SNAPSHOTS`). */
  readonly where: string;
  /**
   * Keeps `bytes` (a sealed snapshot at log `position`) as the newest, dropping those beyond
   * `SNAPSHOTS_KEPT`.
   */
  save(bytes: Uint8Array, position: number): Promise<void>;
  /** The snapshots held, newest first. */
  list(): Promise<readonly StoredSnapshot[]>;
  /** The bytes saved as `name`, or `undefined` once it is gone (a newer save dropped it). */
  read(name: string): Promise<Uint8Array | undefined>;
}

/** A `SnapshotStore` in memory. */
export class MemorySnapshotStore implements SnapshotStore {
  readonly where = 'memory';
  /** Newest first. */
  #kept: { readonly name: string; bytes: Uint8Array }[] = [];
  /** Snapshots saved so far. */
  saves = 0;

  async save(bytes: Uint8Array, position: number): Promise<void> {
    this.saves++;
    const name = `graph-${position}`;
    // One per position, as in an Object Store, where a save replaces the object of its name.
    this.#kept = this.#kept.filter((kept) => kept.name !== name);
    this.#kept.unshift({ name, bytes: bytes.slice() });
    this.#kept.length = Math.min(this.#kept.length, SNAPSHOTS_KEPT);
  }

  async list(): Promise<readonly StoredSnapshot[]> {
    return this.#kept.map(({ name, bytes }) => ({ name, bytes: bytes.length }));
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    return this.#kept.find((kept) => kept.name === name)?.bytes.slice();
  }

  /** For tests: replaces the bytes of the `index`th newest snapshot. */
  overwrite(index: number, bytes: Uint8Array): void {
    const kept = this.#kept[index];
    if (kept === undefined) throw new MazeError(ErrorCode.InvalidState, `no snapshot ${index}`);
    kept.bytes = bytes.slice();
  }
}

/** Where a restored snapshot stands: its log position and the last event number there. */
export interface RestoredAt {
  readonly position: number;
  readonly lastSequence: number;
}

/**
 * Restores `core` from the newest snapshot of `store` that passes its checks, was taken from
 * the log's `epoch` and whose log `eventLog` still holds what follows it; where it stands, or `undefined` to read the log
 * from position 1 (no snapshot, or none usable while the log holds position 1). Each snapshot
 * refused is `report`ed (`ERR_SNAPSHOT_BAD`). Rejects with the store's or the log's error,
 * `ERR_INVALID_OPTION` for a snapshot over another `maxFollowEdges`, or `ERR_SNAPSHOT_BAD`
 * when nothing can rebuild the graph.
 */
export async function restoreNewest(
  core: MazeCore,
  store: SnapshotStore,
  eventLog: EventLog,
  epoch: string,
  report: (problem: Problem) => void,
): Promise<RestoredAt | undefined> {
  const maxBytes = maxStoredSnapshotBytes(core.graph.maxEdges);
  const refusals: string[] = [];
  const refuse = (name: string, reason: string): void => {
    refusals.push(`${name}: ${reason}`);
    report({
      code: ErrorCode.SnapshotBad,
      message: `snapshot ${name} in ${store.where} is unusable (${reason}); trying an older one, else the event log from position 1`,
      context: {},
    });
  };
  for (const stored of await store.list()) {
    if (stored.bytes > maxBytes) {
      refuse(
        stored.name,
        `${stored.bytes} bytes, more than a graph of maxFollowEdges ${core.graph.maxEdges} takes: not a snapshot, or one taken with a larger maxFollowEdges`,
      );
      continue;
    }
    const bytes = await store.read(stored.name);
    if (bytes === undefined) continue;
    const opened = openSnapshot(bytes, epoch);
    if (!opened.ok) {
      refuse(stored.name, opened.reason);
      continue;
    }
    const { position, lastSequence } = opened.snapshot;
    // Read after the snapshot, which the writer saved once the log held its position.
    const end = (await eventLog.tail())?.position ?? 0;
    if (position > end) {
      refuse(stored.name, `it stands at log position ${position}, beyond the log's end (${end})`);
      continue;
    }
    // The newest is read as ever (a log truncated after it stops its reader); an older one is
    // worth no more than the log after it.
    if (refusals.length > 0 && !(await logHolds(eventLog, position + 1))) {
      refuse(stored.name, `the event log no longer holds position ${position + 1}, after it`);
      continue;
    }
    core.restore(opened.snapshot);
    return { position, lastSequence };
  }
  if (refusals.length === 0 || (await logHolds(eventLog, 1))) return undefined;
  throw new MazeError(
    ErrorCode.SnapshotBad,
    `no snapshot in ${store.where} is usable (${refusals.join('; ')}) and the event log no longer holds position 1: nothing can rebuild the follow graph. Delete the stream and its snapshot bucket, then start the ingest again with the whole event source; a longer retention (--nats-max-bytes) keeps the log behind the older snapshots`,
  );
}

/** Whether `eventLog` holds `position`, or has not reached it yet (it will be read when appended). */
async function logHolds(eventLog: EventLog, position: number): Promise<boolean> {
  const tail = await eventLog.tail();
  if (tail === undefined || tail.position < position) return true;
  const reader = eventLog.read(position);
  try {
    return (await reader.next())?.position === position;
  } catch (error) {
    if (error instanceof MazeError && error.code === ErrorCode.LogTruncated) return false;
    throw error;
  } finally {
    await reader.close();
  }
}

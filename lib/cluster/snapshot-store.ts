/**
 * Where cluster mode keeps the newest snapshot of the follow graph (docs/protocol.md §11):
 * the ingest's snapshot writer saves, a starting gateway loads. `JetStreamSnapshotStore`
 * keeps it in a NATS Object Store; `MemorySnapshotStore` in memory, for tests.
 *
 * Invariants: a store holds at most one snapshot, the newest saved; `latest()` gives back
 * exactly the bytes saved (a snapshot is decoded, and refused when malformed, by its
 * reader); failures are `MazeError`s with `ERR_LOG_…` codes.
 */

import { decodeGraphSnapshot } from '../core/graph-snapshot.js';
import type { MazeCore } from '../core/maze-core.js';
import { ErrorCode, MazeError } from '../errors.js';

export interface SnapshotStore {
  /** Keeps `bytes` (an `FMS` graph snapshot) as the newest, in place of the one before. */
  save(bytes: Uint8Array): Promise<void>;
  /** The newest snapshot's bytes, or `undefined` when none was saved. */
  latest(): Promise<Uint8Array | undefined>;
}

/** A `SnapshotStore` in memory. */
export class MemorySnapshotStore implements SnapshotStore {
  #bytes: Uint8Array | undefined;
  /** Snapshots saved so far. */
  saves = 0;

  async save(bytes: Uint8Array): Promise<void> {
    this.#bytes = bytes.slice();
    this.saves++;
  }

  async latest(): Promise<Uint8Array | undefined> {
    return this.#bytes?.slice();
  }
}

/** Where a restored snapshot stands: its log position and the last event number there. */
export interface RestoredAt {
  readonly position: number;
  readonly lastSequence: number;
}

/**
 * Restores `core` from the newest snapshot of `store`; where it stands, or `undefined`
 * without one. Rejects with the store's error, or `ERR_LOG_BAD_BATCH` for a snapshot it
 * cannot decode.
 */
export async function restoreNewest(
  core: MazeCore,
  store: SnapshotStore,
): Promise<RestoredAt | undefined> {
  const bytes = await store.latest();
  if (bytes === undefined) return undefined;
  const decoded = decodeGraphSnapshot(bytes);
  if (!decoded.ok) {
    throw new MazeError(
      ErrorCode.LogBadBatch,
      `the newest snapshot is unusable: ${decoded.reason}`,
    );
  }
  core.restore(decoded.snapshot);
  const { position, lastSequence } = decoded.snapshot;
  return { position, lastSequence };
}

/**
 * Throws `ERR_LOG_CONFIG` when a snapshot stands at log position `start`, beyond the log's
 * last position `end`: the stream was created again and the snapshot is the old one's.
 */
export function checkSnapshotWithinLog(start: number, end: number): void {
  if (start <= end) return;
  throw new MazeError(
    ErrorCode.LogConfig,
    `the newest snapshot stands at log position ${start}, beyond the log's end (${end}): the stream was replaced; delete its snapshot bucket`,
  );
}

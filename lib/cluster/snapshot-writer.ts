/**
 * The snapshot writer of cluster mode (docs/protocol.md §11), run beside the ingest: it
 * follows the event log with its own `MazeCore` (no clients: only the follow graph matters)
 * and saves a snapshot of the graph every `snapshotEvents` events, or `snapshotInterval`
 * after the last one while events arrive, so a gateway that starts late loads the newest
 * snapshot and reads the log from there instead of from its first batch.
 *
 * Invariants:
 * - A snapshot is the state after a whole batch: the graph once that batch is applied, its
 *   position and its `lastSequence` (`encodeGraphSnapshot()`), encoded at once, so later
 *   batches never leak into it while it is saved.
 * - At most one save is in flight; a snapshot due meanwhile waits for the next batch. No
 *   timer: a log that stops growing needs no new snapshot.
 * - Start: from the newest snapshot in the store that passes its checks (a restarted ingest
 *   goes on from there), else from the first batch (`restoreNewest()`); each snapshot it
 *   refused is a `'problem'`. Every snapshot it saves carries its checksum and the log's
 *   epoch (snapshot-checksum.ts). It applies the batches that continue the log as a gateway does
 *   (log-continuity.ts) and skips the rest without a word: the ingest and the gateways
 *   report them. The graph bound (`maxFollowEdges`) must be the gateways': the same events
 *   then make the same graph everywhere.
 * - The log's epoch is the one found at start: a log deleted and created again stops the
 *   writer, so no snapshot mixes two logs; another `maxFollowEdges` or `delimiter` recorded
 *   by the writer is refused (`ERR_LOG_CONFIG`), at start and later.
 * - Problems (a save failed, the log cannot be followed) are `'problem'` events: snapshots
 *   are an optimisation, the ingest goes on without them. A writer that cannot follow the log
 *   any more stops writing (`stopped`).
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { encodeGraphSnapshot } from '../core/graph-snapshot.js';
import { MazeCore } from '../core/maze-core.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { resolveOptions, type SettingsOf } from '../options/option.js';
import { bodyOf } from './batch-codec.js';
import {
  checkLogDelimiter,
  checkLogEpoch,
  checkLogRecord,
  checkLogSettings,
  checkRecordKept,
  type EventLog,
  type LogBatch,
  type LogIdentity,
} from './event-log.js';
import { type FollowFrom, LogFollower } from './log-follower.js';
import { SNAPSHOT_WRITER_OPTIONS } from './options.js';
import { sealSnapshot } from './snapshot-checksum.js';
import { restoreNewest, type SnapshotStore } from './snapshot-store.js';

const log = createDebug('follower-maze:snapshots');

export interface SnapshotWriterOptions {
  readonly log: EventLog;
  readonly store: SnapshotStore;
  /** Events between two snapshots. Default 1,000,000. */
  readonly snapshotEvents?: number;
  /** Most milliseconds between two snapshots while events arrive. Default 60000. */
  readonly snapshotInterval?: number;
  /** The graph bound; give it the gateways'. Default 2^23. */
  readonly maxFollowEdges?: number;
  /** The ingest's delimiter; a batch with another one stops the writer. Default `|`. */
  readonly delimiter?: string;
  /** The clock (ms); `Date.now` unless a test says otherwise. */
  readonly now?: () => number;
}

export interface SnapshotWriterStats {
  /** Snapshots saved. */
  readonly snapshotsSaved: number;
  /** Saves that failed. */
  readonly snapshotFailures: number;
  /** The log position of the newest snapshot saved (or loaded at start); 0: none. */
  readonly snapshotPosition: number;
  /** Bytes of the newest snapshot saved. */
  readonly snapshotBytes: number;
  /** The log position the writer has applied. */
  readonly snapshotLogPosition: number;
  /** Snapshots refused at start, as failing their checks (`ERR_SNAPSHOT_BAD`). */
  readonly snapshotsRefused: number;
  /** Whether it stopped following the log (retention dropped what it had not read): no more snapshots. */
  readonly snapshotWriterStopped: boolean;
}

export interface SnapshotWriterEventMap {
  problem: [problem: Problem];
  /** A snapshot was saved. */
  saved: [snapshot: { readonly position: number; readonly bytes: number }];
}

/**
 * Loads the newest snapshot that passes its checks (if any) and starts following the log
 * after it. Rejects with the store's error, `ERR_SNAPSHOT_BAD` when neither a snapshot nor
 * the log can rebuild the graph, or `ERR_LOG_CONFIG` for a log whose writer recorded another
 * `maxFollowEdges` or `delimiter`. A snapshot of another epoch of the log (a stream created
 * again beside an old bucket) is refused as bad, never applied.
 */
export async function createSnapshotWriter(
  options: SnapshotWriterOptions,
): Promise<SnapshotWriter> {
  const resolved = resolveOptions(SNAPSHOT_WRITER_OPTIONS, options);
  const identity = await options.log.identity();
  checkIdentity(identity, identity, resolved);
  const core = new MazeCore({
    maxFollowEdges: resolved.maxFollowEdges,
    delimiter: resolved.delimiter,
  });
  const refused: Problem[] = [];
  const restored = await restoreNewest(
    core,
    options.store,
    options.log,
    identity.epoch,
    (problem) => refused.push(problem),
  );
  checkRecordKept(identity, restored?.position, 'this snapshot writer');
  const from: FollowFrom = restored ?? { position: 0 };
  return new SnapshotWriter(options, resolved, core, from, identity, refused);
}

/** Throws unless `found` is the epoch of `started` and records this writer's settings (or none). */
function checkIdentity(
  started: LogIdentity,
  found: LogIdentity,
  resolved: SettingsOf<typeof SNAPSHOT_WRITER_OPTIONS>,
): void {
  checkLogEpoch(started.epoch, found.epoch, 'this snapshot writer');
  const { maxFollowEdges, delimiter } = resolved;
  checkLogSettings(found.settings, { maxFollowEdges, delimiter }, 'this snapshot writer');
}

export class SnapshotWriter extends EventEmitter<SnapshotWriterEventMap> {
  readonly #store: SnapshotStore;
  readonly #every: number;
  readonly #interval: number;
  readonly #delimiter: string;
  readonly #now: () => number;
  readonly #core: MazeCore;
  /** The log's epoch, in every snapshot saved: see snapshot-checksum.ts. */
  readonly #epoch: string;
  readonly #follower: LogFollower;
  #eventsSince = 0;
  #lastAt: number;
  #saving: Promise<void> | undefined;
  #saved = 0;
  #failures = 0;
  #position: number;
  #bytes = 0;
  #stopped = false;
  readonly #refused: number;
  #startTimer: NodeJS.Immediate | undefined;

  /** Use `createSnapshotWriter()`. */
  constructor(
    options: SnapshotWriterOptions,
    resolved: SettingsOf<typeof SNAPSHOT_WRITER_OPTIONS>,
    core: MazeCore,
    from: FollowFrom,
    identity: LogIdentity,
    /** Snapshots refused at start, reported once listeners can hear them. */
    refused: readonly Problem[] = [],
  ) {
    super();
    this.#store = options.store;
    this.#every = resolved.snapshotEvents;
    this.#interval = resolved.snapshotInterval;
    this.#delimiter = resolved.delimiter;
    this.#now = options.now ?? Date.now;
    this.#lastAt = this.#now();
    this.#core = core;
    this.#epoch = identity.epoch;
    this.#position = from.position;
    this.#refused = refused.length;
    this.#follower = new LogFollower(options.log, from, {
      apply: (batch) => this.#apply(batch),
      skipped: (entry, reason) => log('skipped position %d: %s', entry.position, reason),
      report: (problem) => this.emit('problem', problem),
      identity,
      checkIdentity: (found, record) => {
        checkIdentity(identity, found, resolved);
        checkLogRecord(record, found, 'this snapshot writer');
      },
      failed: (error) => {
        this.#stopped = true;
        this.emit('problem', {
          code: error.code,
          message: `the snapshot writer cannot follow the event log (${error.message}); no more snapshots (gateways still start from the newest one while the log holds what follows it)`,
          context: {},
        });
      },
    });
    log('starting after position %d', from.position);
    // After the creator's `await`, so listeners it adds then hear the first problems too.
    this.#startTimer = setImmediate(() => {
      for (const problem of refused) this.emit('problem', problem);
      void this.#follower.start();
    });
  }

  /** Whether it stopped following the log (no more snapshots). */
  get stopped(): boolean {
    return this.#stopped;
  }

  stats(): SnapshotWriterStats {
    return {
      snapshotsSaved: this.#saved,
      snapshotFailures: this.#failures,
      snapshotPosition: this.#position,
      snapshotBytes: this.#bytes,
      snapshotLogPosition: this.#follower.position,
      snapshotsRefused: this.#refused,
      snapshotWriterStopped: this.#stopped,
    };
  }

  /** Stops following; waits for a save in flight. Idempotent. */
  async close(): Promise<void> {
    clearImmediate(this.#startTimer);
    await this.#follower.close();
    await this.#saving;
  }

  #apply(batch: LogBatch): boolean {
    // Thrown: the follower stops the writer rather than let it snapshot a misparsed graph.
    checkLogDelimiter(batch, this.#delimiter, 'the snapshot writer');
    const { bytes, start, ends } = bodyOf(batch);
    let from = start;
    for (const end of ends) {
      this.#core.applyInOrder(bytes, from, end);
      from = end;
    }
    this.#eventsSince += ends.length;
    const due = this.#eventsSince >= this.#every || this.#now() - this.#lastAt >= this.#interval;
    if (due && this.#saving === undefined) this.#save(batch);
    return true;
  }

  #save(batch: LogBatch): void {
    const bytes = sealSnapshot(
      encodeGraphSnapshot(this.#core.graph, {
        position: batch.position,
        lastSequence: batch.lastSequence,
      }),
      this.#epoch,
    );
    this.#eventsSince = 0;
    this.#lastAt = this.#now();
    this.#saving = this.#store
      .save(bytes, batch.position)
      .then(
        () => {
          this.#saved++;
          this.#position = batch.position;
          this.#bytes = bytes.length;
          log('saved the snapshot at position %d (%d bytes)', batch.position, bytes.length);
          this.emit('saved', { position: batch.position, bytes: bytes.length });
        },
        (error: unknown) => {
          this.#failures++;
          this.emit('problem', {
            code: error instanceof MazeError ? error.code : ErrorCode.LogFailed,
            message: `saving the snapshot at position ${batch.position} failed (${error instanceof Error ? error.message : String(error)}); the next one is due after ${this.#every} more events`,
            context: {},
          });
        },
      )
      .finally(() => {
        this.#saving = undefined;
      });
  }
}

/**
 * The gateway of cluster mode (docs/protocol.md §11): the client side of `serve` (ids,
 * batching, per-client and total flow control, slow-client policy; §5, §6) fed by an
 * `EventLog` instead of an event source. Every gateway applies the whole log with its own
 * `MazeCore`, so clients may connect to any of them.
 *
 * Invariants:
 * - Batches are applied in position order, each line with `MazeCore.applyInOrder()` as the
 *   bytes of the payload it was read in (never decoded to text): the
 *   ingest sequenced them and left out what it discarded, so numbers between two lines were
 *   consumed there and are not waited for. A client gets exactly the events applied after it
 *   identified, as from `serve`.
 * - Catching up: `createGateway()` reads the log's tail and starts from the newest snapshot of
 *   the follow graph that passes its checks when it is given a store (else from position 1,
 *   `restoreNewest()`); until the gateway has applied the log up to that tail, `ready` is
 *   pending and `attachClient()` refuses, so no client receives the replay of old events.
 *   Then `'caughtUp'` is emitted.
 * - Backpressure: while flow control holds the input (a client over its limit, or all over
 *   the total), the gateway stops applying, even inside a batch, and its follower stops
 *   calling the reader's `next()`, so the log stops being pulled (its read-ahead bounds what waits). A
 *   slow gateway holds back nobody else: the log keeps what it has not read.
 * - Continuity (log-continuity.ts): a batch is applied only when it follows the last event
 *   number applied (the snapshot's, at start); anything else on the log (a foreign message,
 *   a forged or repeated batch) is skipped, reported as `ERR_LOG_FOREIGN` with its position
 *   and counted (`logForeign`): it never stops the gateway, nor one starting.
 * - Reading is `LogFollower`'s: retries of transient failures with a backoff; anything else
 *   (a truncated log, a batch with another delimiter, a log closed under it) means this gateway
 *   can no longer deliver exactly: it is reported, `'stopped'` is emitted and the gateway
 *   closes its clients, so they can reconnect to another one.
 * - One log: the gateway refuses a log whose writer recorded another `maxFollowEdges` or
 *   `delimiter` (`ERR_LOG_CONFIG`), and stops (`ERR_LOG_REPLACED`) when the log it follows
 *   is deleted and created again, a new epoch: it never applies two logs, so its resume
 *   history never spans two either. Its clients are given the log's epoch
 *   (`streamEpochOf()`), so one resuming on a gateway of the new log is told the numbers
 *   restarted (`!GAP|epoch|…`).
 * - Nothing here throws because of a peer or the log: problems are `'problem'` events.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { type Authenticate, authenticateOption } from '../adapter/client-auth.js';
import { resolveMaxClients } from '../adapter/descriptor-limit.js';
import {
  type AttachClientOptions,
  type ClientInfo,
  type ClientPage,
  FanOut,
  type FanOutStats,
  type ResumeReport,
} from '../adapter/fan-out.js';
import { MAZE_OPTIONS, type MazeOptions } from '../adapter/options.js';
import { type CoreStats, MazeCore } from '../core/maze-core.js';
import { CORE_OPTIONS } from '../core/options.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { pickRows, resolveOptions } from '../options/option.js';
import { bodyOf } from './batch-codec.js';
import {
  checkLogDelimiter,
  checkLogEpoch,
  checkLogRecord,
  checkLogSettings,
  checkRecordKept,
  type EventLog,
  isForeign,
  type LogBatch,
  type LogEntry,
  type LogIdentity,
  type LogSettings,
  type LogTail,
} from './event-log.js';
import { findResumeTail } from './log-continuity.js';
import { type FollowFrom, LogFollower } from './log-follower.js';
import { GATEWAY_OPTION_NAMES } from './options.js';
import { restoreNewest, type SnapshotStore } from './snapshot-store.js';
import { streamEpochOf } from './stream-epoch.js';

const log = createDebug('follower-maze:gateway');

const GATEWAY_OPTIONS = pickRows(MAZE_OPTIONS, GATEWAY_OPTION_NAMES);

/**
 * Everything `createGateway()` takes: the log, and the client side's options of a maze (see
 * `MazeOptions`). Give every gateway of a cluster the same `maxFollowEdges`, and the
 * ingest's `delimiter`.
 */
export interface GatewayOptions
  extends Pick<MazeOptions, (typeof GATEWAY_OPTION_NAMES)[number] | 'authenticate'> {
  /** The log to read. The gateway never closes it: its owner does, after `close()`. */
  readonly log: EventLog;
  /**
   * Where the ingest saves snapshots of the follow graph: the gateway starts from the newest
   * one and reads the log after it. Without it (or while none is saved), from position 1.
   */
  readonly snapshots?: SnapshotStore;
}

/** `GatewayOptions` with every default filled in (`maxClients` resolved). */
export type ResolvedGatewayOptions = Required<
  Omit<GatewayOptions, 'log' | 'snapshots' | 'authenticate'>
>;

/** Counters of a gateway: its core's, its clients', and its reading of the log. */
export interface GatewayStats
  extends CoreStats,
    Omit<FanOutStats, 'eventSourcePaused' | 'eventSourcePauses'> {
  /** Whether clients hold back reading the log right now (flow control). */
  readonly logReadingPaused: boolean;
  /** Times clients held back reading the log. */
  readonly logReadingPauses: number;
  /** Batches applied. */
  readonly batchesApplied: number;
  /** Log entries skipped because they do not continue the log (`ERR_LOG_FOREIGN`). */
  readonly logForeign: number;
  /** The position of the last log entry read: a batch applied, or one skipped (0: none yet). */
  readonly logPosition: number;
  /** The position of the snapshot the gateway started from (0: it read the log from 1). */
  readonly startSnapshotPosition: number;
  /** Snapshots refused at start, as failing their checks (`ERR_SNAPSHOT_BAD`). */
  readonly startSnapshotsRefused: number;
  /** The position the gateway had to reach before serving clients (the tail at start). */
  readonly catchUpPosition: number;
  /** Whether it has reached it (`ready` resolved). */
  readonly caughtUp: boolean;
  /** Whether it is reading the log right now (false while it waits to retry, and once stopped). */
  readonly following: boolean;
  /** Read failures after which the log was opened again. */
  readonly readRetries: number;
  /** Problems reported so far. */
  readonly problems: number;
  /** Connections the client port failed to accept (`ERR_ACCEPT` reported through `report()`). */
  readonly acceptFailures: number;
}

/** Events of a `Gateway`. */
export interface GatewayEventMap {
  /** Something a client or the log did wrong. Never thrown. */
  problem: [problem: Problem];
  /** A client sent its id; it receives every event applied from now on. */
  clientIdentified: [client: ClientInfo];
  /** A resuming client was sent what it missed, or a gap line. */
  clientResumed: [report: ResumeReport];
  /** A client is gone. */
  clientClosed: [client: ClientInfo];
  /** The log is applied up to the tail found at start: clients are accepted from now on. */
  caughtUp: [position: number];
  /** The batch at `position` is applied and its notifications handed to the clients. */
  applied: [position: number];
  /** The gateway cannot follow the log any more (the problem says why) and closes. */
  stopped: [problem: Problem];
}

/**
 * Creates a gateway on `options.log`: reads its tail (the catch-up target) and the newest
 * snapshot of `options.snapshots` that passes its checks, then applies the log after that
 * snapshot (from position 1 without one; snapshots refused are `'problem'`s). Await
 * `gateway.ready` before attaching clients. Throws `ERR_INVALID_OPTION` on a bad option;
 * rejects with the log's or the store's error, `ERR_SNAPSHOT_BAD` when neither a snapshot
 * nor the log can rebuild the graph, `ERR_INVALID_OPTION` for one over `maxFollowEdges`, and
 * `ERR_LOG_CONFIG` for a log whose lines have another delimiter or whose writer recorded
 * another `maxFollowEdges` or `delimiter`. A snapshot of another epoch of the log (a stream
 * deleted and created again beside its old bucket) or beyond its end is refused as bad.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const resolved = resolveGatewayOptions(options);
  const identity = await options.log.identity();
  checkLogSettings(identity.settings, settingsOf(resolved), 'this gateway');
  const core = new MazeCore({
    maxFollowEdges: resolved.maxFollowEdges,
    resumeBytes: resolved.resumeBytes,
    delimiter: resolved.delimiter,
    epoch: streamEpochOf(identity.epoch),
  });
  const refused: Problem[] = [];
  const restored =
    options.snapshots === undefined
      ? undefined
      : await restoreNewest(core, options.snapshots, options.log, identity.epoch, (problem) =>
          refused.push(problem),
        );
  checkRecordKept(identity, restored?.position, 'this gateway');
  const start: FollowFrom = restored ?? { position: 0 };
  // After the snapshot: the writer may save a newer one meanwhile, never one past the tail.
  // The end of the log, foreign messages included, is what to catch up with.
  const tail = await options.log.tail();
  const catchUpPosition = tail?.position ?? 0;
  if (tail !== undefined && !isForeign(tail)) {
    await checkStartDelimiter(options.log, tail, resolved.delimiter, identity);
  }
  return new Gateway(options.log, resolved, {
    core,
    start,
    catchUpPosition,
    identity,
    refused,
    authenticate: options.authenticate,
  });
}

/** The gateway's settings that its log records. */
function settingsOf(options: ResolvedGatewayOptions): Partial<LogSettings> {
  return { maxFollowEdges: options.maxFollowEdges, delimiter: options.delimiter };
}

// A tail with another delimiter may be a forged batch: the last batch that continues the log
// is the one that must match (found only then, as it reads back the log's end).
async function checkStartDelimiter(
  eventLog: EventLog,
  tail: LogTail,
  delimiter: string,
  identity: LogIdentity,
): Promise<void> {
  if ((tail.delimiter ?? CORE_OPTIONS.delimiter.default) === delimiter) return;
  const resume = await findResumeTail(eventLog, identity);
  const continuing = resume?.batch;
  if (continuing !== undefined) checkLogDelimiter(continuing, delimiter, 'this gateway');
}

function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  if (options.log === undefined || options.log === null) {
    throw new MazeError(ErrorCode.InvalidOption, 'createGateway() needs an event log (log)');
  }
  const resolved = resolveOptions(GATEWAY_OPTIONS, options);
  authenticateOption(options.authenticate);
  // 0 stands for the derived default, and a value above it is lowered, as in `resolveMazeOptions()`.
  return { ...resolved, maxClients: resolveMaxClients(resolved.maxClients) };
}

/** Applies an `EventLog` and delivers to its own clients. */
export class Gateway extends EventEmitter<GatewayEventMap> {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedGatewayOptions;
  /** Resolves once the log is applied up to the tail found at start; rejects if the gateway stops or closes first. */
  readonly ready: Promise<void>;
  readonly #core: MazeCore;
  readonly #output: FanOut;
  readonly #catchUpPosition: number;
  /** The position of the snapshot it started from (0: none). */
  readonly #startPosition: number;
  readonly #snapshotsRefused: number;
  readonly #follower: LogFollower;
  #caughtUp = false;
  #settleReady: ((error?: MazeError) => void) | undefined;
  #batchesApplied = 0;
  #startTimer: NodeJS.Immediate | undefined;
  #stopped = false;
  #closing: Promise<void> | undefined;
  #problems = 0;
  #acceptFailures = 0;

  /**
   * Use `createGateway()`, which reads the tail and the snapshot first: `core` stands at
   * `start` (position 0: nothing applied), and clients wait for `catchUpPosition`. `identity`
   * is the log's at start.
   */
  constructor(
    eventLog: EventLog,
    options: ResolvedGatewayOptions,
    from: {
      readonly core: MazeCore;
      readonly start: FollowFrom;
      readonly catchUpPosition: number;
      readonly identity: LogIdentity;
      /** Snapshots refused at start, reported once listeners can hear them. */
      readonly refused?: readonly Problem[];
      /** See `MazeOptions.authenticate`. */
      readonly authenticate?: Authenticate | undefined;
    },
  ) {
    super();
    this.options = options;
    this.#catchUpPosition = from.catchUpPosition;
    this.#core = from.core;
    this.#startPosition = from.start.position;
    this.#snapshotsRefused = from.refused?.length ?? 0;
    this.#follower = new LogFollower(eventLog, from.start, {
      apply: (batch) => this.#applyBatch(batch),
      skipped: (entry, reason) => this.#skipped(entry, reason),
      report: (problem) => this.#report(problem),
      failed: (error) => this.#stop(error),
      identity: from.identity,
      checkIdentity: (identity, record) => {
        checkLogEpoch(from.identity.epoch, identity.epoch, 'this gateway');
        checkLogRecord(record, identity, 'this gateway');
        // Recorded after this gateway started on a new log: checked once they are.
        checkLogSettings(identity.settings, settingsOf(options), 'this gateway');
      },
    });
    this.#output = new FanOut({ ...options, authenticate: from.authenticate }, this.#core, {
      clientIdentified: (client) => this.emit('clientIdentified', client),
      clientResumed: (report) => this.emit('clientResumed', report),
      clientClosed: (client) => this.emit('clientClosed', client),
      pauseInput: () => this.#follower.hold(),
      resumeInput: () => this.#follower.release(),
      report: (problem) => this.#report(problem),
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.#settleReady = (error) => (error === undefined ? resolve() : reject(error));
    });
    // A caller that never awaits `ready` must not see an unhandled rejection when it closes.
    this.ready.catch(() => {});
    // After the creator's `await`, so listeners it adds then hear `caughtUp` (at once for an
    // empty log) and the first problems too.
    this.#startTimer = setImmediate(() => {
      for (const problem of from.refused ?? []) this.#report(problem);
      this.#checkCaughtUp();
      void this.#follower.start();
    });
  }

  /** The epoch its resume-aware clients are given: the log's (docs/protocol.md §12). */
  get epoch(): string {
    return this.#core.epoch;
  }

  /**
   * The position it waits at for the log's writer to record its settings, once that wait was
   * reported (`ERR_LOG_UNRECORDED`); `undefined` otherwise.
   */
  get recordAwaitedAt(): number | undefined {
    return this.#follower.recordAwaitedAt;
  }

  /** Whether the gateway stopped because it cannot follow the log (see `'stopped'`). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether `close()` has been called (or the gateway stopped). */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Attaches a user client, as `Maze.attachClient()` does. Throws `ERR_INVALID_STATE` before
   * `ready` (the client would get the replay of old events) and after `close()`.
   */
  attachClient(stream: Duplex, options?: AttachClientOptions): string {
    if (this.#closing !== undefined) {
      throw new MazeError(ErrorCode.InvalidState, 'the gateway is closed');
    }
    if (!this.#caughtUp) {
      throw new MazeError(
        ErrorCode.InvalidState,
        `the gateway is catching up with the event log (at position ${this.#follower.position} of ${this.#catchUpPosition}); attach clients once it is ready`,
      );
    }
    return this.#output.attach(stream, options);
  }

  /**
   * Reports a problem found in front of the gateway (e.g. a listening port failing); an
   * `ERR_ACCEPT` is counted in `stats().acceptFailures` too.
   */
  report(problem: Problem): void {
    if (problem.code === ErrorCode.AcceptFailed) this.#acceptFailures++;
    this.#report(problem);
  }

  stats(): GatewayStats {
    const { eventSourcePaused, eventSourcePauses, ...output } = this.#output.stats();
    return {
      ...this.#core.stats(),
      ...output,
      logReadingPaused: eventSourcePaused,
      logReadingPauses: eventSourcePauses,
      batchesApplied: this.#batchesApplied,
      logForeign: this.#follower.skipped,
      logPosition: this.#follower.position,
      startSnapshotPosition: this.#startPosition,
      startSnapshotsRefused: this.#snapshotsRefused,
      catchUpPosition: this.#catchUpPosition,
      caughtUp: this.#caughtUp,
      following: this.#follower.following,
      readRetries: this.#follower.readRetries,
      problems: this.#problems,
      acceptFailures: this.#acceptFailures,
    };
  }

  /** Attached clients, oldest first: `limit` of them from `offset` on. */
  clients(offset: number, limit: number): ClientPage {
    return this.#output.clients(offset, limit);
  }

  /**
   * Stops reading the log and closes every client (flushing, bounded by `shutdownTimeout`).
   * The log stays open. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    log('closing');
    clearImmediate(this.#startTimer);
    this.#settleReady?.(new MazeError(ErrorCode.InvalidState, 'the gateway closed'));
    this.#settleReady = undefined;
    await Promise.all([this.#follower.close(), this.#output.close()]);
    log('closed');
  }

  // Applies one batch, waiting inside it while flow control holds the input; false when the
  // gateway closed meanwhile.
  async #applyBatch(batch: LogBatch): Promise<boolean> {
    // Thrown: the follower stops the gateway, which cannot deliver this log exactly.
    checkLogDelimiter(batch, this.options.delimiter, 'this gateway');
    const { bytes, start, ends } = bodyOf(batch);
    let from = start;
    for (let i = 0; i < ends.length; i++) {
      if (this.#output.inputHeld) {
        this.#output.flush();
        await this.#follower.whileHeld();
        if (this.#closing !== undefined) return false;
      }
      const end = ends[i] as number;
      const result = this.#core.applyInOrder(bytes, from, end);
      from = end;
      if (result.problems.length !== 0) {
        for (const problem of result.problems) {
          this.#report({
            code: problem.code,
            message: problem.message,
            context: { ...problem.context, connection: `log position ${batch.position}` },
          });
        }
      }
      if (result.deliveries.length !== 0) this.#output.deliver(result.deliveries);
    }
    this.#output.flush();
    this.#batchesApplied++;
    this.#checkCaughtUp(batch.position);
    this.emit('applied', batch.position);
    return true;
  }

  // Nothing to apply; a catch-up target that is a foreign message is reached all the same.
  #skipped(entry: LogEntry, reason: string): void {
    this.#report({
      code: ErrorCode.LogForeign,
      message: `skipped log position ${entry.position}: ${reason}`,
      context: { connection: `log position ${entry.position}` },
    });
    this.#checkCaughtUp(entry.position);
  }

  // `position`: the one just applied (the follower counts it once `#applyBatch()` returns).
  #checkCaughtUp(position = this.#follower.position): void {
    if (this.#caughtUp || position < this.#catchUpPosition) return;
    this.#caughtUp = true;
    log('caught up at position %d', position);
    this.#settleReady?.();
    this.#settleReady = undefined;
    this.emit('caughtUp', position);
  }

  #stop(error: MazeError): void {
    if (this.#closing !== undefined) return;
    this.#stopped = true;
    const problem: Problem = {
      code: error.code,
      message: `the gateway cannot follow the event log (${error.message}) at position ${this.#follower.position}; it stops and closes its clients`,
      context: {},
    };
    this.#settleReady?.(new MazeError(error.code, problem.message));
    this.#settleReady = undefined;
    this.#report(problem);
    this.emit('stopped', problem);
    void this.close();
  }

  #report(problem: Problem): void {
    this.#problems++;
    log('problem %s %o', problem.code, problem.context);
    this.emit('problem', problem);
  }
}

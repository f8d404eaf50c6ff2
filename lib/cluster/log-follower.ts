/**
 * Reads an `EventLog` in position order, for ever, on behalf of a host that applies each batch:
 * the cluster's gateway, and the ingest's snapshot writer.
 *
 * Invariants:
 * - The host's `apply()` gets each batch that continues the log (log-continuity.ts), once, in
 *   order, from the position after the start's (from an empty start, the first batch must
 *   start at the `startSequence` the log's writer recorded, at or after the log's
 *   `firstPosition`); every other position (a foreign message, a batch that does not follow
 *   the last number applied, one before `firstPosition`) goes to `skipped()` and never stops
 *   the follower. An entry at or below the last position read (a log handing one out again
 *   after a retry) is dropped; a position skipped over means the log lost it
 *   (`ERR_LOG_TRUNCATED`).
 * - The writer records its settings once its first batch is in the log: a batch read while
 *   nothing is recorded may be that one, so the follower waits there for the record (the
 *   identity read again after `RECORD_WAIT_MIN_MS`, doubling up to `LOG_IDENTITY_CHECK_MS`),
 *   then judges it and every later entry by the record, without asking again. A wait longer
 *   than `LOG_IDENTITY_CHECK_MS` is reported once (`ERR_LOG_UNRECORDED`, with the position).
 * - Holding: while `hold()` is in force the follower calls no `next()`, so the log is not
 *   pulled (its reader's read-ahead bounds what waits); `whileHeld()` lets the host wait
 *   inside a batch too. `release()` and `close()` end every wait.
 * - Failures: `ERR_LOG_FAILED` and `ERR_LOG_UNAVAILABLE` are reported and the log is read
 *   again from the next position after a backoff (`GATEWAY_RETRY_MIN_MS` doubling up to
 *   `GATEWAY_RETRY_MAX_MS`, back to the minimum after a batch applied). Anything else, and a
 *   reader that ends without `close()` (the log closed under it), is the host's `failed()`,
 *   once, after which the follower reads no more.
 * - Identity: readers are opened with the host's epoch, so a reader that opens on a log
 *   deleted and created again fails (`ERR_LOG_REPLACED`); besides, the log's identity is read
 *   every `LOG_IDENTITY_CHECK_MS` and before reading again after a failure, and the host's
 *   `checkIdentity()` judges it (the epoch, settings recorded since, and the record the
 *   follower read first, which must not change: `checkLogRecord()`). What it throws is
 *   `failed()`.
 */
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import {
  type EventLog,
  isForeign,
  LOG_IDENTITY_CHECK_MS,
  type LogBatch,
  type LogEntry,
  type LogIdentity,
  type LogReader,
} from './event-log.js';
import { beforeWriter, discontinuity } from './log-continuity.js';

/** First pause before a gateway reads the log again after a read failed; it doubles each time. */
const GATEWAY_RETRY_MIN_MS = 250;
/** Longest pause between a gateway's attempts to read the log again. */
const GATEWAY_RETRY_MAX_MS = 10_000;
/** First pause before the identity of a log whose writer has recorded nothing is read again. */
const RECORD_WAIT_MIN_MS = 50;

/** Where a follower starts: after `position`, whose last event number is `lastSequence`. */
export interface FollowFrom {
  readonly position: number;
  /**
   * Absent: nothing applied yet (an empty start): the first batch must start at the
   * `startSequence` the log's writer recorded, or, in a log that records none, starts it.
   */
  readonly lastSequence?: number | undefined;
}

/** What a `LogFollower` asks of its owner. */
export interface LogFollowerHost {
  /**
   * Applies the batch at the position after the last one applied. Resolves `false` when the
   * host will take no more (it is closing); may wait meanwhile (see `whileHeld()`).
   */
  apply(batch: LogBatch): Promise<boolean> | boolean;
  /** The entry at the next position does not continue the log (`reason`): it is skipped. */
  skipped(entry: LogEntry, reason: string): void;
  report(problem: Problem): void;
  /** The log cannot be followed any more; called once, never after `close()`. */
  failed(error: MazeError): void;
  /**
   * Throws a `MazeError` when the log is no longer the one the host started on, or unfit:
   * `record` is the first record of its writer's settings the follower read (or the host's
   * `identity` held), which the log must still hold.
   */
  checkIdentity(identity: LogIdentity, record: LogIdentity | undefined): void;
  /** The identity the host started on: its readers refuse another epoch (`ReadOptions.epoch`). */
  readonly identity: LogIdentity;
}

export class LogFollower {
  readonly #log: EventLog;
  readonly #host: LogFollowerHost;
  #position: number;
  #lastSequence: number | undefined;
  /** The log's identity once its writer recorded settings, read when a batch comes. */
  #rule: LogIdentity | undefined;
  /** The first record of the writer's settings read: see `LogFollowerHost.checkIdentity()`. */
  #record: LogIdentity | undefined;
  #skipped = 0;
  #reader: LogReader | undefined;
  #following = false;
  #readRetries = 0;
  #held = false;
  /** Ends a wait of `whileHeld()`: `release()` or `close()`. */
  #release: (() => void) | undefined;
  /** Ends a pause before reading again: its timer, or `close()`. */
  #endPause: (() => void) | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #identityTimer: NodeJS.Timeout | undefined;
  #checkingIdentity = false;
  /** The position it has waited at for the writer's record since it reported the wait. */
  #recordAwaitedAt: number | undefined;
  #closed = false;
  #failed = false;

  constructor(eventLog: EventLog, from: FollowFrom, host: LogFollowerHost) {
    this.#log = eventLog;
    this.#position = from.position;
    this.#lastSequence = from.lastSequence;
    this.#host = host;
    this.#record = host.identity.settings === undefined ? undefined : host.identity;
  }

  /** The position of the last entry read: a batch applied, or one skipped. */
  get position(): number {
    return this.#position;
  }

  /** The last event number of the batches applied (`undefined`: none yet). */
  get lastSequence(): number | undefined {
    return this.#lastSequence;
  }

  /** Entries skipped because they do not continue the log. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Whether it is reading the log right now (not waiting to retry, not failed or closed). */
  get following(): boolean {
    return this.#following;
  }

  /**
   * The position it waits at for the writer's record, once the wait was reported
   * (`ERR_LOG_UNRECORDED`); `undefined` otherwise.
   */
  get recordAwaitedAt(): number | undefined {
    return this.#recordAwaitedAt;
  }

  /** Read failures after which the log was opened again. */
  get readRetries(): number {
    return this.#readRetries;
  }

  /** Starts reading; the returned promise settles when the follower stops for good. */
  start(): Promise<void> {
    this.#identityTimer = setInterval(() => void this.#checkIdentity(), LOG_IDENTITY_CHECK_MS);
    this.#identityTimer.unref();
    return this.#follow();
  }

  /** Stops reading until `release()`. */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /** Resolves once not held (at once if not), or once closed. */
  whileHeld(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#held || this.#closed) {
        resolve();
        return;
      }
      this.#release = resolve;
    });
  }

  /** Stops reading for good; ends every wait. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#following = false;
    clearInterval(this.#identityTimer);
    const reader = this.#reader;
    this.#reader = undefined;
    this.release();
    this.#endPauseNow();
    await reader?.close();
  }

  async #follow(): Promise<void> {
    let delay = GATEWAY_RETRY_MIN_MS;
    let again = false;
    while (!this.#closed) {
      let reader: LogReader | undefined;
      try {
        // A read failed: the stream may have been deleted, and created again since.
        if (again) this.#judge(await this.#log.identity());
        again = true;
        if (this.#closed || this.#failed) return;
        reader = this.#log.read(this.#position + 1, { epoch: this.#host.identity.epoch });
        this.#reader = reader;
        this.#following = true;
        for (;;) {
          if (this.#held) await this.whileHeld();
          const entry = this.#closed ? undefined : await reader.next();
          if (entry === undefined) {
            if (!this.#closed) {
              this.#fail(new MazeError(ErrorCode.LogFailed, 'the event log reader ended'));
            }
            return;
          }
          if (!(await this.#take(entry))) return;
          delay = GATEWAY_RETRY_MIN_MS;
        }
      } catch (error) {
        this.#following = false;
        this.#reader = undefined;
        await reader?.close();
        if (this.#closed) return;
        if (!isRetryable(error)) {
          this.#fail(error);
          return;
        }
        this.#readRetries++;
        this.#host.report({
          code: error.code,
          message: `reading the event log failed (${error.message}); reading again from position ${this.#position + 1} in ${delay} ms`,
          context: {},
        });
        await this.#pause(delay);
        delay = Math.min(delay * 2, GATEWAY_RETRY_MAX_MS);
      }
    }
  }

  // The periodic check: a failed read is the reader's to report.
  async #checkIdentity(): Promise<void> {
    if (this.#checkingIdentity || this.#closed || this.#failed) return;
    this.#checkingIdentity = true;
    try {
      this.#judge(await this.#log.identity());
    } catch (error) {
      if (!isRetryable(error)) {
        this.#fail(error);
        void this.#reader?.close();
      }
    } finally {
      this.#checkingIdentity = false;
    }
  }

  // One entry to the host; false when following ends.
  async #take(entry: LogEntry): Promise<boolean> {
    if (this.#failed) return false;
    if (entry.position <= this.#position) return true;
    if (entry.position !== this.#position + 1) {
      this.#fail(
        new MazeError(
          ErrorCode.LogTruncated,
          `the event log went from position ${this.#position} to ${entry.position}: positions in between are missing`,
        ),
      );
      return false;
    }
    let rule = this.#rule;
    if (rule === undefined && !isForeign(entry)) {
      rule = await this.#learnStart(entry.position);
      if (rule === undefined || this.#closed || this.#failed) return false;
    }
    const reason =
      (rule === undefined ? undefined : beforeWriter(entry, rule)) ??
      discontinuity(entry, this.#lastSequence);
    if (reason !== undefined) {
      this.#position = entry.position;
      this.#skipped++;
      this.#host.skipped(entry, reason);
      return true;
    }
    // Continuing: a batch (a foreign entry never continues).
    const batch = entry as LogBatch;
    if (!(await this.#host.apply(batch)) || this.#closed) return false;
    this.#position = batch.position;
    this.#lastSequence = batch.lastSequence;
    return true;
  }

  // The identity with the writer's record, once there (see the header); from an empty start,
  // the number before the recorded first one too. `undefined`: closed while waiting.
  async #learnStart(position: number): Promise<LogIdentity | undefined> {
    let delay = RECORD_WAIT_MIN_MS;
    let waited = 0;
    for (;;) {
      const identity = await this.#log.identity();
      this.#judge(identity);
      const { settings } = identity;
      if (settings !== undefined) {
        this.#recordAwaitedAt = undefined;
        this.#rule = identity;
        if (this.#lastSequence === undefined) this.#lastSequence = settings.startSequence - 1;
        return identity;
      }
      if (waited >= LOG_IDENTITY_CHECK_MS && this.#recordAwaitedAt === undefined) {
        this.#recordAwaitedAt = position;
        this.#host.report({
          code: ErrorCode.LogUnrecorded,
          message: `waiting at position ${position} for the event log's writer to record its settings (an ingest records them once its first batch is in: check that it runs and that its NATS user may update the stream); nothing from this position on is applied meanwhile`,
          context: {},
        });
      }
      await this.#pause(delay);
      if (this.#closed || this.#failed) return undefined;
      waited += delay;
      delay = Math.min(delay * 2, LOG_IDENTITY_CHECK_MS);
    }
  }

  // The host's check, with the first record read; remembers that record.
  #judge(identity: LogIdentity): void {
    this.#host.checkIdentity(identity, this.#record);
    if (identity.settings !== undefined) this.#record ??= identity;
  }

  // `ms`, cut short by close().
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#endPause = resolve;
      this.#retryTimer = setTimeout(() => this.#endPauseNow(), ms);
    });
  }

  #endPauseNow(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const endPause = this.#endPause;
    this.#endPause = undefined;
    endPause?.();
  }

  #fail(error: unknown): void {
    this.#following = false;
    clearInterval(this.#identityTimer);
    if (this.#closed || this.#failed) return;
    this.#failed = true;
    this.#host.failed(
      error instanceof MazeError
        ? error
        : new MazeError(
            ErrorCode.LogFailed,
            error instanceof Error ? error.message : String(error),
          ),
    );
  }
}

function isRetryable(error: unknown): error is MazeError {
  return (
    error instanceof MazeError &&
    (error.code === ErrorCode.LogFailed || error.code === ErrorCode.LogUnavailable)
  );
}

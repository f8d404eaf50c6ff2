/**
 * The ingest of cluster mode (docs/protocol.md §11): the event source side of `serve`
 * (framing, one source at a time, idle takeover, sequencing; §2, §4, §7) in front of an
 * `EventLog` instead of clients. Events go into the log in sequence order, in batches.
 *
 * This module is the driver: it reads the event source, sequences its lines and does the
 * I/O that `IngestMachine` (ingest-machine.ts) asks for: appends, reads of the log's tail
 * and read-backs, timers, pausing the source. What to batch, fence, recover and when to stop
 * is the machine's; see its header for those invariants.
 *
 * Invariants:
 * - Input is `EventInput` and ordering is `EventSequencer`, the one `serve` uses, by its rules:
 *   a line without a sequence number, a duplicate or a stale number is reported and dropped;
 *   an invalid body is reported and consumes its number without being appended (unless a
 *   valid event with its number arrives while it waits, and is appended instead); a reorder
 *   buffer over its bounds skips the missing numbers (`ERR_SEQUENCE_GAP`).
 * - Start: the next number is the last continuing batch's `lastSequence + 1`
 *   (`findResumeTail()`: messages after it that do not continue the log are reported and
 *   appended after), or `startSequence` without one: an ingest restarted on the same log
 *   continues it, and a source resending old numbers sees them stale. In a log that records
 *   no settings yet the ingest records its own (`LogSettings`) once its first batch is in
 *   the log (acknowledged, or found by a recovery), with that batch's position: its append
 *   was fenced on the log's last message, so whatever the log held before, published by
 *   anyone, is not the log's, and nothing published meanwhile can take that position. Until
 *   the record lands nothing more is appended (the source is paused), so only that batch is
 *   at risk; a failed record (refused, or read back without settings) is reported, tried
 *   again every `LOG_IDENTITY_CHECK_MS` and before `close()` ends, never after. A record found to be another writer's, or to hold
 *   other settings, stops the ingest, and so does a record that changes or disappears once
 *   read (`checkLogRecord()`, with the epoch). A log that records other settings at start is
 *   refused (`ERR_LOG_CONFIG`).
 * - Timers (batch delay `INGEST_BATCH_DELAY_MS`, recovery retry `INGEST_RECOVERY_RETRY_MS`)
 *   are unref'd; a read during recovery is bounded by `EVENT_LOG_REQUEST_TIMEOUT_MS`.
 * - The log's epoch is read at start, every `LOG_IDENTITY_CHECK_MS` while the ingest runs
 *   (events arriving or not) and before each recovery reads the tail: a log deleted and
 *   created again stops the ingest (`ERR_LOG_REPLACED`), as it stops a gateway.
 * - When the machine stops (another writer), the ingest reports `ERR_LOG_FENCED`, emits
 *   `'stopped'` and closes its event source.
 * - `close()` drains before it closes: the open source is read to its end (bounded by
 *   `shutdownTimeout`) and all of it appended, so a source that wrote and half-closed
 *   loses nothing to a SIGTERM; what is dropped is reported with its count.
 * - Nothing here throws because of a peer or the log: problems are `'problem'` events.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import createDebug from 'debug';
import { EventInput, type EventInputStats, undrainedProblem } from '../adapter/event-input.js';
import { MAZE_OPTIONS, type MazeOptions } from '../adapter/options.js';
import { EventSequencer } from '../core/event-sequencer.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { pickRows, resolveOptions, type SettingsOf } from '../options/option.js';
import {
  type AppendResult,
  checkLogDelimiter,
  checkLogEpoch,
  checkLogRecord,
  checkLogSettings,
  EVENT_LOG_REQUEST_TIMEOUT_MS,
  type EventLog,
  LOG_IDENTITY_CHECK_MS,
  type LogForeign,
  type LogIdentity,
  type LogSettings,
  type LogTail,
} from './event-log.js';
import {
  type AppendAction,
  IngestMachine,
  type IngestMachineStats,
  type ReadBackAction,
} from './ingest-machine.js';
import { findResumeTail, type ResumeTail } from './log-continuity.js';
import { INGEST_OPTION_NAMES } from './options.js';

/**
 * Milliseconds a partial batch waits for more lines before it is appended anyway: the most an
 * event waits in the ingest before its append starts.
 */
export const INGEST_BATCH_DELAY_MS = 5;
/** Pause before an ingest asks the log for its tail again after that failed (NATS restarting). */
const INGEST_RECOVERY_RETRY_MS = 250;
/** Random bytes in each batch's message id: 96 bits nobody else can guess ahead. */
const MESSAGE_ID_RANDOM_BYTES = 12;

const log = createDebug('follower-maze:ingest');

/**
 * Everything `createIngest()` takes: the log, and the event source side's options of a maze
 * (see `MazeOptions`). Durations are in milliseconds.
 */
export interface IngestOptions extends Pick<MazeOptions, (typeof INGEST_OPTION_NAMES)[number]> {
  /** The log to append to. The ingest never closes it: its owner does, after `close()`. */
  readonly log: EventLog;
}

/** Counters of an ingest: its own and the event source's. */
export interface IngestStats extends EventInputStats, IngestMachineStats {
  /** Lines read from event sources. */
  readonly eventsReceived: number;
  /**
   * Lines discarded: no sequence number, duplicate, stale, or an invalid body replaced by a
   * valid event while it waited.
   */
  readonly eventsDiscarded: number;
  /** Numbers declared lost because the reorder buffer overflowed. */
  readonly sequencesSkipped: number;
  /** Events waiting in the reorder buffer. */
  readonly pending: number;
  /** The number the next sequenced event will carry. */
  readonly nextSequence: number;
  /** Whether the ingest stopped for good (`stopProblem` says why). */
  readonly stopped: boolean;
  /** Problems reported so far. */
  readonly problems: number;
  /** Event source connections its port failed to accept (`ERR_ACCEPT`). */
  readonly acceptFailures: number;
}

/** Events of an `Ingest`. */
export interface IngestEventMap {
  /** Something a peer or the log did wrong. Never thrown. */
  problem: [problem: Problem];
  /** An event source was accepted. */
  eventSourceAttached: [
    source: { readonly connection: string; readonly remoteAddress: string | null },
  ];
  /** An event source ended, failed or was closed; the next one may attach. */
  eventSourceEnded: [source: { readonly connection: string; readonly lineCount: number }];
  /** Another writer was found (the `ERR_LOG_FENCED` problem); the ingest appends no more. */
  stopped: [problem: Problem];
}

/**
 * Creates an ingest on `options.log`: reads its tail to know where to resume, then is ready
 * for `attachEventSource()`. Throws `ERR_INVALID_OPTION` on a bad option; rejects with the
 * log's error (e.g. `ERR_LOG_UNAVAILABLE`) if its tail cannot be read, `ERR_LOG_CONFIG`
 * if the log's lines have another delimiter or its writer recorded other settings, and
 * `ERR_LOG_FOREIGN` if no message the log retains continues it while retention dropped its start.
 */
export async function createIngest(options: IngestOptions): Promise<Ingest> {
  const resolved = resolveIngestOptions(options);
  const { maxFollowEdges, startSequence, delimiter } = resolved;
  const settings = { maxFollowEdges, startSequence, delimiter };
  const identity = await options.log.identity();
  const tail = await findResumeTail(options.log, identity);
  if (tail !== undefined && !tail.complete) {
    // Starting at startSequence again would re-use numbers gateways have applied.
    throw new MazeError(
      ErrorCode.LogForeign,
      `the event log holds no batch that continues it in the ${tail.foreign} message(s) it retains (positions ${tail.position - tail.foreign + 1}..${tail.position}; retention dropped the ones before), so this ingest cannot tell where to resume: restrict who may publish on the subject (docs/cluster.md), then delete the stream and start the cluster on a new one`,
    );
  }
  if (tail?.batch !== undefined) checkLogDelimiter(tail.batch, resolved.delimiter, 'this ingest');
  checkLogSettings(identity.settings, settings, 'this ingest');
  return new Ingest(options.log, resolved, tail, identity);
}

const INGEST_OPTIONS = pickRows(MAZE_OPTIONS, INGEST_OPTION_NAMES);

type ResolvedIngestOptions = SettingsOf<typeof INGEST_OPTIONS>;

function resolveIngestOptions(options: IngestOptions): ResolvedIngestOptions {
  if (options.log === undefined || options.log === null) {
    throw new MazeError(ErrorCode.InvalidOption, 'createIngest() needs an event log (log)');
  }
  return resolveOptions(INGEST_OPTIONS, options);
}

/** Sequences the lines of one event source at a time and appends them to an `EventLog`. */
export class Ingest extends EventEmitter<IngestEventMap> {
  readonly #log: EventLog;
  /** The log's epoch at start: a recovery that finds another stops (`ERR_LOG_REPLACED`). */
  readonly #epoch: string;
  /** What it records in a log that records no settings yet. */
  readonly #settings: LogSettings;
  /** The log's record (found at start, or this ingest's once it landed); it must not change. */
  #record: LogIdentity | undefined;
  /** The position of its first batch while its record, once refused, has not landed. */
  #recordRefusedAt: number | undefined;
  /** Set when `close()` makes its last try at the record: a refusal then is not retried. */
  #recordFinal = false;
  /** Set once `close()` is over: no record is started after it. */
  #ended = false;
  /** The record of its settings under way. */
  #recording: Promise<void> | undefined;
  readonly #shutdownTimeout: number;
  readonly #input: EventInput;
  readonly #sequencer: EventSequencer;
  readonly #machine: IngestMachine;
  #batchTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #startTimer: NodeJS.Immediate | undefined;
  /** Reads the log's epoch: an idle ingest notices a log created again too. */
  readonly #identityTimer: NodeJS.Timeout;
  #checkingIdentity = false;
  #closing: Promise<void> | undefined;
  /** What stopped it, once it stopped. */
  #stopProblem: Problem | undefined;
  /** Called when the machine says nothing is left to append. */
  #onIdle: (() => void) | undefined;
  #received = 0;
  #problems = 0;
  #acceptFailures = 0;

  /** Use `createIngest()`, which reads the tail first. */
  constructor(
    eventLog: EventLog,
    options: ResolvedIngestOptions,
    tail: ResumeTail | undefined,
    identity: LogIdentity,
  ) {
    super();
    this.#log = eventLog;
    this.#epoch = identity.epoch;
    this.#settings = {
      maxFollowEdges: options.maxFollowEdges,
      startSequence: options.startSequence,
      delimiter: options.delimiter,
    };
    this.#record = identity.settings === undefined ? undefined : identity;
    this.#shutdownTimeout = options.shutdownTimeout;
    this.#machine = new IngestMachine({
      tail: tail?.batch,
      endPosition: tail?.position ?? 0,
      foreign: tail?.foreign ?? 0,
      logStarted: identity.settings !== undefined,
      startSequence: options.startSequence,
      delimiter: options.delimiter,
      newMessageId: () => randomBytes(MESSAGE_ID_RANDOM_BYTES).toString('base64url'),
    });
    const startSequence = this.#machine.resumeSequence;
    this.#sequencer = new EventSequencer({ ...options, startSequence });
    this.#input = new EventInput(options, {
      applyEventLine: (bytes, start, end, lineNumber, connection) =>
        this.#applyEventLine(bytes, start, end, lineNumber, connection),
      wellFormedLines: () => this.#sequencer.wellFormed,
      flushOutput: () => {
        this.#machine.endOfChunk();
        this.#perform();
      },
      sourceAttached: (connection, remoteAddress) =>
        this.emit('eventSourceAttached', { connection, remoteAddress }),
      sourceEnded: (connection, lineCount) =>
        this.emit('eventSourceEnded', { connection, lineCount }),
      report: (problem) => this.#report(problem),
    });
    log('resuming at %d (log position %d)', startSequence, tail?.position ?? 0);
    // After the creator's `await`, so listeners it adds then hear what the start found.
    this.#startTimer = setImmediate(() => this.#perform());
    this.#identityTimer = setInterval(() => void this.#checkEpoch(), LOG_IDENTITY_CHECK_MS);
    this.#identityTimer.unref();
  }

  /** Whether the ingest stopped appending for good (`stopProblem` says why). */
  get stopped(): boolean {
    return this.#machine.stopped;
  }

  /** What stopped it (another writer, a log replaced or recorded anew, a refused batch). */
  get stopProblem(): Problem | undefined {
    return this.#stopProblem;
  }

  /** Whether a failed append is being recovered from (appends wait meanwhile). */
  get recovering(): boolean {
    return this.#machine.recovering;
  }

  /**
   * The position of its first batch while the record of its settings, refused at least once,
   * has not landed (appends wait for it); `undefined` otherwise.
   */
  get recordRefusedAt(): number | undefined {
    return this.#recordRefusedAt;
  }

  /** Whether it takes no more event sources: closed, or stopped. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#machine.stopped;
  }

  /**
   * Reports a problem found in front of the ingest (e.g. a listening port failing); an
   * `ERR_ACCEPT` is counted in `stats().acceptFailures` too, as a maze and a gateway do.
   */
  report(problem: Problem): void {
    if (problem.code === ErrorCode.AcceptFailed) this.#acceptFailures++;
    this.#report(problem);
  }

  /**
   * Attaches an event source, or refuses it as `serve` does (`ERR_EVENT_SOURCE_BUSY`, or an
   * idle holder is replaced: `ERR_EVENT_SOURCE_IDLE`). Returns its connection name
   * (`event-source#N`). Throws `ERR_INVALID_STATE` after `close()` or once stopped.
   */
  attachEventSource(stream: Readable): string {
    if (this.closed) {
      throw new MazeError(
        ErrorCode.InvalidState,
        this.#stopProblem === undefined
          ? 'the ingest is closed'
          : `the ingest stopped: ${this.#stopProblem.message}`,
      );
    }
    return this.#input.attach(stream);
  }

  /** A snapshot of the counters. */
  stats(): IngestStats {
    return {
      ...this.#input.stats(),
      ...this.#machine.stats(),
      eventsReceived: this.#received,
      eventsDiscarded: this.#sequencer.discarded,
      sequencesSkipped: this.#sequencer.skipped,
      pending: this.#sequencer.pending,
      nextSequence: this.#sequencer.nextSequence,
      acceptFailures: this.#acceptFailures,
      stopped: this.#machine.stopped,
      problems: this.#problems,
    };
  }

  /**
   * Shuts down: takes no more event sources, reads the open one on until it ends (at most
   * `shutdownTimeout`; appends go on meanwhile), closes it, appends what is sequenced (the
   * open batch too) and clears its timers; the wait for the log is bounded by another
   * `shutdownTimeout`. What is dropped (a source still open at the timeout, events still
   * waiting for a missing number) is reported as `ERR_SHUTDOWN_UNDRAINED` with its count;
   * batches the log did not acknowledge in time, as `ERR_LOG_FAILED`. The log stays open.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    log('closing');
    clearImmediate(this.#startTimer);
    const source = this.#machine.stopped
      ? undefined
      : await this.#input.drain(this.#shutdownTimeout);
    const undrained = undrainedProblem(
      source,
      this.#sequencer.pending,
      this.#sequencer.nextSequence,
    );
    if (undrained !== undefined) this.#report(undrained);
    await this.#input.close();
    const idle = new Promise<void>((resolve) => {
      this.#onIdle = resolve;
    });
    this.#machine.close();
    this.#perform();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#shutdownTimeout);
    });
    const flushed = await Promise.race([idle.then(() => true), timeout]);
    clearTimeout(timer);
    this.#onIdle = undefined;
    // Without the record, readers would wait at the batches appended.
    this.#recordFinal = true;
    this.#recordStart();
    await this.#recording;
    this.#ended = true;
    this.#machine.closeEnded(flushed ? undefined : this.#shutdownTimeout);
    clearInterval(this.#identityTimer);
    this.#perform();
    log('closed');
  }

  // The hot path: one call per event line.
  #applyEventLine(
    bytes: Uint8Array,
    start: number,
    end: number,
    lineNumber: number,
    connection: string,
  ): void {
    this.#received++;
    const problems = this.#sequencer.offer(bytes, start, end);
    for (let next = this.#sequencer.next(); next !== undefined; next = this.#sequencer.next()) {
      this.#machine.take(next);
    }
    this.#perform();
    if (problems === undefined) return;
    for (const problem of problems) {
      this.#report({
        code: problem.code,
        message: problem.message,
        context: { ...problem.context, connection, lineNumber },
      });
    }
  }

  // Does what the machine asks, in order; an action may feed it again (its answer comes later).
  #perform(): void {
    for (let action = this.#machine.nextAction(); action !== undefined; ) {
      switch (action.type) {
        case 'append':
          this.#append(action);
          break;
        case 'startBatchTimer':
          this.#batchTimer = setTimeout(() => {
            this.#batchTimer = undefined;
            this.#machine.batchTimerFired();
            this.#perform();
          }, INGEST_BATCH_DELAY_MS);
          this.#batchTimer.unref();
          break;
        case 'clearBatchTimer':
          clearTimeout(this.#batchTimer);
          this.#batchTimer = undefined;
          break;
        case 'startRetryTimer':
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = undefined;
            this.#machine.retryTimerFired();
            this.#perform();
          }, INGEST_RECOVERY_RETRY_MS);
          this.#retryTimer.unref();
          break;
        case 'clearRetryTimer':
          clearTimeout(this.#retryTimer);
          this.#retryTimer = undefined;
          break;
        case 'pauseInput':
          this.#input.pause();
          break;
        case 'resumeInput':
          this.#input.resume();
          break;
        case 'readTail':
          void this.#readTail();
          break;
        case 'readBack':
          void this.#readBack(action);
          break;
        case 'report':
          this.#report(action.problem);
          break;
        case 'stop':
          this.#stopProblem = action.problem;
          clearInterval(this.#identityTimer);
          this.#report(action.problem);
          this.emit('stopped', action.problem);
          void this.#input.close();
          break;
        case 'idle':
          this.#onIdle?.();
          break;
      }
      action = this.#machine.nextAction();
    }
  }

  #append(action: AppendAction): void {
    let append: Promise<AppendResult>;
    try {
      append = this.#log.append(action.batch, action.fence);
    } catch (error) {
      append = Promise.reject(error);
    }
    append.then(
      (result) => {
        this.#machine.appended(action, result);
        this.#perform();
        this.#recordStart();
      },
      (error: unknown) => {
        log('append failed: %s', error instanceof Error ? error.message : String(error));
        this.#machine.appendFailed(error);
        this.#perform();
      },
    );
  }

  // A failed read is left to the next append or recovery, which report it.
  async #checkEpoch(): Promise<void> {
    if (this.#checkingIdentity || this.#machine.stopped) return;
    this.#recordStart();
    this.#checkingIdentity = true;
    try {
      const identity = await this.#log.identity();
      checkLogEpoch(this.#epoch, identity.epoch, 'this ingest');
      checkLogRecord(this.#record, identity, 'this ingest');
    } catch (error) {
      if (
        error instanceof MazeError &&
        (error.code === ErrorCode.LogReplaced || error.code === ErrorCode.LogConfig)
      ) {
        this.#machine.replaced(error);
        this.#perform();
      }
    } finally {
      this.#checkingIdentity = false;
    }
  }

  async #readTail(): Promise<void> {
    let tail: LogTail | LogForeign | undefined;
    try {
      // A log deleted and created again holds another's positions: appending after them
      // would write a second log's events into it.
      const identity = await this.#log.identity();
      checkLogEpoch(this.#epoch, identity.epoch, 'this ingest');
      checkLogRecord(this.#record, identity, 'this ingest');
      // Recorded by another writer: its batches are the log's, and this one is second.
      if (identity.settings !== undefined) this.#machine.logRecorded();
      tail = await this.#log.tail();
    } catch (error) {
      this.#recoveryFailed(error);
      return;
    }
    this.#machine.tailRead(tail);
    this.#perform();
  }

  async #readBack({ fromPosition }: ReadBackAction): Promise<void> {
    try {
      const reader = this.#log.read(fromPosition);
      try {
        let more = true;
        while (more) {
          more = this.#machine.readBack(await within(reader.next(), EVENT_LOG_REQUEST_TIMEOUT_MS));
        }
      } finally {
        await reader.close();
      }
    } catch (error) {
      this.#recoveryFailed(error);
      return;
    }
    this.#machine.readBackDone();
    this.#perform();
    this.#recordStart();
  }

  // Once its first batch is in the log, records the settings with its position (see the
  // header): its append was fenced, so no one else's message can hold that position.
  #recordStart(): void {
    const position = this.#machine.firstAppended;
    if (this.#record !== undefined || this.#recording !== undefined || position === undefined) {
      return;
    }
    // After close(), the log may be closing under it: the batch stays outside the log.
    if (this.#machine.stopped || this.#ended) return;
    const refused = (why: string, code: ErrorCode): void => {
      this.#recordRefusedAt = position;
      // close() makes the last try: after it, nothing records this batch.
      const next = this.#recordFinal
        ? 'the ingest is closing and does not try again: the batch stays outside the log, its events lost as in a crash'
        : `trying again within ${LOG_IDENTITY_CHECK_MS} ms; until it lands, readers wait at its first batch (position ${position}) and the event source is paused`;
      this.#report({
        code,
        message: `cannot record the settings in the event log (${why}): ${next}`,
        context: {},
      });
    };
    this.#recording = this.#log.recordSettings(this.#settings, position).then(
      (identity) => {
        this.#recording = undefined;
        // The record gone again before the re-read (the description reset meanwhile): not written.
        if (identity.settings === undefined) {
          refused('the log holds no record after it was written', ErrorCode.LogFailed);
          return;
        }
        this.#recordRefusedAt = undefined;
        this.#record = identity;
        try {
          checkLogSettings(identity.settings, this.#settings, 'this ingest');
          if (identity.firstPosition !== position) {
            throw new MazeError(
              ErrorCode.LogFenced,
              `another ingest recorded its first batch (position ${identity.firstPosition}) as the start of the event log, not this one's (position ${position})`,
            );
          }
        } catch (error) {
          this.#machine.replaced(error as MazeError);
          this.#perform();
          return;
        }
        this.#machine.logRecorded();
        this.#perform();
      },
      (error: unknown) => {
        this.#recording = undefined;
        refused(
          error instanceof Error ? error.message : String(error),
          error instanceof MazeError ? error.code : ErrorCode.LogFailed,
        );
      },
    );
  }

  #recoveryFailed(error: unknown): void {
    log('recovery failed: %s', error instanceof Error ? error.message : String(error));
    this.#machine.recoveryFailed(error);
    this.#perform();
  }

  #report(problem: Problem): void {
    this.#problems++;
    log('problem %s %o', problem.code, problem.context);
    this.emit('problem', problem);
  }
}

// `promise`, or `ERR_LOG_FAILED` after `ms`: a read during recovery must not hang it.
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MazeError(ErrorCode.LogFailed, `the event log did not answer a read within ${ms} ms`),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

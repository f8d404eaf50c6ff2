/**
 * The ingest of cluster mode (docs/protocol.md §11): the event source side of `serve`
 * (framing, one source at a time, idle takeover, sequencing; §2, §4, §7) in front of an
 * `EventLog` instead of clients. Events go into the log in sequence order, in batches.
 *
 * Invariants:
 * - Input is `EventInput` and ordering is `EventSequencer`, the one `serve` uses, by its rules:
 *   a line without a sequence number, a duplicate or a stale number is reported and dropped;
 *   an invalid body is reported and consumes its number without being appended; a reorder
 *   buffer over its bounds skips the missing numbers (`ERR_SEQUENCE_GAP`).
 * - Batches hold the valid lines exactly as read, in order. A batch closes when its lines
 *   reach `INGEST_BATCH_BYTES` (it never exceeds them, except for one line longer than that
 *   alone), `INGEST_BATCH_DELAY_MS` after its first line (one unref'd timer), or at the end
 *   of an input chunk while no append is in flight (nothing to wait for). Its
 *   `lastSequence` is the last number consumed when it closed, so numbers consumed after
 *   its last line (invalid bodies) are in it too; numbers consumed while no batch is open
 *   (an invalid body before the batch's first line, a skipped gap) belong to no batch.
 * - Start: the next number is the log's `tail().lastSequence + 1`, or `startSequence` for
 *   an empty log: an ingest restarted on the same log continues it, and a source resending
 *   old numbers sees them stale.
 * - Window: at most `INGEST_APPEND_WINDOW` appends are in flight, pipelined with
 *   `fenceAfter()`; the source is paused while the window is full or the ingest recovers,
 *   so at most two closed batches wait besides the window.
 * - Errors: a failed append (fenced, lost, unavailable), or one answered as a duplicate or at
 *   another position than its fence implies, stops new appends until every one in flight has
 *   settled; then the ingest re-reads `tail()`. Because each append is fenced on the one
 *   before it, the log holds, after the last batch this ingest knows there (the tail it
 *   started from, or the end of its acknowledged prefix), a prefix of its unacknowledged
 *   batches: those are read back, compared line by line and not appended again; the rest
 *   are re-appended in order, the first fenced on the tail's position. A naive retry of the
 *   failed append alone would reorder the log. A recovery that follows another without an
 *   acknowledged append in between waits `INGEST_RECOVERY_RETRY_MS` first.
 * - A second writer is refused: if the log holds anything else after the last batch this
 *   ingest knows (a tail it cannot account for, or a batch whose lines differ from its own
 *   with the same numbers), another writer has appended. The ingest reports `ERR_LOG_FENCED`,
 *   emits `'stopped'`, closes its event source, drops what it has not appended and never
 *   appends again, so the log is never interleaved. Whichever of two live ingests is refused
 *   first stops; an idle old one that wakes up after a restarted one took over is the one
 *   refused, as is a new one that read the tail just before the old one appended.
 * - Nothing here throws because of a peer or the log: problems are `'problem'` events.
 */
import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import createDebug from 'debug';
import { EventInput, type EventInputStats } from '../adapter/event-input.js';
import { MAZE_OPTIONS } from '../adapter/options.js';
import { ErrorCode, MazeError, type Problem } from '../core/errors.js';
import { EventSequencer, type SequenceSlot } from '../core/event-sequencer.js';
import { isEvent } from '../core/parser.js';
import { pickRows, resolveOptions } from '../options/option.js';
import {
  EVENT_LOG_REQUEST_TIMEOUT_MS,
  INGEST_APPEND_WINDOW,
  INGEST_BATCH_BYTES,
  INGEST_BATCH_DELAY_MS,
  INGEST_RECOVERY_RETRY_MS,
} from './constants.js';
import {
  type AppendResult,
  type EventBatch,
  type EventLog,
  fenceAfter,
  type LogFence,
  type LogTail,
} from './event-log.js';

const log = createDebug('follower-maze:ingest');

/** Everything `createIngest()` takes. Durations are in milliseconds. */
export interface IngestOptions {
  /** The log to append to. The ingest never closes it: its owner does, after `close()`. */
  readonly log: EventLog;
  /** First sequence number when the log is empty. Default 1. */
  readonly startSequence?: number;
  /** Most events that may wait for a missing number. Default 100,000. */
  readonly reorderCapacity?: number;
  /** Most bytes of event lines that may wait for a missing number. Default 64 MiB. */
  readonly reorderBytes?: number;
  /** Longest event line, terminator included. Default 4096. */
  readonly maxLineLength?: number;
  /** Idle time after which a new source takes over (0: never). Default 10000. */
  readonly sourceIdleTimeout?: number;
  /** Bounded wait of `close()` for the source to close and the appends to finish. Default 5000. */
  readonly shutdownTimeout?: number;
}

/** Counters of an ingest: its own and the event source's. */
export interface IngestStats extends EventInputStats {
  /** Lines read from event sources. */
  readonly eventsReceived: number;
  /** Valid events released in sequence order (appended, in flight or batched). */
  readonly eventsSequenced: number;
  /** Numbers consumed by an invalid body (not appended). */
  readonly eventsNoop: number;
  /** Lines discarded: no sequence number, duplicate or stale. */
  readonly eventsDiscarded: number;
  /** Numbers declared lost because the reorder buffer overflowed. */
  readonly sequencesSkipped: number;
  /** Events waiting in the reorder buffer. */
  readonly pending: number;
  /** The number the next sequenced event will carry. */
  readonly nextSequence: number;
  /** Events the log acknowledged. */
  readonly eventsAppended: number;
  /** Batches the log acknowledged. */
  readonly batchesAppended: number;
  /** Appends sent and not yet settled. */
  readonly appendsInFlight: number;
  /** Closed batches not yet acknowledged (in flight or waiting for room). */
  readonly batchesUnacknowledged: number;
  /** Append errors that made the ingest drain its window and resume from the tail. */
  readonly appendErrors: number;
  /** Batches appended again after such an error. */
  readonly appendRetries: number;
  /** Whether another writer was found and the ingest stopped. */
  readonly stopped: boolean;
  /** Problems reported so far. */
  readonly problems: number;
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

/** A closed batch the log has not acknowledged. */
interface Outgoing {
  readonly batch: EventBatch;
  state: 'queued' | 'sent' | 'acknowledged';
}

/** The batch being filled. */
interface OpenBatch {
  readonly firstSequence: number;
  readonly lines: string[];
  bytes: number;
}

/**
 * Creates an ingest on `options.log`: reads its tail to know where to resume, then is ready
 * for `attachEventSource()`. Throws `ERR_INVALID_OPTION` on a bad option; rejects with the
 * log's error (e.g. `ERR_LOG_UNAVAILABLE`) if its tail cannot be read.
 */
export async function createIngest(options: IngestOptions): Promise<Ingest> {
  const resolved = resolveIngestOptions(options);
  const tail = await options.log.tail();
  return new Ingest(options.log, resolved, tail);
}

type ResolvedIngestOptions = Required<Omit<IngestOptions, 'log'>>;

/** The settings it takes: the event source side of a maze's. */
export const INGEST_OPTION_NAMES = [
  'startSequence',
  'reorderCapacity',
  'reorderBytes',
  'maxLineLength',
  'sourceIdleTimeout',
  'shutdownTimeout',
] as const;
const INGEST_OPTIONS = pickRows(MAZE_OPTIONS, INGEST_OPTION_NAMES);

function resolveIngestOptions(options: IngestOptions): ResolvedIngestOptions {
  if (options.log === undefined || options.log === null) {
    throw new MazeError(ErrorCode.InvalidOption, 'createIngest() needs an event log (log)');
  }
  return resolveOptions(INGEST_OPTIONS, options);
}

/** Sequences the lines of one event source at a time and appends them to an `EventLog`. */
export class Ingest extends EventEmitter<IngestEventMap> {
  readonly #log: EventLog;
  readonly #shutdownTimeout: number;
  readonly #input: EventInput;
  readonly #sequencer: EventSequencer;
  /** The last batch this ingest knows the log holds (the start tail or its last ack). */
  #known: LogTail | undefined;
  /** The fence of the next append. */
  #fence: LogFence;
  readonly #outgoing: Outgoing[] = [];
  #open: OpenBatch | undefined;
  #batchTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  /** The last number consumed (released by the sequencer). */
  #consumedThrough: number;
  #inFlight = 0;
  #recovering = false;
  /** Recoveries since the last acknowledged append. */
  #recoveriesInARow = 0;
  #stopped = false;
  #inputHeld = false;
  #closing: Promise<void> | undefined;
  /** Set when `close()` gave up waiting: no more retries. */
  #abandoned = false;
  /** Called when nothing is outgoing, or the ingest stopped. */
  #onIdle: (() => void) | undefined;
  #received = 0;
  #sequenced = 0;
  #noop = 0;
  #eventsAppended = 0;
  #batchesAppended = 0;
  #appendErrors = 0;
  #appendRetries = 0;
  #problems = 0;

  /** Use `createIngest()`, which reads the tail first. */
  constructor(eventLog: EventLog, options: ResolvedIngestOptions, tail: LogTail | undefined) {
    super();
    this.#log = eventLog;
    this.#shutdownTimeout = options.shutdownTimeout;
    this.#known = tail;
    this.#fence = { position: tail?.position ?? 0 };
    const startSequence = tail === undefined ? options.startSequence : tail.lastSequence + 1;
    this.#consumedThrough = startSequence - 1;
    this.#sequencer = new EventSequencer({ ...options, startSequence });
    this.#input = new EventInput(options, {
      applyEventLine: (line, lineNumber, connection) =>
        this.#applyEventLine(line, lineNumber, connection),
      flushOutput: () => this.#endOfChunk(),
      sourceAttached: (connection, remoteAddress) =>
        this.emit('eventSourceAttached', { connection, remoteAddress }),
      sourceEnded: (connection, lineCount) =>
        this.emit('eventSourceEnded', { connection, lineCount }),
      report: (problem) => this.#report(problem),
    });
    log('resuming at %d (log position %d)', startSequence, this.#fence.position);
  }

  /** Whether another writer was found and the ingest stopped appending. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether a failed append is being recovered from (appends wait meanwhile). */
  get recovering(): boolean {
    return this.#recovering;
  }

  /** Whether it takes no more event sources: closed, or stopped. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#stopped;
  }

  /** Reports a problem found in front of the ingest (e.g. a listening port failing). */
  report(problem: Problem): void {
    this.#report(problem);
  }

  /**
   * Attaches an event source, or refuses it as `serve` does (`ERR_EVENT_SOURCE_BUSY`, or an
   * idle holder is replaced: `ERR_EVENT_SOURCE_IDLE`). Returns its connection name
   * (`event-source#N`). Throws `ERR_INVALID_STATE` after `close()` or once stopped.
   */
  attachEventSource(stream: Readable): string {
    if (this.#closing !== undefined || this.#stopped) {
      throw new MazeError(
        ErrorCode.InvalidState,
        this.#stopped
          ? 'the ingest stopped: another writer has the event log'
          : 'the ingest is closed',
      );
    }
    return this.#input.attach(stream);
  }

  /** A snapshot of the counters. */
  stats(): IngestStats {
    return {
      ...this.#input.stats(),
      eventsReceived: this.#received,
      eventsSequenced: this.#sequenced,
      eventsNoop: this.#noop,
      eventsDiscarded: this.#sequencer.discarded,
      sequencesSkipped: this.#sequencer.skipped,
      pending: this.#sequencer.pending,
      nextSequence: this.#sequencer.nextSequence,
      eventsAppended: this.#eventsAppended,
      batchesAppended: this.#batchesAppended,
      appendsInFlight: this.#inFlight,
      batchesUnacknowledged: this.#outgoing.length,
      appendErrors: this.#appendErrors,
      appendRetries: this.#appendRetries,
      stopped: this.#stopped,
      problems: this.#problems,
    };
  }

  /**
   * Closes the event source, appends what is sequenced (the open batch too; events still
   * waiting for a missing number are not sequenced and are dropped), and clears its timers.
   * Each step is bounded by `shutdownTimeout`; the log stays open. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    log('closing');
    await this.#input.close();
    this.#closeBatch();
    const idle = new Promise<void>((resolve) => {
      this.#onIdle = resolve;
    });
    this.#checkIdle();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#shutdownTimeout);
    });
    const flushed = await Promise.race([idle.then(() => true), timeout]);
    clearTimeout(timer);
    this.#abandoned = true;
    this.#clearTimers();
    if (!flushed && !this.#stopped) {
      this.#report({
        code: ErrorCode.LogFailed,
        message: `closed before the event log acknowledged ${this.#outgoing.length} batch(es) within ${this.#shutdownTimeout} ms`,
        context: { sequence: this.#outgoing[0]?.batch.firstSequence },
      });
    }
    log('closed');
  }

  // The hot path: one call per event line.
  #applyEventLine(line: string, lineNumber: number, connection: string): void {
    this.#received++;
    const problems = this.#sequencer.offer(line);
    for (let next = this.#sequencer.next(); next !== undefined; next = this.#sequencer.next()) {
      this.#take(next);
    }
    if (problems === undefined) return;
    for (const problem of problems) {
      this.#report({
        code: problem.code,
        message: problem.message,
        context: { ...problem.context, connection, lineNumber },
      });
    }
  }

  // The end of an input chunk. With no append in flight, waiting for more lines gains nothing:
  // the batch goes at once, so a quiet source's events reach the log in one round trip
  // instead of `INGEST_BATCH_DELAY_MS`. Under load appends are in flight, and batches fill
  // up to the bytes or the delay.
  #endOfChunk(): void {
    if (this.#inFlight === 0 && !this.#recovering) this.#closeBatch();
  }

  // One slot released in order: its line joins the open batch; an invalid body only its number.
  #take(slot: SequenceSlot): void {
    this.#consumedThrough = slot.sequence;
    if (!isEvent(slot)) {
      this.#noop++;
      return;
    }
    if (this.#stopped) return;
    this.#sequenced++;
    const line = slot.line;
    if (this.#open !== undefined && this.#open.bytes + line.length > INGEST_BATCH_BYTES) {
      this.#consumedThrough = slot.sequence - 1;
      this.#closeBatch();
      this.#consumedThrough = slot.sequence;
    }
    if (this.#open === undefined) {
      this.#open = { firstSequence: slot.sequence, lines: [], bytes: 0 };
      this.#batchTimer = setTimeout(() => {
        this.#batchTimer = undefined;
        this.#closeBatch();
      }, INGEST_BATCH_DELAY_MS);
      this.#batchTimer.unref();
    }
    this.#open.lines.push(line);
    this.#open.bytes += line.length;
    if (this.#open.bytes >= INGEST_BATCH_BYTES) this.#closeBatch();
  }

  #closeBatch(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    if (this.#stopped) return;
    this.#outgoing.push({
      batch: {
        firstSequence: open.firstSequence,
        lastSequence: this.#consumedThrough,
        lines: open.lines,
      },
      state: 'queued',
    });
    this.#pump();
  }

  // Sends what the window has room for, in order, then pauses or resumes the source.
  #pump(): void {
    if (!this.#recovering && !this.#stopped) {
      for (const outgoing of this.#outgoing) {
        if (this.#inFlight >= INGEST_APPEND_WINDOW) break;
        if (outgoing.state === 'queued') this.#send(outgoing);
      }
    }
    this.#updateFlow();
    this.#checkIdle();
  }

  #send(outgoing: Outgoing): void {
    const fence = this.#fence;
    this.#fence = fenceAfter(fence, outgoing.batch);
    outgoing.state = 'sent';
    this.#inFlight++;
    let append: Promise<AppendResult>;
    try {
      append = this.#log.append(outgoing.batch, fence);
    } catch (error) {
      append = Promise.reject(error);
    }
    append.then(
      (result) => this.#answered(outgoing, result, fence.position + 1),
      (error: unknown) => this.#failed(error),
    );
  }

  #answered(outgoing: Outgoing, result: AppendResult, expected: number): void {
    if (result.duplicate || result.position !== expected) {
      // The log held a batch with this first number already: a retry inside the log, or
      // another writer's batch. Only its lines tell, and recovery compares them.
      this.#failed(
        new MazeError(
          ErrorCode.LogFenced,
          `the event log already held a batch from event ${outgoing.batch.firstSequence} (position ${result.position})`,
        ),
      );
      return;
    }
    this.#inFlight--;
    this.#recoveriesInARow = 0;
    outgoing.state = 'acknowledged';
    // Acknowledgements may come out of order: only a prefix of acknowledged batches is known.
    while (this.#outgoing[0]?.state === 'acknowledged') {
      this.#confirm(this.#outgoing.shift() as Outgoing, (this.#known?.position ?? 0) + 1);
    }
    if (this.#recovering) {
      if (this.#inFlight === 0) this.#recoverSoon();
      return;
    }
    this.#pump();
  }

  // `outgoing` is in the log at `position`, after every batch this ingest appended before it.
  #confirm(outgoing: Outgoing, position: number): void {
    this.#eventsAppended += outgoing.batch.lines.length;
    this.#batchesAppended++;
    const { firstSequence, lastSequence } = outgoing.batch;
    this.#known = { position, firstSequence, lastSequence };
  }

  #failed(error: unknown): void {
    this.#inFlight--;
    if (!this.#recovering && !this.#stopped) {
      this.#appendErrors++;
      this.#recovering = true;
      const code = error instanceof MazeError ? error.code : ErrorCode.LogFailed;
      const message = error instanceof Error ? error.message : String(error);
      log('append failed (%s): %s', code, message);
      if (
        code !== ErrorCode.LogFenced &&
        code !== ErrorCode.LogFailed &&
        code !== ErrorCode.LogUnavailable
      ) {
        // The log refused the batch itself or is closed: a retry would fail the same way.
        this.#stop({
          code,
          message: `the event log refused an append (${message}); this ingest stops`,
          context: {},
        });
        return;
      }
      this.#report({
        code,
        message: `append failed (${message}); resuming from the event log's tail once the appends in flight settle`,
        context: {},
      });
      this.#updateFlow();
    }
    if (this.#inFlight === 0 && this.#recovering) this.#recoverSoon();
  }

  // The first recovery in a row starts at once; one that follows a recovery without any
  // acknowledged append waits first, so a log that keeps failing is not asked in a tight loop.
  #recoverSoon(): void {
    this.#recoveriesInARow++;
    if (this.#recoveriesInARow === 1) {
      void this.#recover();
      return;
    }
    this.#retryLater();
  }

  #retryLater(): void {
    if (this.#abandoned || this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#recover();
    }, INGEST_RECOVERY_RETRY_MS);
    this.#retryTimer.unref();
  }

  // Every append of the window has settled. Each was fenced on the one before it, so the
  // log holds, after the last batch known, a prefix of `#outgoing`, or another writer's.
  async #recover(): Promise<void> {
    let tail: LogTail | undefined;
    let written: Outgoing[] | 'foreign';
    try {
      tail = await this.#log.tail();
      written = await this.#writtenUpTo(tail);
    } catch (error) {
      if (this.#abandoned || this.#stopped) return;
      log('recovery failed: %s', error instanceof Error ? error.message : String(error));
      this.#retryLater();
      return;
    }
    if (this.#abandoned || this.#stopped) return;
    if (written === 'foreign') {
      this.#stop({
        code: ErrorCode.LogFenced,
        message: `another writer has the event log: its last batch (position ${tail?.position ?? 0}, events ${tail?.firstSequence}..${tail?.lastSequence}) is not one this ingest wrote (another ingest appended, or the log was replaced); this ingest stops and closes its event source`,
        context: { sequence: tail?.lastSequence },
      });
      return;
    }
    const base = this.#known?.position ?? 0;
    for (const [index, outgoing] of this.#outgoing.splice(0, written.length).entries()) {
      this.#confirm(outgoing, base + index + 1);
    }
    this.#fence = { position: tail?.position ?? 0 };
    for (const outgoing of this.#outgoing) {
      if (outgoing.state !== 'queued') this.#appendRetries++;
      outgoing.state = 'queued';
    }
    log('resuming appends at log position %d', this.#fence.position);
    this.#recovering = false;
    this.#pump();
  }

  // The unacknowledged batches the log holds (a prefix of `#outgoing`), read back and compared
  // line by line, or `'foreign'` when the log holds anything else after the last batch known.
  async #writtenUpTo(tail: LogTail | undefined): Promise<Outgoing[] | 'foreign'> {
    const base = this.#known?.position ?? 0;
    const count = (tail?.position ?? 0) - base;
    if (count === 0) {
      const known = this.#known;
      const same =
        tail === undefined ||
        (tail.firstSequence === known?.firstSequence && tail.lastSequence === known.lastSequence);
      return same ? [] : 'foreign';
    }
    if (count < 0 || count > this.#outgoing.length) return 'foreign';
    const candidates = this.#outgoing.slice(0, count);
    const reader = this.#log.read(base + 1);
    try {
      for (const outgoing of candidates) {
        const stored = await within(reader.next(), EVENT_LOG_REQUEST_TIMEOUT_MS);
        if (stored === undefined || !sameBatch(stored, outgoing.batch)) return 'foreign';
      }
    } finally {
      await reader.close();
    }
    return candidates;
  }

  #stop(problem: Problem): void {
    this.#stopped = true;
    this.#recovering = false;
    this.#clearTimers();
    const dropped = this.#outgoing.reduce((sum, outgoing) => sum + outgoing.batch.lines.length, 0);
    this.#outgoing.length = 0;
    this.#open = undefined;
    const reported = {
      ...problem,
      message: `${problem.message} (${dropped} event(s) not appended)`,
    };
    this.#report(reported);
    this.emit('stopped', reported);
    void this.#input.close();
    this.#checkIdle();
  }

  #updateFlow(): void {
    const hold = !this.#stopped && (this.#recovering || this.#inFlight >= INGEST_APPEND_WINDOW);
    if (hold === this.#inputHeld) return;
    this.#inputHeld = hold;
    if (hold) this.#input.pause();
    else this.#input.resume();
  }

  #checkIdle(): void {
    if (this.#onIdle === undefined) return;
    if (this.#stopped || (this.#outgoing.length === 0 && this.#open === undefined)) {
      const onIdle = this.#onIdle;
      this.#onIdle = undefined;
      onIdle();
    }
  }

  #clearTimers(): void {
    clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #report(problem: Problem): void {
    this.#problems++;
    log('problem %s %o', problem.code, problem.context);
    this.emit('problem', problem);
  }
}

function sameBatch(stored: EventBatch, ours: EventBatch): boolean {
  return (
    stored.firstSequence === ours.firstSequence &&
    stored.lastSequence === ours.lastSequence &&
    stored.lines.length === ours.lines.length &&
    stored.lines.every((line, index) => line === ours.lines[index])
  );
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

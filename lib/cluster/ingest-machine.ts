/**
 * The ingest's appends as a state machine without I/O (inputs in, actions out): what to
 * batch, when to append with which fence, how to recover from a failed append, when another
 * writer has the log, and when a shutdown is done. It owns no timer, promise or connection:
 * its driver (ingest.ts) feeds it sequenced slots and the log's answers, and performs the
 * actions it queues (`nextAction()`), in order.
 *
 * Invariants:
 * - Batches hold the valid lines exactly as taken, in order. A batch closes when its lines
 *   reach `batchBytes` (it never exceeds them, except for one line longer than that alone),
 *   when the batch timer started with it fires, or at the end of an input chunk while no
 *   append is in flight (nothing to wait for). Its `lastSequence` is the last number taken
 *   when it closed, so numbers taken after its last line (invalid bodies) are in it too;
 *   its `firstSequence` is the previous batch's `lastSequence + 1` (numbers taken while no
 *   batch was open, and those skipped over a gap, are in the batch after them): the batches
 *   partition the numbers, which is how readers tell them from foreign ones
 *   (log-continuity.ts).
 * - Start: the first number is the last continuing batch's `lastSequence + 1`, or
 *   `startSequence` for a log without one; the first append is fenced on the position of the
 *   log's last message, whatever it is. In a log that records no writer's start yet
 *   (`logStarted` false), a recovery before this machine's first batch is in skips every
 *   message as foreign, a well-formed batch included: the log starts with this machine's
 *   first batch (`firstAppended`), which its driver then records.
 * - Window: at most `appendWindow` appends are in flight, each fenced on the one before it
 *   (`fenceAfter()`); the input is paused while the window is full or a recovery runs, so at
 *   most two closed batches wait besides the window. Until the log records a writer's start
 *   (`logRecorded()`), the window is one append, and none once the first batch is in: only
 *   that batch is at risk while the record is late (a restarted ingest would take what
 *   follows it as before the log's start).
 * - Message ids: each batch gets its id when it closes (`newMessageId`, unguessable by anyone
 *   else) and keeps it when appended again, so the log dedupes a retry of its own. An append
 *   answered as a duplicate whose batch the recovery does not find in the log met someone
 *   else's message under its id: the batch goes again under a new one, so a message
 *   published with the id an append is about to use never stalls the ingest.
 * - Recovery: a failed append (fenced, lost, unavailable), or one answered as a duplicate or
 *   at another position than its fence implies, stops new appends until every one in flight
 *   has settled; then the tail is read. The log holds, after the last position this machine
 *   accounted for (the start's end, or its acknowledged prefix), a prefix of its
 *   unacknowledged batches, among messages it did not write: it reads them back; what does
 *   not continue the log is skipped and reported (`ERR_LOG_FOREIGN`, one report per
 *   recovery), its batches there are compared line by line and not appended again; the rest
 *   are appended again in order, the first fenced on the tail's position. A
 *   recovery that follows another without an acknowledged append in between waits for the
 *   retry timer first, as does one whose reads failed.
 * - Second writer: if the log holds, after the last batch known, a batch that continues the
 *   log and is not its own (another ingest's), or the log shrank or changed under it, the
 *   machine stops (`ERR_LOG_FENCED`): it drops what it has not appended and never asks for
 *   an append again. A log that refuses a batch itself (any other error code) stops it
 *   too, since a retry would fail the same way, and so does a log deleted and created again
 *   (`ERR_LOG_REPLACED`, found by the driver when it reads the tail).
 * - Shutdown: after `close()` the open batch closes and `idle` comes once nothing is
 *   unacknowledged (or the machine stopped); `closeEnded()` then ends every retry.
 * - Taking a line that neither opens nor closes a batch queues no action and allocates
 *   nothing but the line's place in its batch (the first line of a batch opens it and
 *   queues its timer).
 */

import { Buffer } from 'node:buffer';
import type { SequenceSlot } from '../core/event-sequencer.js';
import { CORE_OPTIONS } from '../core/options.js';
import { isEvent } from '../core/parser.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { batchOfBody, lineCountOf, withMessageId } from './batch-codec.js';
import {
  type AppendResult,
  type EventBatch,
  fenceAfter,
  isForeign,
  type LogFence,
  type LogForeign,
  type LogTail,
} from './event-log.js';

/**
 * Bytes of event lines (terminators included) that close an ingest's batch: one append, one
 * JetStream message, well under NATS's default 1 MiB payload. A single line longer than this
 * (`maxLineLength` above it) makes a batch of its own.
 */
export const INGEST_BATCH_BYTES = 64 * 1024;

// What a batch's buffer starts at: a quiet source's batches of a few lines stay small.
const FIRST_BATCH_BUFFER = 4 * 1024;
/** Appends an ingest has in flight at once (pipelined); while they are, the source is paused. */
export const INGEST_APPEND_WINDOW = 8;

/** Append `batch` with `fence`; answer with `appended()` or `appendFailed()`. */
export interface AppendAction {
  readonly type: 'append';
  readonly batch: EventBatch;
  readonly fence: LogFence;
}

/**
 * Read batches from `fromPosition`, giving each to `readBack()` while it returns true; then
 * close the reader and call `readBackDone()`, or `recoveryFailed()` if a read failed.
 */
export interface ReadBackAction {
  readonly type: 'readBack';
  readonly fromPosition: number;
}

/** Something to tell: a `'problem'`, or (`stop`) the problem that stopped the machine for good. */
export interface ProblemAction {
  readonly type: 'report' | 'stop';
  readonly problem: Problem;
}

/**
 * An action without data. `startBatchTimer`, `startRetryTimer`: start the timer, and call
 * `batchTimerFired()` / `retryTimerFired()` when it fires (`clear…`: cancel it).
 * `pauseInput`, `resumeInput`: the event source. `readTail`: read the log's tail and answer
 * with `tailRead()` or `recoveryFailed()`. `idle`: after `close()`, nothing is left to append.
 */
export interface SignalAction {
  readonly type:
    | 'startBatchTimer'
    | 'clearBatchTimer'
    | 'startRetryTimer'
    | 'clearRetryTimer'
    | 'pauseInput'
    | 'resumeInput'
    | 'readTail'
    | 'idle';
}

/** What the driver does for the machine, in the order queued. */
export type IngestAction = AppendAction | ReadBackAction | ProblemAction | SignalAction;

// Actions without data are shared: queuing one allocates nothing.
const START_BATCH_TIMER = { type: 'startBatchTimer' } as const;
const CLEAR_BATCH_TIMER = { type: 'clearBatchTimer' } as const;
const START_RETRY_TIMER = { type: 'startRetryTimer' } as const;
const CLEAR_RETRY_TIMER = { type: 'clearRetryTimer' } as const;
const PAUSE_INPUT = { type: 'pauseInput' } as const;
const RESUME_INPUT = { type: 'resumeInput' } as const;
const READ_TAIL = { type: 'readTail' } as const;
const IDLE = { type: 'idle' } as const;

/** Where the machine starts, and its limits. */
export interface IngestMachineSetup {
  /** The log's last continuing batch when the ingest started (`undefined`: none). */
  readonly tail: LogTail | undefined;
  /** The position of the log's last message then; default the tail's position. */
  readonly endPosition?: number;
  /** Messages after the tail that do not continue the log: reported at once. Default 0. */
  readonly foreign?: number;
  /**
   * `false`: the log records no writer's start yet, so until this machine's first batch is in
   * it, no batch there is the log's, however well it continues. Default `true`.
   */
  readonly logStarted?: boolean;
  /** First sequence number when the log is empty. */
  readonly startSequence: number;
  /** A batch closes when its lines reach this many bytes. Default `INGEST_BATCH_BYTES`. */
  readonly batchBytes?: number;
  /** Most appends in flight. Default `INGEST_APPEND_WINDOW`. */
  readonly appendWindow?: number;
  /** The delimiter the lines were parsed with, recorded in every batch. Default `|`. */
  readonly delimiter?: string;
  /**
   * A new random part for a batch's message id (see the header): the ingest's are random.
   * Default: none, the id is `seq-<first>-<last>`, which anyone can guess.
   */
  readonly newMessageId?: () => string;
}

/** The machine's counters, part of `IngestStats`. */
export interface IngestMachineStats {
  /** Valid events released in sequence order (appended, in flight or batched). */
  readonly eventsSequenced: number;
  /** Numbers consumed by an invalid body (not appended). */
  readonly eventsNoop: number;
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
  /** Log messages skipped because they do not continue the log (`ERR_LOG_FOREIGN`). */
  readonly foreignSkipped: number;
}

/** A closed batch the log has not acknowledged. */
interface Outgoing {
  /** Replaced when its message id is (see the header). */
  batch: EventBatch;
  state: 'queued' | 'sent' | 'acknowledged';
  /** The action of its latest append. */
  sent: AppendAction | undefined;
  /** Its latest append was answered as a duplicate: a new id unless the log holds it. */
  duplicate: boolean;
}

/** The batch being filled. */
interface OpenBatch {
  readonly firstSequence: number;
  /** Its lines, copied together; grown by doubling. */
  buffer: Buffer;
  /** Where each line ends in `buffer`. */
  readonly ends: number[];
  bytes: number;
}

/** A recovery reading back what the log holds after the last batch known. */
interface ReadingBack {
  readonly tail: LogTail | LogForeign;
  /** Messages the log holds after the last position accounted for. */
  readonly count: number;
  /** Of those, how many were read. */
  read: number;
  /** The positions of the ones that matched ours, in order. */
  readonly matched: number[];
  /** The last event number of the log so far: the next batch must start after it. */
  lastSequence: number;
  /** Messages that did not continue the log. */
  skipped: number;
  /** A continuing batch that is not ours (another writer), or the reader ended early. */
  foreign: boolean;
}

/** See the module header. */
export class IngestMachine {
  /** The first sequence number this ingest gives out. */
  readonly resumeSequence: number;
  readonly #batchBytes: number;
  readonly #appendWindow: number;
  readonly #newMessageId: (() => string) | undefined;
  /** What each batch records: nothing for `|` (see `EventBatch.delimiter`). */
  readonly #recorded: { readonly delimiter?: string };
  readonly #actions: IngestAction[] = [];
  #nextAction = 0;
  /** The last batch this machine knows the log holds (the start tail or its last ack). */
  #known: LogTail | undefined;
  #firstAppended: number | undefined;
  #logStarted: boolean;
  /** The position of the last message it accounted for: its own batches and what it skipped. */
  #accounted: number;
  /** The last number of the last batch closed: the next one starts after it. */
  #batchedThrough: number;
  /** The fence of the next append. */
  #fence: LogFence;
  readonly #outgoing: Outgoing[] = [];
  #open: OpenBatch | undefined;
  /** The last number taken. */
  #consumedThrough: number;
  #inFlight = 0;
  #recovering = false;
  /** Recoveries since the last acknowledged append. */
  #recoveriesInARow = 0;
  #readingBack: ReadingBack | undefined;
  #stopped = false;
  #inputHeld = false;
  #closing = false;
  #idle = false;
  /** Set by `closeEnded()`: no more retries. */
  #abandoned = false;
  #batchTimer = false;
  #retryTimer = false;
  #sequenced = 0;
  #noop = 0;
  #eventsAppended = 0;
  #batchesAppended = 0;
  #appendErrors = 0;
  #appendRetries = 0;
  #foreignSkipped = 0;

  constructor(setup: IngestMachineSetup) {
    const { tail } = setup;
    this.#batchBytes = setup.batchBytes ?? INGEST_BATCH_BYTES;
    this.#appendWindow = setup.appendWindow ?? INGEST_APPEND_WINDOW;
    this.#newMessageId = setup.newMessageId;
    const { delimiter = CORE_OPTIONS.delimiter.default } = setup;
    this.#recorded = delimiter === CORE_OPTIONS.delimiter.default ? {} : { delimiter };
    this.#known = tail;
    this.#logStarted = setup.logStarted ?? true;
    this.#accounted = setup.endPosition ?? tail?.position ?? 0;
    this.#fence = { position: this.#accounted };
    this.resumeSequence = tail === undefined ? setup.startSequence : tail.lastSequence + 1;
    this.#consumedThrough = this.resumeSequence - 1;
    this.#batchedThrough = this.#consumedThrough;
    const foreign = setup.foreign ?? 0;
    if (foreign > 0) this.#reportForeign(foreign, this.#accounted - foreign + 1, this.#accounted);
  }

  /** The next action to perform, in order; `undefined` when there is none. */
  nextAction(): IngestAction | undefined {
    if (this.#nextAction < this.#actions.length) return this.#actions[this.#nextAction++];
    if (this.#nextAction > 0) {
      this.#actions.length = 0;
      this.#nextAction = 0;
    }
    return undefined;
  }

  /** The position of the first batch this machine found in the log as its own; `undefined`: none yet. */
  get firstAppended(): number | undefined {
    return this.#firstAppended;
  }

  /** Whether another writer was found (or the log refused a batch) and it stopped for good. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether a failed append is being recovered from (appends wait meanwhile). */
  get recovering(): boolean {
    return this.#recovering;
  }

  /** The fence the next append will carry. */
  get fence(): LogFence {
    return this.#fence;
  }

  stats(): IngestMachineStats {
    return {
      eventsSequenced: this.#sequenced,
      eventsNoop: this.#noop,
      eventsAppended: this.#eventsAppended,
      batchesAppended: this.#batchesAppended,
      appendsInFlight: this.#inFlight,
      batchesUnacknowledged: this.#outgoing.length,
      appendErrors: this.#appendErrors,
      appendRetries: this.#appendRetries,
      foreignSkipped: this.#foreignSkipped,
    };
  }

  // The hot path: one call per slot released in order. A line joins the open batch; an
  // invalid body only its number.
  take(slot: SequenceSlot): void {
    this.#consumedThrough = slot.sequence;
    if (!isEvent(slot)) {
      this.#noop++;
      return;
    }
    if (this.#stopped) return;
    this.#sequenced++;
    const length = slot.end - slot.start;
    if (this.#open !== undefined && this.#open.bytes + length > this.#batchBytes) {
      this.#consumedThrough = slot.sequence - 1;
      this.#closeBatch();
      this.#consumedThrough = slot.sequence;
    }
    if (this.#open === undefined) {
      this.#open = {
        firstSequence: this.#batchedThrough + 1,
        buffer: Buffer.allocUnsafeSlow(Math.min(this.#batchBytes, FIRST_BATCH_BUFFER)),
        ends: [],
        bytes: 0,
      };
      this.#batchTimer = true;
      this.#actions.push(START_BATCH_TIMER);
    }
    // A copy of its own: the batch outlives the input chunk the slot's range lies in.
    const open = this.#open;
    if (open.bytes + length > open.buffer.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * open.buffer.length, open.bytes + length));
      open.buffer.copy(grown, 0, 0, open.bytes);
      open.buffer = grown;
    }
    open.buffer.set(slot.bytes.subarray(slot.start, slot.end), open.bytes);
    open.bytes += length;
    open.ends.push(open.bytes);
    if (open.bytes >= this.#batchBytes) this.#closeBatch();
  }

  /**
   * The end of an input chunk. With no append in flight, waiting for more lines gains
   * nothing: the batch goes at once, so a quiet source's events reach the log in one round
   * trip instead of the batch delay. Under load appends are in flight, and batches fill up to
   * the bytes or the timer.
   */
  endOfChunk(): void {
    if (this.#inFlight === 0 && !this.#recovering) this.#closeBatch();
  }

  batchTimerFired(): void {
    if (!this.#batchTimer) return;
    this.#batchTimer = false;
    this.#closeBatch();
  }

  /** The log answered `append`. */
  appended(append: AppendAction, result: AppendResult): void {
    if (result.duplicate || result.position !== append.fence.position + 1) {
      // The log held a message with this batch's id already: a retry inside the log, or
      // someone else's message. Only its lines tell, and recovery compares them.
      const outgoing = this.#outgoing.find((candidate) => candidate.sent === append);
      if (outgoing !== undefined && result.duplicate) outgoing.duplicate = true;
      this.appendFailed(
        new MazeError(
          ErrorCode.LogFenced,
          `the event log already held a message with the id of the batch from event ${append.batch.firstSequence} (position ${result.position})`,
        ),
      );
      return;
    }
    this.#inFlight--;
    this.#recoveriesInARow = 0;
    const outgoing = this.#outgoing.find((candidate) => candidate.sent === append);
    if (outgoing !== undefined) outgoing.state = 'acknowledged';
    // Acknowledgements may come out of order: only a prefix of acknowledged batches is known.
    for (
      let first = this.#outgoing[0];
      first?.state === 'acknowledged';
      first = this.#outgoing[0]
    ) {
      this.#outgoing.shift();
      this.#confirm(first, this.#accounted + 1);
    }
    if (this.#recovering) {
      if (this.#inFlight === 0) this.#recoverSoon();
      return;
    }
    this.#pump();
  }

  /** An append failed (rejected, or answered wrongly: see `appended()`). */
  appendFailed(error: unknown): void {
    this.#inFlight--;
    if (!this.#recovering && !this.#stopped) {
      this.#appendErrors++;
      this.#recovering = true;
      const code = error instanceof MazeError ? error.code : ErrorCode.LogFailed;
      const message = error instanceof Error ? error.message : String(error);
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
      this.#actions.push({
        type: 'report',
        problem: {
          code,
          message: `append failed (${message}); resuming from the event log's tail once the appends in flight settle`,
          context: {},
        },
      });
      this.#updateFlow();
    }
    if (this.#inFlight === 0 && this.#recovering) this.#recoverSoon();
  }

  retryTimerFired(): void {
    if (!this.#retryTimer) return;
    this.#retryTimer = false;
    this.#actions.push(READ_TAIL);
  }

  /**
   * The tail a recovery read. Every append has settled, each fenced on the one before it, so
   * the log holds, after the last batch known, a prefix of the unacknowledged batches, or
   * another writer's.
   */
  tailRead(tail: LogTail | LogForeign | undefined): void {
    if (this.#abandoned || this.#stopped) return;
    const base = this.#accounted;
    const count = (tail?.position ?? 0) - base;
    if (count === 0) {
      if (this.#unchanged(tail)) this.#resume(base, []);
      else this.#foreign(tail);
      return;
    }
    if (tail === undefined || count < 0) {
      this.#foreign(tail);
      return;
    }
    this.#readingBack = {
      tail,
      count,
      read: 0,
      matched: [],
      lastSequence: this.#known?.lastSequence ?? this.resumeSequence - 1,
      skipped: 0,
      foreign: false,
    };
    this.#actions.push({ type: 'readBack', fromPosition: base + 1 });
  }

  /**
   * The next message read back (`undefined`: the reader ended); returns whether to read
   * another. What does not continue the log is skipped; a batch that does is compared line
   * by line with the unacknowledged batch it should be.
   */
  readBack(stored: EventBatch | LogForeign | undefined): boolean {
    const reading = this.#readingBack;
    if (reading === undefined || reading.foreign || reading.read === reading.count) return false;
    if (stored === undefined) {
      reading.foreign = true;
      return false;
    }
    reading.read++;
    const position = this.#accounted + reading.read;
    if (isForeign(stored) || stored.firstSequence !== reading.lastSequence + 1) {
      reading.skipped++;
      return reading.read < reading.count;
    }
    const ours = this.#outgoing[reading.matched.length];
    if (ours === undefined || !sameBatch(stored, ours.batch)) {
      // Before the log's first batch is in, someone else's is not the log's: skipped.
      if (!this.#logStarted && this.#firstAppended === undefined && reading.matched.length === 0) {
        reading.skipped++;
        return reading.read < reading.count;
      }
      reading.foreign = true;
      return false;
    }
    reading.matched.push(position);
    reading.lastSequence = stored.lastSequence;
    return reading.read < reading.count;
  }

  /** The read-back is over (its reader closed): appends resume, or the machine stops. */
  readBackDone(): void {
    const reading = this.#readingBack;
    this.#readingBack = undefined;
    if (reading === undefined || this.#abandoned || this.#stopped) return;
    if (reading.foreign || reading.read !== reading.count) {
      this.#foreign(reading.tail);
      return;
    }
    if (reading.skipped > 0) {
      this.#reportForeign(reading.skipped, this.#accounted + 1, reading.tail.position);
    }
    this.#resume(reading.tail.position, reading.matched);
  }

  /**
   * Reading the tail or reading back failed: the recovery is tried again after the retry
   * timer, unless the log was replaced (`ERR_LOG_REPLACED`: its positions mean other batches
   * now) or its record changed (`ERR_LOG_CONFIG`: another writer's start), so the machine
   * stops.
   */
  recoveryFailed(error?: unknown): void {
    this.#readingBack = undefined;
    if (this.#abandoned || this.#stopped) return;
    if (
      error instanceof MazeError &&
      (error.code === ErrorCode.LogReplaced || error.code === ErrorCode.LogConfig)
    ) {
      this.replaced(error);
      return;
    }
    this.#retryLater();
  }

  /**
   * The log records a writer's start now: this machine's (its driver recorded it), or
   * another's (read before a recovery reads the tail). Appends resume at full window.
   */
  logRecorded(): void {
    if (this.#logStarted) return;
    this.#logStarted = true;
    this.#pump();
  }

  /**
   * The log was deleted and created again (`ERR_LOG_REPLACED`, found by the driver at any
   * time): its positions mean other batches now, so the machine stops.
   */
  replaced(error: MazeError): void {
    if (this.#abandoned || this.#stopped) return;
    this.#stop({ code: error.code, message: `${error.message}; this ingest stops`, context: {} });
  }

  /** The input is closed: the open batch closes; `idle` comes once everything is acknowledged. */
  close(): void {
    this.#closing = true;
    this.#closeBatch();
    this.#checkIdle();
  }

  /**
   * The driver stopped waiting for `idle`: at once, or after `timedOutAfterMs` without it (then
   * what is unacknowledged is reported). No retry follows.
   */
  closeEnded(timedOutAfterMs?: number): void {
    this.#abandoned = true;
    this.#clearTimers();
    if (timedOutAfterMs !== undefined && !this.#stopped) {
      const first = this.#outgoing[0]?.batch.firstSequence;
      const last = this.#outgoing.at(-1)?.batch.lastSequence;
      const events = first === undefined || last === undefined ? 0 : last - first + 1;
      this.#actions.push({
        type: 'report',
        problem: {
          code: ErrorCode.LogFailed,
          message: `closed before the event log acknowledged ${this.#outgoing.length} batch(es) (${events} sequence number(s) from ${first}) within ${timedOutAfterMs} ms`,
          context: { sequence: first },
        },
      });
    }
  }

  #closeBatch(): void {
    this.#clearBatchTimer();
    const open = this.#open;
    if (open === undefined) return;
    this.#open = undefined;
    this.#batchedThrough = this.#consumedThrough;
    if (this.#stopped) return;
    this.#outgoing.push({
      batch: this.#withNewId(
        batchOfBody(
          {
            firstSequence: open.firstSequence,
            lastSequence: this.#consumedThrough,
            ...this.#recorded,
          },
          { bytes: ownedBytes(open), start: 0, ends: Uint32Array.from(open.ends) },
        ),
      ),
      state: 'queued',
      sent: undefined,
      duplicate: false,
    });
    this.#pump();
  }

  /** `batch` with a new message id, if this machine gives ids (see the header). */
  #withNewId(batch: EventBatch): EventBatch {
    if (this.#newMessageId === undefined) return batch;
    return withMessageId(
      batch,
      `seq-${batch.firstSequence}-${batch.lastSequence}-${this.#newMessageId()}`,
    );
  }

  // Sends what the window has room for, in order, then pauses or resumes the input.
  #pump(): void {
    if (!this.#recovering && !this.#stopped) {
      for (const outgoing of this.#outgoing) {
        if (this.#inFlight >= this.#window()) break;
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
    const append: AppendAction = { type: 'append', batch: outgoing.batch, fence };
    outgoing.sent = append;
    this.#actions.push(append);
  }

  // `outgoing` is in the log at `position`, after every batch this machine appended before it.
  #confirm(outgoing: Outgoing, position: number): void {
    this.#eventsAppended += lineCountOf(outgoing.batch);
    this.#batchesAppended++;
    const { firstSequence, lastSequence } = outgoing.batch;
    this.#known = { position, firstSequence, lastSequence };
    this.#firstAppended ??= position;
    this.#accounted = position;
  }

  // The first recovery in a row starts at once; one that follows a recovery without any
  // acknowledged append waits first, so a log that keeps failing is not asked in a tight loop.
  #recoverSoon(): void {
    this.#recoveriesInARow++;
    if (this.#recoveriesInARow === 1) this.#actions.push(READ_TAIL);
    else this.#retryLater();
  }

  #retryLater(): void {
    if (this.#abandoned || this.#stopped) return;
    this.#retryTimer = true;
    this.#actions.push(START_RETRY_TIMER);
  }

  // The log holds the first unacknowledged batches at `positions`: they are confirmed, the
  // rest are sent again after `end`, the log's last position.
  #resume(end: number, positions: readonly number[]): void {
    for (const [index, outgoing] of this.#outgoing.splice(0, positions.length).entries()) {
      this.#confirm(outgoing, positions[index] as number);
    }
    this.#accounted = end;
    this.#fence = { position: end };
    for (const outgoing of this.#outgoing) {
      if (outgoing.state !== 'queued') this.#appendRetries++;
      outgoing.state = 'queued';
      // Not in the log, yet its id was taken: by someone else.
      if (outgoing.duplicate) outgoing.batch = this.#withNewId(outgoing.batch);
      outgoing.duplicate = false;
    }
    this.#recovering = false;
    this.#pump();
  }

  // Nothing was appended since the last position accounted for: the log still holds there
  // what this machine found (its last batch, or a message it skipped).
  #unchanged(tail: LogTail | LogForeign | undefined): boolean {
    const known = this.#known;
    if (tail === undefined) return known === undefined;
    if (known?.position === tail.position) {
      return (
        !isForeign(tail) &&
        tail.firstSequence === known.firstSequence &&
        tail.lastSequence === known.lastSequence
      );
    }
    const lastSequence = known?.lastSequence ?? this.resumeSequence - 1;
    return isForeign(tail) || tail.firstSequence !== lastSequence + 1;
  }

  // One report for the `count` messages skipped between positions `from` and `to`, the end.
  #reportForeign(count: number, from: number, to: number): void {
    this.#foreignSkipped += count;
    this.#actions.push({
      type: 'report',
      problem: {
        code: ErrorCode.LogForeign,
        message: `the event log holds ${count} message(s) this ingest did not write between positions ${from} and ${to} (not a batch, or a batch that does not continue the log): skipped; appending after position ${to}`,
        context: {},
      },
    });
  }

  #foreign(tail: LogTail | LogForeign | undefined): void {
    const what =
      tail === undefined
        ? 'is empty'
        : isForeign(tail)
          ? `ends at position ${tail.position}`
          : `holds at position ${tail.position} events ${tail.firstSequence}..${tail.lastSequence}`;
    this.#stop({
      code: ErrorCode.LogFenced,
      message: `another writer has the event log (it ${what}): a batch this ingest did not write continues it where its own should, or it shrank (another ingest appended, or the log was replaced); this ingest stops and closes its event source`,
      context: tail === undefined || isForeign(tail) ? {} : { sequence: tail.lastSequence },
    });
  }

  #stop(problem: Problem): void {
    this.#stopped = true;
    this.#recovering = false;
    this.#clearTimers();
    const dropped = this.#outgoing.reduce((sum, outgoing) => sum + lineCountOf(outgoing.batch), 0);
    this.#outgoing.length = 0;
    this.#open = undefined;
    this.#actions.push({
      type: 'stop',
      problem: { ...problem, message: `${problem.message} (${dropped} event(s) not appended)` },
    });
    this.#checkIdle();
  }

  #updateFlow(): void {
    const hold = !this.#stopped && (this.#recovering || this.#inFlight >= this.#window());
    if (hold === this.#inputHeld) return;
    this.#inputHeld = hold;
    this.#actions.push(hold ? PAUSE_INPUT : RESUME_INPUT);
  }

  // Before the log's start is recorded, its first batch goes alone and the rest wait for the
  // record: a record that never lands must not leave more events outside the log.
  #window(): number {
    if (this.#logStarted) return this.#appendWindow;
    return this.#firstAppended === undefined ? 1 : 0;
  }

  #checkIdle(): void {
    if (!this.#closing || this.#idle) return;
    if (this.#stopped || (this.#outgoing.length === 0 && this.#open === undefined)) {
      this.#idle = true;
      this.#actions.push(IDLE);
    }
  }

  #clearBatchTimer(): void {
    if (!this.#batchTimer) return;
    this.#batchTimer = false;
    this.#actions.push(CLEAR_BATCH_TIMER);
  }

  #clearTimers(): void {
    this.#clearBatchTimer();
    if (!this.#retryTimer) return;
    this.#retryTimer = false;
    this.#actions.push(CLEAR_RETRY_TIMER);
  }
}

// The bytes of `open`'s lines, in a buffer of their size when the buffer's spare room
// would be more than they are (a queued batch holds no more than its bytes' worth). Batch
// buffers are never from Node's shared pool, which a queued batch would keep alive.
function ownedBytes(open: OpenBatch): Uint8Array {
  const used = open.buffer.subarray(0, open.bytes);
  return 2 * open.bytes >= open.buffer.length ? used : new Uint8Array(used);
}

function sameBatch(stored: EventBatch, ours: EventBatch): boolean {
  return (
    stored.firstSequence === ours.firstSequence &&
    stored.lastSequence === ours.lastSequence &&
    stored.lines.length === ours.lines.length &&
    stored.lines.every((line, index) => line === ours.lines[index])
  );
}

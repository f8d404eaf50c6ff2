/**
 * An `EventLog` in memory, for tests of ingest and gateway logic without NATS, and for a
 * single process that wants the log's shape without its durability.
 *
 * Invariants (besides `EventLog`'s):
 * - The same semantics as `JetStreamEventLog`: positions from 1 without holes, fencing on
 *   the expected last position, dedupe by message id before fencing, reads in order from
 *   any retained position, `ERR_LOG_TRUNCATED` for a dropped one.
 * - Bounded: past `retainBatches` batches or `retainBytes` encoded bytes the oldest batches
 *   are dropped (the last one always stays, so the tail survives). The dedupe window is
 *   what is retained: a dropped batch's id is forgotten with it (JetStream's is a time).
 * - Appends settle in call order, so pipelined appends behave as over the network.
 * - `publish()` puts raw bytes at the next position, as any NATS client allowed on the
 *   subject can: no message id, no fence; a reader gets them back as a batch if they decode
 *   as one (signed with the log key, when it has one), else as a `LogForeign` entry.
 * - Its epoch is a random id; `replace()` empties it as deleting and creating its stream
 *   again would, under a new one; `rewriteRecord()` changes its record as a second writer or
 *   an operator editing the stream's description could.
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { ErrorCode, MazeError } from '../errors.js';
import { checkBatch, decodeBatch, encodeBatch, logBatchOf } from './batch-codec.js';
import {
  type AppendResult,
  checkFromPosition,
  checkLogEpoch,
  type EventBatch,
  type EventLog,
  fenced,
  fencedMessageId,
  isForeign,
  iterateReader,
  type LogBatch,
  type LogEntry,
  type LogFence,
  type LogForeign,
  type LogIdentity,
  type LogReader,
  type LogSettings,
  type LogTail,
  messageIdOf,
  type ReadOptions,
  tailOf,
  truncated,
} from './event-log.js';
import { type LogKey, type LogKeyInput, logKeyOf } from './log-key.js';

/** Batches an in-memory event log keeps before dropping the oldest. */
const DEFAULT_MEMORY_LOG_RETAIN_BATCHES = 10_000;
/** Bytes of encoded batches an in-memory event log keeps before dropping the oldest. */
const DEFAULT_MEMORY_LOG_RETAIN_BYTES = 64 * 1024 * 1024;

/** Bounds of a `MemoryEventLog`. */
export interface MemoryEventLogOptions {
  /** Batches kept; default `DEFAULT_MEMORY_LOG_RETAIN_BATCHES`. */
  readonly retainBatches?: number;
  /** Encoded bytes kept; default `DEFAULT_MEMORY_LOG_RETAIN_BYTES`. */
  readonly retainBytes?: number;
  /**
   * The shared key of the log's batches: what `publish()` puts there is a batch only when
   * signed with it (see `JetStreamEventLogOptions.logKey`). Default: none.
   */
  readonly logKey?: LogKeyInput;
}

interface Stored {
  readonly entry: LogEntry;
  readonly size: number;
  /** Absent for a message published without one (`publish()`). */
  readonly messageId: string | undefined;
}

export class MemoryEventLog implements EventLog {
  readonly #retainBatches: number;
  readonly #retainBytes: number;
  readonly #key: LogKey | undefined;
  /** Retained batches, oldest first, at positions `#lastPosition - length + 1 …`. */
  readonly #stored: Stored[] = [];
  /** Index of the oldest retained batch in `#stored` (dropping is a pointer move). */
  #head = 0;
  #bytes = 0;
  #lastPosition = 0;
  readonly #positionById = new Map<string, number>();
  /** Readers waiting for the next append. */
  readonly #waiting = new Set<() => void>();
  readonly #readers = new Set<MemoryLogReader>();
  #epoch = randomUUID();
  #settings: LogSettings | undefined;
  /** `LogIdentity.firstPosition` once settings are recorded. */
  #firstPosition = 1;
  #closed = false;

  constructor(options: MemoryEventLogOptions = {}) {
    this.#retainBatches = checkBound(
      'retainBatches',
      options.retainBatches ?? DEFAULT_MEMORY_LOG_RETAIN_BATCHES,
    );
    this.#retainBytes = checkBound(
      'retainBytes',
      options.retainBytes ?? DEFAULT_MEMORY_LOG_RETAIN_BYTES,
    );
    this.#key = options.logKey === undefined ? undefined : logKeyOf(options.logKey);
  }

  /** Position of the oldest retained batch (`lastPosition + 1` when empty). */
  get firstPosition(): number {
    return this.#lastPosition - (this.#stored.length - this.#head) + 1;
  }

  async append(batch: EventBatch, fence: LogFence): Promise<AppendResult> {
    this.#checkOpen();
    const invalid = checkBatch(batch);
    if (invalid !== undefined) throw new MazeError(ErrorCode.LogBadBatch, invalid);
    const messageId = messageIdOf(batch);
    const first = this.#positionById.get(messageId);
    if (first !== undefined) return { position: first, duplicate: true };
    if (fence.position !== this.#lastPosition) throw fenced(fence, this.#lastPosition);
    const expected = fencedMessageId(fence);
    if (expected !== undefined && this.#stored.at(-1)?.messageId !== expected) {
      throw fenced(fence, 'another batch');
    }
    // Read back as from JetStream: the lines stay in the payload, a copy of exactly its size
    // (a small encoded batch is a view of Node's shared pool, which it would keep alive).
    const payload = new Uint8Array(encodeBatch(batch, this.#key));
    const stored = decodeBatch(payload, this.#key);
    if (!stored.ok) throw new MazeError(ErrorCode.LogBadBatch, stored.reason);
    return {
      position: this.#push(frozen(this.#lastPosition + 1, stored.batch), messageId, payload.length),
      duplicate: false,
    };
  }

  /**
   * Puts `payload` at the next position as any client allowed to publish on the log's subject
   * could: no message id, no fence. Returns its position.
   */
  publish(payload: Uint8Array | string): number {
    this.#checkOpen();
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const position = this.#lastPosition + 1;
    const decoded = decodeBatch(bytes, this.#key);
    const entry: LogEntry = decoded.ok
      ? frozen(position, decoded.batch)
      : Object.freeze({ position, foreign: `not a follower-maze batch: ${decoded.reason}` });
    return this.#push(entry, undefined, bytes.length);
  }

  async tail(): Promise<LogTail | LogForeign | undefined> {
    this.#checkOpen();
    const last = this.#stored.at(-1)?.entry;
    if (last === undefined) return undefined;
    return isForeign(last) ? last : tailOf(last.position, last);
  }

  #push(entry: LogEntry, messageId: string | undefined, size: number): number {
    const stored: Stored = { entry, size, messageId };
    this.#stored.push(stored);
    this.#bytes += stored.size;
    if (messageId !== undefined) this.#positionById.set(messageId, entry.position);
    this.#lastPosition = entry.position;
    this.#dropOverRetention();
    this.#wake();
    return entry.position;
  }

  async identity(): Promise<LogIdentity> {
    this.#checkOpen();
    return {
      epoch: this.#epoch,
      settings: this.#settings,
      firstPosition: this.#firstPosition,
    };
  }

  async recordSettings(settings: LogSettings, firstPosition: number): Promise<LogIdentity> {
    this.#checkOpen();
    if (this.#settings === undefined) {
      const { maxFollowEdges, startSequence, delimiter } = settings;
      this.#settings = Object.freeze({ maxFollowEdges, startSequence, delimiter });
      this.#firstPosition = firstPosition;
    }
    return this.identity();
  }

  /**
   * Replaces the record of the writer's settings (`undefined`: removes it), as a second
   * writer's update of the stream's description, or an operator's edit of it, would: for
   * tests of the readers that must notice.
   */
  rewriteRecord(
    record: { readonly settings: LogSettings; readonly firstPosition: number } | undefined,
  ): void {
    this.#checkOpen();
    this.#settings = record === undefined ? undefined : Object.freeze({ ...record.settings });
    this.#firstPosition = record?.firstPosition ?? 1;
  }

  /**
   * Empties the log as deleting its stream and creating it again would: a new epoch, no
   * settings, no batch. A reader open meanwhile fails at its next read (`ERR_LOG_FAILED`), as
   * one on a deleted JetStream stream does.
   */
  replace(): void {
    this.#checkOpen();
    this.#stored.length = 0;
    this.#head = 0;
    this.#bytes = 0;
    this.#lastPosition = 0;
    this.#positionById.clear();
    this.#epoch = randomUUID();
    this.#settings = undefined;
    this.#firstPosition = 1;
    this.#wake();
  }

  /** @internal The current epoch (see `identity()`). */
  get epoch(): string {
    return this.#epoch;
  }

  read(fromPosition: number, options: ReadOptions = {}): LogReader {
    this.#checkOpen();
    checkFromPosition(fromPosition);
    const reader = new MemoryLogReader(this, fromPosition, options);
    this.#readers.add(reader);
    return reader;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#readers].map((reader) => reader.close()));
  }

  /** @internal The entry at `position`: `'truncated'`, `'later'` (not yet appended) or it. */
  entryAt(position: number): LogEntry | 'truncated' | 'later' {
    if (position > this.#lastPosition) return 'later';
    if (position < this.firstPosition) return 'truncated';
    return (this.#stored[this.#head + position - this.firstPosition] as Stored).entry;
  }

  /** @internal Calls `wake` once, at the next append or at close. */
  waitForAppend(wake: () => void): () => void {
    this.#waiting.add(wake);
    return () => this.#waiting.delete(wake);
  }

  /** @internal */
  forget(reader: MemoryLogReader): void {
    this.#readers.delete(reader);
  }

  #wake(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
  }

  #dropOverRetention(): void {
    while (
      this.#stored.length - this.#head > 1 &&
      (this.#stored.length - this.#head > this.#retainBatches || this.#bytes > this.#retainBytes)
    ) {
      const oldest = this.#stored[this.#head] as Stored;
      this.#head += 1;
      this.#bytes -= oldest.size;
      if (oldest.messageId !== undefined) this.#positionById.delete(oldest.messageId);
    }
    // Compact once the dropped prefix outweighs what is kept: amortised O(1) per append.
    if (this.#head > 1024 && this.#head * 2 > this.#stored.length) {
      this.#stored.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new MazeError(ErrorCode.InvalidState, 'the event log is closed');
  }
}

class MemoryLogReader implements LogReader {
  readonly #log: MemoryEventLog;
  readonly #signal: AbortSignal | undefined;
  /** The epoch it reads: the caller's, else the log's when it opened. */
  readonly #epoch: string;
  readonly #epochGiven: boolean;
  #position: number;
  #closed = false;
  /** Ends a pending `next()` wait at close. */
  #stopWaiting: (() => void) | undefined;
  readonly #onAbort = (): void => void this.close();

  constructor(log: MemoryEventLog, fromPosition: number, { signal, epoch }: ReadOptions) {
    this.#log = log;
    this.#position = fromPosition;
    this.#epoch = epoch ?? log.epoch;
    this.#epochGiven = epoch !== undefined;
    this.#signal = signal;
    if (signal?.aborted) this.#closed = true;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  async next(): Promise<LogEntry | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      if (this.#log.epoch !== this.#epoch) {
        await this.close();
        if (this.#epochGiven) checkLogEpoch(this.#epoch, this.#log.epoch, 'the process');
        throw new MazeError(ErrorCode.LogFailed, 'the event log was deleted under this reader');
      }
      const found = this.#log.entryAt(this.#position);
      if (found === 'truncated') {
        const first = this.#log.firstPosition;
        await this.close();
        throw truncated(this.#position, first);
      }
      if (found !== 'later') {
        this.#position += 1;
        return found;
      }
      await new Promise<void>((resolve) => {
        const cancel = this.#log.waitForAppend(resolve);
        this.#stopWaiting = () => {
          cancel();
          resolve();
        };
      });
      this.#stopWaiting = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.#closed && this.#stopWaiting === undefined) return;
    this.#closed = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#stopWaiting?.();
    this.#log.forget(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<LogEntry> {
    return iterateReader(this);
  }
}

function frozen(position: number, batch: EventBatch): LogBatch {
  return Object.freeze(logBatchOf(position, batch));
}

function checkBound(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `${name} must be a positive integer, got ${value}`,
    );
  }
  return value;
}

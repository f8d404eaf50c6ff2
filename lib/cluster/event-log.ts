/**
 * The event log of cluster mode (docs/protocol.md §11): what an ingest appends and a gateway
 * reads, whatever stores it (`MemoryEventLog` for unit tests, `JetStreamEventLog` on NATS).
 *
 * Invariants:
 * - The log is a sequence of batches at positions 1, 2, 3, …, without holes; position 0 is
 *   "before the first batch". Each batch holds the event lines of one ingest read, in
 *   sequence order, exactly as read (latin1 text, terminators included), with its first and
 *   last sequence numbers. One batch is one JetStream message, so a position is a stream
 *   sequence and an appender knows the position of its next append without asking.
 * - Anything else that lands on the log's subject (a stray publish, a forged batch) takes a
 *   position too: readers and `tail()` hand a message that is not a batch out as a
 *   `LogForeign` entry instead of failing, and which batches continue the log is decided by
 *   its readers (log-continuity.ts).
 * - Fencing: `append(batch, fence)` succeeds only if the log's last position is
 *   `fence.position` and, when `fence.firstSequence` is given, the batch there is the one
 *   with that first and last sequence number (its message id). Appends can be pipelined — each returns its own promise,
 *   and the next one's fence is `fenceAfter(fence, batch)` — and then one that is refused or
 *   lost makes every later one of the window fail, even if another writer appended exactly
 *   one batch meanwhile (the position alone would let the next append land after it):
 *   the log is never interleaved or reordered, and the writer resumes from `tail()`.
 *   The first append after `tail()` fences on the position alone: JetStream forgets the last
 *   message id when it restarts after the dedupe window (measured on nats-server 2.9.10),
 *   so a fence on the tail's id could refuse every append for ever.
 * - Dedupe: a batch carries a message id (`messageIdOf()`: the one its writer gave it, else
 *   `seq-<first>-<last>`); appending a batch whose id the log has seen (within its dedupe
 *   window) appends nothing and resolves with the position of the first copy and
 *   `duplicate: true`, before any fencing check. A retried append whose acknowledgement was
 *   lost is therefore harmless. Anyone who may publish on the subject can take an id first,
 *   so a writer gives its batches ids nobody else can guess (the ingest: random).
 * - Reads are in position order from any retained position, then wait for new batches. A
 *   reader fetches a bounded number of batches (`readAhead`) ahead of its `next()` calls: a
 *   consumer that stops calling `next()` stops the pulling (gateway backpressure). A
 *   position dropped by retention is `ERR_LOG_TRUNCATED`, never skipped in silence.
 * - Identity: a log has an epoch, which changes when it is deleted and created again, and
 *   the settings its writer recorded (`LogSettings`), with the position of its first batch;
 *   every process on the log runs with them
 *   (`checkLogSettings()`), and one that finds another epoch under it stops
 *   (`ERR_LOG_REPLACED`). The writer records them once its first batch is in the log, with
 *   that batch's position: nothing published before it passes for the writer's batches, and
 *   a reader that reads a batch before the record waits for it. The record is made once;
 *   a store without compare-and-set lets a second writer's land over it, so a process that
 *   finds the record it read changed or gone stops (`checkLogRecord()`).
 * - Failures are `MazeError`s with `ERR_LOG_…` codes: rejected promises, never events.
 */
import { MAX_ID } from '../core/constants.js';
import { CORE_OPTIONS } from '../core/options.js';
import { quoteLine } from '../core/parser.js';
import { ErrorCode, MazeError } from '../errors.js';

/** Longest wait for JetStream to answer one request (an append's acknowledgement, stream info). */
export const EVENT_LOG_REQUEST_TIMEOUT_MS = 5_000;

/**
 * How often a running process (gateway, snapshot writer, ingest) reads the log's identity:
 * the most a stream deleted and created again goes unnoticed by one that neither reads nor
 * appends (one stream info request a second).
 */
export const LOG_IDENTITY_CHECK_MS = 1_000;

/**
 * The settings that change what a client receives, recorded by the log's writer when the log
 * is new (docs/cluster.md): a process with another value would deliver something else.
 */
export interface LogSettings {
  /** The graph bound: a follow refused at one bound would be kept at another. */
  readonly maxFollowEdges: number;
  /** The number the log's first event carries. */
  readonly startSequence: number;
  /** The byte the lines' fields are split on (each batch records it too). */
  readonly delimiter: string;
}

/** What a log is: see `EventLog.identity()`. */
export interface LogIdentity {
  /** Differs for every creation of the log: a log deleted and created again is another epoch. */
  readonly epoch: string;
  /** As its writer recorded them; `undefined` while none are (its first batch is not in yet). */
  readonly settings: LogSettings | undefined;
  /**
   * The position of the writer's first batch, as it recorded it with its settings (what comes
   * before was put there by someone else); 1 while none are recorded.
   */
  readonly firstPosition: number;
}

/**
 * Throws `ERR_LOG_CONFIG`, naming both values, when a setting of `mine` differs from the one
 * recorded in the log (`recorded`; nothing to check when none is). `who` names the process
 * for the message (`this gateway`).
 */
export function checkLogSettings(
  recorded: LogSettings | undefined,
  mine: Partial<LogSettings>,
  who: string,
): void {
  if (recorded === undefined) return;
  const differing = (Object.keys(mine) as (keyof LogSettings)[]).filter(
    (name) => mine[name] !== undefined && mine[name] !== recorded[name],
  );
  if (differing.length === 0) return;
  const show = (value: string | number): string =>
    typeof value === 'string' ? `"${quoteLine(value)}"` : String(value);
  const pairs = differing.map(
    (name) =>
      `${name} ${show(recorded[name])} (recorded by its writer), ${who} has ${show(mine[name] as string | number)}`,
  );
  throw new MazeError(
    ErrorCode.LogConfig,
    `the event log was made with other settings: ${pairs.join('; ')}: give every process of the cluster the same ${differing.join(', ')}`,
  );
}

/**
 * `ERR_LOG_REPLACED` when `found` is not the epoch `started` a process started on: the log was
 * deleted and created again under it, and its positions now mean other batches.
 */
export function checkLogEpoch(started: string, found: string, who: string): void {
  if (found === started) return;
  throw new MazeError(
    ErrorCode.LogReplaced,
    `the event log was deleted and created again: it is epoch ${found}, not ${started} as when ${who} started, and its positions now mean other batches; restart ${who} to start afresh on the new log`,
  );
}

/**
 * `ERR_LOG_CONFIG` when the log no longer holds the record `known` (its writer's settings and
 * first position, as `who` read them; nothing to check while it read none): the record is
 * made once and never changes, so another one means a second writer recorded its own over it
 * (two ingests started at once on a new log) or someone edited or removed it. A process that
 * went on would judge the log's batches by a start the others no longer share.
 */
export function checkLogRecord(
  known: LogIdentity | undefined,
  found: LogIdentity,
  who: string,
): void {
  if (known?.settings === undefined) return;
  const before = recordText(known);
  if (found.settings !== undefined && recordText(found) === before) return;
  const now = found.settings === undefined ? 'none' : recordText(found);
  throw new MazeError(
    ErrorCode.LogConfig,
    `the event log's record of its writer's settings changed after ${who} read it: it was ${before}, it is ${now} (two ingests started at once on a new log, or the stream's description was edited); ${who} stops: ${found.settings === undefined ? 'put the record back as it was, or delete the stream (and its snapshot bucket) and start the cluster on a new one' : `restart ${who} to follow the log as now recorded`}`,
  );
}

/**
 * `ERR_LOG_CONFIG` when `identity` records no writer's settings though a snapshot of this
 * epoch (taken at `snapshotPosition`) exists: snapshots are taken only once the record is
 * in, so someone removed it, and the log's start is unknown.
 */
export function checkRecordKept(
  identity: LogIdentity,
  snapshotPosition: number | undefined,
  who: string,
): void {
  if (identity.settings !== undefined || snapshotPosition === undefined) return;
  throw new MazeError(
    ErrorCode.LogConfig,
    `the event log records no writer's settings, yet a snapshot of it was taken at position ${snapshotPosition}: its record was removed (the stream's description edited), so where the log starts is unknown; ${who} refuses it: put the record back as it was, or delete the stream (and its snapshot bucket) and start the cluster on a new one`,
  );
}

function recordText({ settings, firstPosition }: LogIdentity): string {
  const { maxFollowEdges, startSequence, delimiter } = settings as LogSettings;
  return JSON.stringify({ maxFollowEdges, startSequence, delimiter, firstPosition });
}

/** The events of one append, as the ingest read them. */
export interface EventBatch {
  /** Sequence number of the first event line. */
  readonly firstSequence: number;
  /**
   * Sequence number of the last event line. Not necessarily `firstSequence + lines.length - 1`:
   * numbers skipped over a gap have no line.
   */
  readonly lastSequence: number;
  /**
   * Event lines in sequence order, each with its terminator (`\n` or `\r\n`), latin1 text. A
   * batch read back from the log decodes them from its payload when first read.
   */
  readonly lines: readonly string[];
  /**
   * The byte the ingest split the lines' fields on (its `delimiter`); absent: `|`. A reader
   * parses the lines with it, or refuses them (`checkLogDelimiter()`).
   */
  readonly delimiter?: string;
  /**
   * The dedupe key of its append (JetStream's message id), given by its writer: one nobody
   * else can guess, kept when the batch is appended again. Absent: `seq-<first>-<last>`.
   * Not stored in the batch: a batch read back has none.
   */
  readonly messageId?: string;
}

/** A batch read back from the log. */
export interface LogBatch extends EventBatch {
  /** Its position in the log (1-based). */
  readonly position: number;
}

/**
 * A message on the log's subject that is not a batch of this log (anyone who may publish on
 * the subject can put one there): what readers and `tail()` give in its place. Whether a
 * batch continues the log is the reader's question (log-continuity.ts).
 */
export interface LogForeign {
  /** Its position in the log. */
  readonly position: number;
  /** Why it is not a batch. */
  readonly foreign: string;
}

/** What a position of the log holds. */
export type LogEntry = LogBatch | LogForeign;

/** Whether `entry` is a foreign message rather than a batch. */
export function isForeign<Batch extends object>(entry: Batch | LogForeign): entry is LogForeign {
  return 'foreign' in entry;
}

/** What an append did. */
export interface AppendResult {
  /** The position of the batch: the new one, or the first copy's for a duplicate. */
  readonly position: number;
  /** `true`: the log already held a batch with this message id; nothing was appended. */
  readonly duplicate: boolean;
}

/**
 * Where a writer expects the log to be: the position of its last message (0: empty) and,
 * inside a window of pipelined appends, the first and last sequence numbers of the batch this
 * writer put there.
 */
export interface LogFence {
  readonly position: number;
  /** Set by `fenceAfter()`; leave it out after `tail()`. */
  readonly firstSequence?: number;
  /** Set by `fenceAfter()` with `firstSequence`; absent, the same as it. */
  readonly lastSequence?: number;
  /** Set by `fenceAfter()` for a batch with a `messageId`: the id the last message carries. */
  readonly messageId?: string;
}

/**
 * Throws `ERR_LOG_CONFIG` unless the lines at `found` (a batch, or the tail) were split on
 * `delimiter`: a process that parsed them with another one would misroute every event.
 * `who` names the process for the message (`this gateway`).
 */
export function checkLogDelimiter(
  found: { readonly position: number; readonly delimiter?: string },
  delimiter: string,
  who: string,
): void {
  const written = found.delimiter ?? CORE_OPTIONS.delimiter.default;
  if (written === delimiter) return;
  throw new MazeError(
    ErrorCode.LogConfig,
    `the event log holds lines delimited by "${quoteLine(written)}" (position ${found.position}), ${who} splits on "${quoteLine(delimiter)}": give every process of the cluster the same delimiter`,
  );
}

/** The fence of the append that follows `batch`, appended with `fence`: for pipelining. */
export function fenceAfter(fence: LogFence, batch: EventBatch): LogFence {
  const after = {
    position: fence.position + 1,
    firstSequence: batch.firstSequence,
    lastSequence: batch.lastSequence,
  };
  return batch.messageId === undefined ? after : { ...after, messageId: batch.messageId };
}

/** The last batch of the log. */
export interface LogTail {
  /** Its position: the fence of the next append is `{ position }`. */
  readonly position: number;
  readonly firstSequence: number;
  /** The last sequence number in the log: the ingest resumes after it. */
  readonly lastSequence: number;
  /** The delimiter of its lines (see `EventBatch.delimiter`); absent: `|`. */
  readonly delimiter?: string;
}

/** The tail a log whose last batch is `batch`, at `position`, reports. */
export function tailOf(position: number, batch: EventBatch): LogTail {
  const { firstSequence, lastSequence, delimiter } = batch;
  return delimiter === undefined
    ? { position, firstSequence, lastSequence }
    : { position, firstSequence, lastSequence, delimiter };
}

/** Options of `EventLog.read()`. */
export interface ReadOptions {
  /** Aborting ends the reader as `close()` does. */
  readonly signal?: AbortSignal;
  /**
   * The epoch the caller started on (`identity().epoch`): a reader that finds the log to be
   * another (deleted and created again), when it opens or opens again after a failure,
   * rejects with `ERR_LOG_REPLACED` instead of handing out its batches.
   */
  readonly epoch?: string;
}

/**
 * Entries in position order: batches, and foreign messages in their place. Pulls from the
 * log only as `next()` is called (plus a bounded read-ahead); iterate it with `for await`, or
 * call `next()` and stop calling while the consumer is full.
 */
export interface LogReader extends AsyncIterable<LogEntry> {
  /**
   * The next entry, waiting for one to be appended if need be; `undefined` once the reader is
   * closed or its signal aborted. Rejects with `ERR_LOG_TRUNCATED`, `ERR_LOG_REPLACED` or
   * `ERR_LOG_FAILED`, after which the reader is closed. One call at a time: call again once
   * the previous one has settled.
   */
  next(): Promise<LogEntry | undefined>;
  /** Stops reading; a pending `next()` resolves `undefined`. Idempotent. */
  close(): Promise<void>;
}

/** The log between an ingest and its gateways. */
export interface EventLog {
  /**
   * Appends `batch` if the log is where `fence` says (see the header). A batch whose message
   * id the log holds resolves `duplicate: true` whatever the fence. Rejects with
   * `ERR_LOG_FENCED` (nothing appended), `ERR_LOG_BAD_BATCH` (an invalid batch, refused
   * before anything is sent) or `ERR_LOG_FAILED`.
   */
  append(batch: EventBatch, fence: LogFence): Promise<AppendResult>;
  /**
   * The last message: a batch, or a foreign message (see `findResumeTail()` for the last
   * batch that continues the log); `undefined` for an empty log.
   */
  tail(): Promise<LogTail | LogForeign | undefined>;
  /**
   * The log's epoch and the settings its writer recorded. Rejects with `ERR_LOG_FAILED` (the
   * log unreachable, or gone: it may be created again, as another epoch).
   */
  identity(): Promise<LogIdentity>;
  /**
   * For the writer, once its first batch is in the log at `firstPosition`: records `settings`
   * with that position in a log that records none yet, then resolves with its identity
   * (whose record may be another writer's, made first).
   */
  recordSettings(settings: LogSettings, firstPosition: number): Promise<LogIdentity>;
  /** Reads from `fromPosition` (at least 1) on. */
  read(fromPosition: number, options?: ReadOptions): LogReader;
  /** Closes every reader and releases the log (and a connection it owns). Idempotent. */
  close(): Promise<void>;
}

/**
 * The message id of a batch, its dedupe key: the one its writer gave it, else derived from
 * its sequence numbers, so a retried append is a duplicate and another writer's batch from
 * the same number is not.
 */
export function messageIdOf(
  batch: Pick<EventBatch, 'firstSequence' | 'lastSequence' | 'messageId'>,
): string {
  return batch.messageId ?? `seq-${batch.firstSequence}-${batch.lastSequence}`;
}

/** The message id `fence` expects the log's last message to carry, if it expects one. */
export function fencedMessageId(fence: LogFence): string | undefined {
  const { firstSequence, lastSequence = firstSequence, messageId } = fence;
  return firstSequence === undefined || lastSequence === undefined
    ? undefined
    : messageIdOf({ firstSequence, lastSequence, messageId });
}

/** The async iterator of a reader: its `next()` entries until `undefined`; `break` closes it. */
export function iterateReader(reader: LogReader): AsyncIterator<LogEntry> {
  return {
    async next(): Promise<IteratorResult<LogEntry>> {
      const batch = await reader.next();
      return batch === undefined ? { done: true, value: undefined } : { done: false, value: batch };
    },
    async return(): Promise<IteratorResult<LogEntry>> {
      await reader.close();
      return { done: true, value: undefined };
    },
  };
}

/**
 * `ERR_LOG_FENCED` for an append fenced with `fence` while the log is at `actual` (a number
 * when known) or holds another batch there (`'another batch'`).
 */
export function fenced(fence: LogFence, actual: number | 'another batch' | undefined): MazeError {
  const found =
    actual === 'another batch'
      ? `holds another batch at position ${fence.position} than this writer appended there`
      : `is ${actual === undefined ? 'elsewhere' : `at position ${actual}`}, not ${fence.position} as this writer expected`;
  return new MazeError(
    ErrorCode.LogFenced,
    `append refused: the event log ${found} (another ingest is writing it, or this one must resume from the tail)`,
  );
}

/** `ERR_LOG_TRUNCATED` for a read of `position` when the log begins at `first`. */
export function truncated(position: number, first: number): MazeError {
  return new MazeError(
    ErrorCode.LogTruncated,
    `the event log no longer holds position ${position}: it begins at ${first}`,
  );
}

/** Throws `ERR_INVALID_OPTION` unless `fromPosition` is a position (1 or more). */
export function checkFromPosition(fromPosition: number): void {
  if (!Number.isSafeInteger(fromPosition) || fromPosition < 1) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `read() needs a position from 1 to ${MAX_ID}, got ${fromPosition}`,
    );
  }
}

/**
 * Which batches continue the event log (docs/protocol.md §11): the rule every reader of the
 * log applies (gateways, the snapshot writer, the ingest resuming), so that a stray message
 * or a forged batch on the subject derails none of them.
 *
 * Invariants:
 * - The ingest's batches partition the sequence numbers: each one's `firstSequence` is the
 *   previous one's `lastSequence + 1` (numbers skipped over a gap or consumed by an invalid
 *   body belong to the batch after them). So a batch continues the log exactly when its first
 *   number is the last applied one plus 1; from an empty start (no snapshot), the log's first
 *   batch starts at the `startSequence` its writer recorded (`LogSettings`), at the log's
 *   `firstPosition`, where the writer recorded its first batch to be (what comes before is
 *   not its). While the writer has recorded nothing, a batch read may be its first (it records
 *   once that is in the log): a reader waits for the record (log-follower.ts), and an
 *   ingest resuming takes none as the log's. Anything else at a position (not a batch, a
 *   duplicate, a batch going backwards, overlapping or jumping ahead) is foreign: skipped and
 *   reported, never applied.
 * - `findResumeTail()` reads `LOG_TAIL_SCAN` messages back from the end, twice as many
 *   each time the window holds no continuing batch, down to the first position retained: the
 *   last batch that continues the log is the end of the longest run of continuing batches
 *   in the window (the first such run on a tie); a window that reaches the log's
 *   `firstPosition` must start its run at the log's first batch, as a gateway that reads from
 *   there does (at the recorded `startSequence`, when given).
 */
import { ErrorCode, MazeError } from '../errors.js';
import {
  type EventLog,
  isForeign,
  type LogBatch,
  type LogEntry,
  type LogIdentity,
  type LogTail,
  tailOf,
} from './event-log.js';

/**
 * Messages an ingest or gateway reads back from the end of the log to find its last
 * continuing batch: a few hundred ingest batches, read once at start (at most 16 MiB of
 * 64 KiB batches), outnumber any stray publishes by far.
 */
export const LOG_TAIL_SCAN = 256;

/**
 * Why `entry` does not continue a log whose last applied number is `lastSequence`, or
 * `undefined` if it does.
 */
export function discontinuity(
  entry: LogEntry,
  lastSequence: number | undefined,
): string | undefined {
  if (isForeign(entry)) return entry.foreign;
  if (lastSequence === undefined || entry.firstSequence === lastSequence + 1) return undefined;
  return `a batch of events ${entry.firstSequence}..${entry.lastSequence} does not continue the log at event ${lastSequence} (it would need to start at ${lastSequence + 1})`;
}

/** Where a writer resumes: the end of the log, and its last continuing batch. */
export interface ResumeTail {
  /** The position of the last message, foreign or not: the fence of the next append. */
  readonly position: number;
  /** The last batch that continues the log; `undefined`: none within the scan. */
  readonly batch: LogTail | undefined;
  /** Messages after that batch (or in the scan, without one) that do not continue the log. */
  readonly foreign: number;
  /**
   * Whether the scan found where the log continues: `false` when retention dropped the start
   * of a log whose retained messages hold no continuing batch (nowhere to resume from).
   */
  readonly complete: boolean;
}

/** The last continuing batch among `entries` (consecutive positions, oldest first); see the header. */
export function lastContinuing(
  entries: readonly LogEntry[],
  fromLogStart: boolean,
  startSequence?: number,
): LogBatch | undefined {
  // Runs waiting for their next batch, by the first number that continues them; from the
  // log's start with a recorded start, the empty run waits for the batch that starts there.
  const seeded = fromLogStart && startSequence !== undefined;
  const waiting = new Map<number, number>(seeded ? [[startSequence, 0]] : []);
  let best: { length: number; index: number } | undefined;
  let started = seeded;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index] as LogEntry;
    if (isForeign(entry)) continue;
    let length = waiting.get(entry.firstSequence);
    if (length !== undefined) waiting.delete(entry.firstSequence);
    else if (!fromLogStart || !started) length = 0;
    started = true;
    if (length === undefined) continue;
    length++;
    const next = entry.lastSequence + 1;
    if ((waiting.get(next) ?? 0) < length) waiting.set(next, length);
    if (best === undefined || length > best.length) best = { length, index };
  }
  return best === undefined ? undefined : (entries[best.index] as LogBatch);
}

/** Why an entry at a position before the log's `firstPosition` is not the log's. */
const BEFORE_WRITER =
  "it was there before the log's writer appended its first batch: the writer's batches come after it";

/**
 * Why `entry` cannot be a batch of the log whatever came before it, standing before the
 * `firstPosition` of `identity` (see the header); `undefined` when it may be.
 */
export function beforeWriter(entry: LogEntry, identity: LogIdentity): string | undefined {
  if (isForeign(entry)) return undefined;
  return entry.position < identity.firstPosition ? BEFORE_WRITER : undefined;
}

/**
 * The end of `log` and its last continuing batch, reading back from the end (see the header),
 * by the rule of the log's `identity`; without one, by the strict rule from position 1 with
 * any start. Rejects with the log's errors (`ERR_LOG_TRUNCATED` for a tail retention dropped).
 */
export async function findResumeTail(
  log: EventLog,
  identity?: LogIdentity,
): Promise<ResumeTail | undefined> {
  const last = await log.tail();
  if (last === undefined) return undefined;
  const end = last.position;
  const startSequence = identity?.settings?.startSequence;
  // No batch of the log comes before it: a log whose writer has recorded nothing has none.
  const firstPosition =
    identity === undefined ? 1 : identity.settings === undefined ? end + 1 : identity.firstPosition;
  if (
    !isForeign(last) &&
    end === firstPosition &&
    (startSequence === undefined || last.firstSequence === startSequence)
  ) {
    return { position: end, batch: last, foreign: 0, complete: true };
  }
  // A window without a continuing batch doubles back to the first position retention kept:
  // a run of stray messages longer than the scan never hides the log's last batch.
  let from = Math.max(1, end - LOG_TAIL_SCAN + 1);
  let readable = end + 1; // the lowest position read
  let dropped = 0; // the highest position retention is known to have dropped
  for (;;) {
    let entries: LogEntry[] | undefined;
    try {
      entries = (await readRange(log, from, end)).map((entry) =>
        entry.position < firstPosition && !isForeign(entry)
          ? { position: entry.position, foreign: BEFORE_WRITER }
          : entry,
      );
    } catch (error) {
      if (!(error instanceof MazeError) || error.code !== ErrorCode.LogTruncated || from === end) {
        throw error;
      }
      dropped = from;
    }
    if (entries !== undefined) {
      const fromLogStart = from <= firstPosition;
      const batch = lastContinuing(entries, fromLogStart, startSequence);
      if (batch !== undefined || fromLogStart) {
        return {
          position: end,
          batch: batch === undefined ? undefined : tailOf(batch.position, batch),
          foreign: end - (batch?.position ?? 0),
          complete: true,
        };
      }
      readable = from;
      from = Math.max(dropped + 1, end - 2 * (end - from + 1) + 1);
    } else {
      // Retention dropped the start of the window: try halfway to what was read.
      from = Math.ceil((dropped + readable) / 2);
    }
    if (from >= readable) {
      return { position: end, batch: undefined, foreign: end - readable + 1, complete: false };
    }
  }
}

async function readRange(log: EventLog, from: number, to: number): Promise<LogEntry[]> {
  const reader = log.read(from);
  const entries: LogEntry[] = [];
  try {
    while (entries.length < to - from + 1) {
      const entry = await reader.next();
      if (entry === undefined) {
        throw new MazeError(ErrorCode.LogFailed, 'the event log reader ended');
      }
      entries.push(entry);
    }
  } finally {
    await reader.close();
  }
  return entries;
}

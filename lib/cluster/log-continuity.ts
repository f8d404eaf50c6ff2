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
 *   batch starts at the `startSequence` its writer recorded (`LogSettings`), or, in a log that
 *   records none, the first batch read starts the log. Anything else at a position (not a
 *   batch, a duplicate, a batch going backwards, overlapping or jumping ahead) is foreign:
 *   skipped and reported, never applied.
 * - `findResumeTail()` reads at most `LOG_TAIL_SCAN` messages back from the end: the last
 *   batch that continues the log is the end of the longest run of continuing batches among
 *   them (the first such run on a tie); a window that reaches position 1 must start its run
 *   at the log's first batch, as a gateway that reads from there does (at the recorded
 *   `startSequence`, when given).
 */
import { ErrorCode, MazeError } from '../errors.js';
import {
  type EventLog,
  isForeign,
  type LogBatch,
  type LogEntry,
  type LogTail,
  tailOf,
} from './event-log.js';

/**
 * Messages an ingest or gateway reads back from the end of the log to find its last
 * continuing batch: a few hundred ingest batches, read once at start (at most 16 MiB of
 * 64 KiB batches), outnumber any stray publishes by far.
 */
export const LOG_TAIL_SCAN = 256;

/** Why `entry` does not continue a log whose last applied number is `lastSequence`, or `undefined` if it does. */
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

/**
 * The end of `log` and its last continuing batch, reading back at most `LOG_TAIL_SCAN`
 * messages; `startSequence` is the one the log's writer recorded, if any. Rejects with the
 * log's errors (`ERR_LOG_TRUNCATED` for a tail retention dropped).
 */
export async function findResumeTail(
  log: EventLog,
  startSequence?: number,
): Promise<ResumeTail | undefined> {
  const last = await log.tail();
  if (last === undefined) return undefined;
  const end = last.position;
  if (
    !isForeign(last) &&
    end === 1 &&
    (startSequence === undefined || last.firstSequence === startSequence)
  ) {
    return { position: end, batch: last, foreign: 0 };
  }
  let from = Math.max(1, end - LOG_TAIL_SCAN + 1);
  for (;;) {
    try {
      const entries = await readRange(log, from, end);
      const batch = lastContinuing(entries, from === 1, startSequence);
      return {
        position: end,
        batch: batch === undefined ? undefined : tailOf(batch.position, batch),
        foreign: end - (batch?.position ?? from - 1),
      };
    } catch (error) {
      // Retention dropped the start of the window: scan a shorter one.
      if (!(error instanceof MazeError) || error.code !== ErrorCode.LogTruncated || from === end) {
        throw error;
      }
      from = Math.ceil((from + end) / 2);
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

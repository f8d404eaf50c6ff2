/**
 * A stream's epoch (docs/protocol.md §12): a short token that names one stream of sequence
 * numbers. A resume-aware client is sent it first (`!EPOCH|<epoch>|<last>`) and gives it back
 * when it resumes, so a last sequence number is only ever read against the stream it came
 * from. `<last>` is the number that connection's notifications start after.
 *
 * Format: 1 to `EPOCH_MAX_LENGTH` printable ASCII characters (`!` to `~`), never `|` (the id
 * line's separator) nor the events' delimiter. The epochs a server makes itself are decimal
 * digits, which no delimiter can be. Pure: making a fresh one is the adapter's business.
 */
import { ErrorCode, MazeError } from '../errors.js';
import type { Sequence } from './events.js';

/**
 * Longest epoch: with the longest user id and sequence number (16 digits each), the resume
 * line `USERID|LASTSEQ|EPOCH` and its CRLF still fit in the default id line limit (64 bytes).
 */
export const EPOCH_MAX_LENGTH = 24;

const PRINTABLE_FIRST = 0x21;
const PRINTABLE_LAST = 0x7e;
const SEPARATOR = 0x7c; // `|`

/** Whether `token` is an epoch by its format (what a client may send back). */
export function isEpoch(token: string): boolean {
  if (token.length === 0 || token.length > EPOCH_MAX_LENGTH) return false;
  for (let at = 0; at < token.length; at++) {
    const code = token.charCodeAt(at);
    if (code < PRINTABLE_FIRST || code > PRINTABLE_LAST || code === SEPARATOR) return false;
  }
  return true;
}

/**
 * Checks an epoch given to a core (the `epoch` option, `reset()`): the format, and no
 * `delimiter` in it. Throws `ERR_INVALID_OPTION`.
 */
export function checkEpoch(epoch: unknown, delimiter: string, label = 'epoch'): string {
  if (typeof epoch !== 'string' || !isEpoch(epoch) || epoch.includes(delimiter)) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `${label} must be 1 to ${EPOCH_MAX_LENGTH} printable ASCII characters without | or the delimiter ${JSON.stringify(delimiter)}, got ${JSON.stringify(epoch)}`,
    );
  }
  return epoch;
}

/**
 * The line a client that identified in a resume form gets first (docs/protocol.md §12):
 * the epoch, and `last`, the number after which the events whose notifications this
 * connection gets begin (replayed or live), so a client that receives none may resume after
 * it. It starts with `!`, which no event line does.
 */
export function epochLine(epoch: string, last: Sequence): string {
  return `!EPOCH|${epoch}|${last}\n`;
}

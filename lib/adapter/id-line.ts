/**
 * A client's id line (docs/protocol.md §5, §12): the user id, then what the client asks for.
 * - `USERID`: live notifications (the original protocol: nothing else is ever sent to it);
 * - `USERID|-`: live notifications after the epoch line (a resume-aware client's first
 *   connection);
 * - `USERID|LASTSEQ|EPOCH`: what it missed after `LASTSEQ` of the stream `EPOCH`, then live
 *   ones. `USERID|LASTSEQ` alone is refused: without the epoch it cannot be checked.
 * Numbers follow the rules of the numbers inside events (`readId`): decimal digits only,
 * `0..MAX_SAFE_INTEGER`, leading zeros allowed; an epoch is a token (`isEpoch`). The
 * separator is `|` whatever the events' delimiter: the id line is the client's protocol, not
 * the event source's. The first field is read on its own (`firstFieldEnd()`), the rest by
 * `parseResumeRequest()`, so a front end that reads the first field another way shares the rest.
 */
import { MAX_ID } from '../core/constants.js';
import { EPOCH_MAX_LENGTH, isEpoch } from '../core/epoch.js';
import type { Sequence, UserId } from '../core/events.js';
import { contentEnd, readId } from '../core/parser.js';

const SEPARATOR = '|';
/** The field of `USERID|-`. */
const NO_RESUME_POINT = '-';

/** `LASTSEQ|EPOCH`: what a client missed after `lastSequence` of the stream `epoch`. */
export interface ResumePoint {
  readonly lastSequence: Sequence;
  readonly epoch: string;
}

/**
 * What a client asks for after its user id, besides live notifications: a resume point, or
 * (`-`) none, but it is resume-aware and gets the epoch line.
 */
export type ResumeRequest = ResumePoint | { readonly lastSequence: undefined };

/** Why the part after the user id is refused, in words for the report. */
export interface BadResume {
  readonly invalid: 'resume';
  readonly reason: string;
}

/** The part of an id line after its first field: a request (none for `USERID`), or why not. */
export type ResumePart = { readonly resume: ResumeRequest | undefined } | BadResume;

/** What an id line asks for, or which part of it is wrong. */
export type IdLine =
  | { readonly userId: UserId; readonly resume: ResumeRequest | undefined }
  | { readonly invalid: 'userId' }
  | BadResume;

/** An id line that is not refused. */
export type ValidIdLine = Exclude<IdLine, { readonly invalid: unknown }>;

const NONE: ResumePart = { resume: undefined };
const NOT_RESUMING: ResumePart = { resume: { lastSequence: undefined } };

/** Where the first field of `line[0, end)` ends: its separator, or `end`. */
export function firstFieldEnd(line: string, end: number): number {
  const separator = line.indexOf(SEPARATOR);
  return separator === -1 || separator >= end ? end : separator;
}

/**
 * Reads `line[from, end)`, what follows the first field: empty, or its separator and the
 * resume fields.
 */
export function parseResumeRequest(line: string, from: number, end: number): ResumePart {
  if (from === end) return NONE;
  const fields = line.slice(from + 1, end).split(SEPARATOR);
  const [first, epoch] = fields as [string, string | undefined];
  if (fields.length === 1) {
    if (first === NO_RESUME_POINT) return NOT_RESUMING;
    return readId(first, 0, first.length) >= 0
      ? bad(
          'the epoch is missing: a resume is USERID|LASTSEQ|EPOCH, EPOCH as the server’s !EPOCH line gave it',
        )
      : bad('expected USERID, USERID|- or USERID|LASTSEQ|EPOCH');
  }
  if (fields.length > 2 || epoch === undefined) {
    return bad('too many fields: expected USERID, USERID|- or USERID|LASTSEQ|EPOCH');
  }
  const lastSequence = readId(first, 0, first.length);
  if (lastSequence < 0) return bad(`LASTSEQ must be a decimal number 0..${MAX_ID}`);
  if (!isEpoch(epoch)) {
    return bad(
      `EPOCH must be 1 to ${EPOCH_MAX_LENGTH} printable ASCII characters, as the server’s !EPOCH line gave it`,
    );
  }
  return { resume: { lastSequence, epoch } };
}

/** Reads an id line (with its terminator). */
export function parseIdLine(line: string): IdLine {
  const end = contentEnd(line);
  const separator = firstFieldEnd(line, end);
  const userId = readId(line, 0, separator);
  if (userId < 0) return { invalid: 'userId' };
  const part = parseResumeRequest(line, separator, end);
  return 'invalid' in part ? part : { userId, resume: part.resume };
}

function bad(reason: string): BadResume {
  return { invalid: 'resume', reason };
}

/**
 * Splits the id line of a client that authenticates (`CREDENTIAL`, `CREDENTIAL|-`,
 * `CREDENTIAL|LASTSEQ|EPOCH`): the credential (the first field, without the terminator), and
 * what the rest of the line asks for, read as after a plain id (the credential decides the
 * user).
 */
export function splitCredential(line: string): {
  readonly credential: string;
  readonly resume: ResumePart;
} {
  const end = contentEnd(line);
  const separator = firstFieldEnd(line, end);
  return {
    credential: line.slice(0, separator),
    resume: parseResumeRequest(line, separator, end),
  };
}

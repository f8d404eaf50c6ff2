/**
 * A client's id line (docs/protocol.md §5, §12): `USERID`, or `USERID|LASTSEQ` to resume after
 * the last notification received on an earlier connection. Both numbers follow the rules of
 * the numbers inside events (`readId`): decimal digits only, `0..MAX_SAFE_INTEGER`, leading
 * zeros allowed. The separator is `|` whatever the events' delimiter: the id line is the
 * client's protocol, not the event source's.
 */
import type { Sequence, UserId } from '../core/events.js';
import { contentEnd, readId } from '../core/parser.js';

const RESUME_SEPARATOR = '|';

/** What an id line asks for, or which part of it is wrong. */
export type IdLine =
  | { readonly userId: UserId; readonly resumeAfter: Sequence | undefined }
  | { readonly invalid: 'userId' | 'resumeAfter' };

/** Reads an id line (with its terminator). */
export function parseIdLine(line: string): IdLine {
  const end = contentEnd(line);
  const separator = line.indexOf(RESUME_SEPARATOR);
  if (separator === -1 || separator >= end) {
    const userId = readId(line, 0, end);
    return userId >= 0 ? { userId, resumeAfter: undefined } : { invalid: 'userId' };
  }
  const userId = readId(line, 0, separator);
  if (userId < 0) return { invalid: 'userId' };
  const resumeAfter = readId(line, separator + 1, end);
  return resumeAfter >= 0 ? { userId, resumeAfter } : { invalid: 'resumeAfter' };
}

/**
 * Reads a plain id line: `undefined` for anything but decimal digits in `0..MAX_SAFE_INTEGER`
 * (signs, spaces, `|`, other bytes, overflow).
 */
export function parseUserId(line: string): UserId | undefined {
  const parsed = parseIdLine(line);
  return 'userId' in parsed && parsed.resumeAfter === undefined ? parsed.userId : undefined;
}

/**
 * Splits the id line of a client that authenticates (`CREDENTIAL`, `CREDENTIAL|LASTSEQ`):
 * the credential (the first field, without the terminator), and what the rest of the line
 * asks for, read as after a plain id (`userId` is a stand-in: the credential decides it).
 */
export function splitCredential(line: string): {
  readonly credential: string;
  readonly idLine: IdLine;
} {
  const end = contentEnd(line);
  const separator = line.indexOf(RESUME_SEPARATOR);
  const fieldEnd = separator === -1 || separator >= end ? end : separator;
  return { credential: line.slice(0, fieldEnd), idLine: parseIdLine(`0${line.slice(fieldEnd)}`) };
}

/**
 * Event-line parser (docs/protocol.md §2-4): one line in, one `MazeEvent` or one `Problem` out.
 *
 * Invariants:
 * - Pure and allocation-light: it scans the bytes of the line where they lie instead of
 *   decoding or splitting them, because it runs once per event on the hot path; a line
 *   given as text is converted to bytes once.
 * - A line whose first field is not a sequence number in 1..MAX_SAFE_INTEGER yields
 *   `ERR_EVENT_BAD_SEQUENCE` (discard it). A line with a valid sequence number but any
 *   other defect yields `ERR_EVENT_BAD_BODY` with `context.sequence` set (a no-op that
 *   still consumes its number).
 * - An event's range is the input unchanged when it ends with LF; a line given without its
 *   terminator gets `\n` so that every notification is a whole line.
 * - Fields are split on the delimiter (`|` unless given), which the caller checked by its row
 *   (`CORE_OPTIONS.delimiter`): no id, terminator or type letter can hold it.
 */

import { ErrorCode, type Problem } from '../errors.js';
import { MAX_ID, MAX_QUOTED_LINE_LENGTH } from './constants.js';
import { EventType, type MazeEvent } from './events.js';
import { latin1Bytes, latin1Text, substituteFor } from './latin1.js';
import { CORE_OPTIONS } from './options.js';
import { ownCopy } from './own-copy.js';

const LF = 10;
const CR = 13;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const NOT_A_NUMBER = -1;
const LETTER_B = 66;
const LETTER_F = 70;
const LETTER_P = 80;
const LETTER_S = 83;
const LETTER_U = 85;

/** A line with a valid sequence number and an invalid body: it still holds its number. */
export interface InvalidEventBody extends Problem {
  readonly code: typeof ErrorCode.EventBadBody;
  readonly sequence: number;
}

/** A line without a parsable sequence number: discarded. */
export interface MissingSequence extends Problem {
  readonly code: typeof ErrorCode.EventBadSequence;
}

/** What one event line parses to: an event, or a problem to report. */
export type ParsedLine = MazeEvent | InvalidEventBody | MissingSequence;

/** Narrows a parse result to an event. */
export function isEvent(parsed: ParsedLine): parsed is MazeEvent {
  return 'type' in parsed;
}

/**
 * Parses one event line given as text, with or without its `\n` / `\r\n` terminator, its
 * fields split on `delimiter`: one character that the `delimiter` option accepts (not checked
 * here, on the hot path: `MazeCore` checks it once). The line is converted to bytes once
 * (`latin1Bytes()`); the event's range is that copy. Never throws: every defect comes back as
 * a `Problem`.
 */
export function parseEvent(
  line: string,
  delimiter: string = CORE_OPTIONS.delimiter.default,
): ParsedLine {
  const code = delimiter.charCodeAt(0);
  const bytes = latin1Bytes(line, substituteFor(code));
  return parseEventBytes(bytes, 0, bytes.length, code);
}

/**
 * Parses the event line `bytes[start, end)` (the hot path: no copy, no decode), with or
 * without its terminator, its fields split on the byte `delimiter`. A valid event's range is
 * the line as given when it ends with LF; a line without one is copied once with `\n` added.
 * Never throws.
 */
export function parseEventBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  delimiter: number,
): ParsedLine {
  const contentStop = contentEndOf(bytes, start, end);

  const sequenceEnd = fieldEnd(bytes, delimiter, start, contentStop);
  const sequence = readIdBytes(bytes, start, sequenceEnd);
  // User ids start at 0, sequence numbers at 1 (docs/protocol.md §3).
  if (sequence === NOT_A_NUMBER || sequence === 0) return badSequence(bytes, start, end);
  if (sequenceEnd === contentStop) return badBody(bytes, start, end, sequence, 'no event type');

  const typeAt = sequenceEnd + 1;
  const typeEnd = fieldEnd(bytes, delimiter, typeAt, contentStop);
  if (typeEnd !== typeAt + 1) {
    return badBody(bytes, start, end, sequence, 'the event type must be one letter');
  }
  const type = typeOf(bytes[typeAt] as number);

  if (type === EventType.Broadcast) {
    if (typeEnd !== contentStop) {
      return badBody(bytes, start, end, sequence, 'a broadcast has no user ids');
    }
    return makeEvent(sequence, type, 0, 0, bytes, start, end, contentStop);
  }
  if (type === undefined) {
    // The type byte comes from the peer: quoted like the line, so it cannot forge a log line.
    const letter = String.fromCharCode(bytes[typeAt] as number);
    return badBody(bytes, start, end, sequence, `unknown event type '${quoteLine(letter)}'`);
  }

  if (typeEnd === contentStop) {
    return badBody(bytes, start, end, sequence, `a '${type}' event needs a from-user id`);
  }
  const fromAt = typeEnd + 1;
  const fromEnd = fieldEnd(bytes, delimiter, fromAt, contentStop);
  const from = readIdBytes(bytes, fromAt, fromEnd);
  if (from === NOT_A_NUMBER) {
    return badBody(bytes, start, end, sequence, 'the from-user id is not a valid id');
  }

  if (type === EventType.StatusUpdate) {
    if (fromEnd !== contentStop) {
      return badBody(bytes, start, end, sequence, 'a status update has exactly one user id');
    }
    return makeEvent(sequence, type, from, 0, bytes, start, end, contentStop);
  }

  if (fromEnd === contentStop) {
    return badBody(bytes, start, end, sequence, `a '${type}' event needs a to-user id`);
  }
  const toAt = fromEnd + 1;
  const toEnd = fieldEnd(bytes, delimiter, toAt, contentStop);
  const to = readIdBytes(bytes, toAt, toEnd);
  if (to === NOT_A_NUMBER) {
    return badBody(bytes, start, end, sequence, 'the to-user id is not a valid id');
  }
  if (toEnd !== contentStop) {
    return badBody(bytes, start, end, sequence, `a '${type}' event has exactly two user ids`);
  }
  return makeEvent(sequence, type, from, to, bytes, start, end, contentStop);
}

/**
 * Where the content of `line` ends: before its `\n` or `\r\n` terminator, or at its length
 * when it has none.
 */
export function contentEnd(line: string): number {
  let end = line.length;
  if (end > 0 && line.charCodeAt(end - 1) === LF) {
    end--;
    if (end > 0 && line.charCodeAt(end - 1) === CR) end--;
  }
  return end;
}

/**
 * Parses `[start, end)` as a decimal id in `0..MAX_SAFE_INTEGER`. Returns `NOT_A_NUMBER`
 * (-1) for an empty range, any non-digit (a delimiter included) or overflow.
 */
export function readId(text: string, start: number, end: number): number {
  // Off the hot path (id lines, credentials): the text is converted, a character above 0xFF
  // to 0, which is no digit either.
  return readIdBytes(latin1Bytes(text.slice(start, end), 0), 0, end - start);
}

/** `readId()` over the bytes `[start, end)`. */
function readIdBytes(bytes: Uint8Array, start: number, end: number): number {
  if (start === end) return NOT_A_NUMBER;
  let value = 0;
  for (let at = start; at < end; at++) {
    const code = bytes[at] as number;
    if (code < DIGIT_0 || code > DIGIT_9) return NOT_A_NUMBER;
    value = value * 10 + (code - DIGIT_0);
    if (value > MAX_ID) return NOT_A_NUMBER;
  }
  return value;
}

// Where the content of the line `bytes[start, end)` ends: before its terminator, if any.
function contentEndOf(bytes: Uint8Array, start: number, end: number): number {
  let stop = end;
  if (stop > start && bytes[stop - 1] === LF) {
    stop--;
    if (stop > start && bytes[stop - 1] === CR) stop--;
  }
  return stop;
}

// The end of the field starting at `start`: its delimiter, or `end` when it is the last field.
// A loop: fields are a few bytes, shorter than a native search costs to call.
function fieldEnd(bytes: Uint8Array, delimiter: number, start: number, end: number): number {
  for (let at = start; at < end; at++) if (bytes[at] === delimiter) return at;
  return end;
}

// The event type a letter names, or `undefined`.
function typeOf(letter: number): EventType | undefined {
  switch (letter) {
    case LETTER_F:
      return EventType.Follow;
    case LETTER_U:
      return EventType.Unfollow;
    case LETTER_B:
      return EventType.Broadcast;
    case LETTER_P:
      return EventType.PrivateMessage;
    case LETTER_S:
      return EventType.StatusUpdate;
    default:
      return undefined;
  }
}

// One object shape for every type keeps the hot path monomorphic; absent ids are 0. A line
// without its LF (only given so by an embedder) gets a copy with one.
function makeEvent(
  sequence: number,
  type: EventType,
  from: number,
  to: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  contentStop: number,
): MazeEvent {
  if (contentStop === end) {
    const line = new Uint8Array(end - start + 1);
    line.set(bytes.subarray(start, end));
    line[end - start] = LF;
    return { sequence, type, from, to, bytes: line, start: 0, end: line.length } as MazeEvent;
  }
  return { sequence, type, from, to, bytes, start, end } as MazeEvent;
}

/**
 * `quoteLine()` of the line `bytes[start, end)`: only its head is decoded, so a report of a
 * long line costs no more than one of a short one.
 */
export function quoteBytes(bytes: Uint8Array, start: number, end: number): string {
  // The quoted head, one more to tell a cut, and a terminator.
  return quoteLine(latin1Text(bytes, start, Math.min(end, start + MAX_QUOTED_LINE_LENGTH + 3)));
}

/** Bytes a quote shows as `\xNN`: controls (C0, DEL, C1), the rest of non-ASCII, and `\`. */
const UNPRINTABLE = /[^\x20-\x5b\x5d-\x7e]/g;

/**
 * Shortens a line for a report, without its terminator, with every byte outside printable
 * ASCII written as `\xNN` (and `\` as `\x5c`): the line comes from a peer, and a raw ESC or
 * CR in a log lets it forge or erase log lines. Never a view into `line`.
 */
export function quoteLine(line: string): string {
  const bare = line.replace(/\r?\n$/, '');
  const head = bare.length > MAX_QUOTED_LINE_LENGTH ? bare.slice(0, MAX_QUOTED_LINE_LENGTH) : bare;
  const escaped = head.replace(UNPRINTABLE, escapeByte);
  return ownCopy(head.length < bare.length ? `${escaped}…` : escaped);
}

// Input framed by the adapter is latin1 (one char per byte); a caller's own string may hold more.
function escapeByte(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

function badSequence(bytes: Uint8Array, start: number, end: number): MissingSequence {
  return {
    code: ErrorCode.EventBadSequence,
    message: 'event line has no valid sequence number; discarded',
    context: { line: quoteBytes(bytes, start, end) },
  };
}

function badBody(
  bytes: Uint8Array,
  start: number,
  end: number,
  sequence: number,
  reason: string,
): InvalidEventBody {
  return {
    code: ErrorCode.EventBadBody,
    sequence,
    message: `event ${sequence} is invalid (${reason}); applied as a no-op`,
    context: { sequence, line: quoteBytes(bytes, start, end) },
  };
}

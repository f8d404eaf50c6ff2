/**
 * Event-line parser (docs/protocol.md §2-4): one line in, one `MazeEvent` or one `Problem` out.
 *
 * Invariants:
 * - Pure and allocation-light: it scans character codes instead of splitting, because
 *   it runs once per event on the hot path.
 * - A line whose first field is not a sequence number in 1..MAX_SAFE_INTEGER yields
 *   `ERR_EVENT_BAD_SEQUENCE` (discard it). A line with a valid sequence number but any
 *   other defect yields `ERR_EVENT_BAD_BODY` with `context.sequence` set (a no-op that
 *   still consumes its number).
 * - `event.line` is the input unchanged when it ends with LF; a line given without its
 *   terminator gets `\n` so that every notification is a whole line.
 * - Fields are split on the delimiter (`|` unless given), which the caller checked by its row
 *   (`CORE_OPTIONS.delimiter`): no id, terminator or type letter can hold it.
 */

import { ErrorCode, type Problem } from '../errors.js';
import { MAX_ID, MAX_QUOTED_LINE_LENGTH } from './constants.js';
import { EventType, type MazeEvent } from './events.js';
import { CORE_OPTIONS } from './options.js';
import { ownCopy } from './own-copy.js';

const LF = 10;
const CR = 13;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const NOT_A_NUMBER = -1;

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
 * Parses one event line, with or without its `\n` / `\r\n` terminator, its fields split on
 * `delimiter`: one character that the `delimiter` option accepts (not checked here, on the
 * hot path: `MazeCore` checks it once). Never throws: every defect comes back as a `Problem`.
 */
export function parseEvent(
  line: string,
  delimiter: string = CORE_OPTIONS.delimiter.default,
): ParsedLine {
  const end = contentEnd(line);
  const terminated = end < line.length;

  const sequenceEnd = fieldEnd(line, delimiter, 0, end);
  const sequence = readId(line, 0, sequenceEnd);
  // User ids start at 0, sequence numbers at 1 (docs/protocol.md §3).
  if (sequence === NOT_A_NUMBER || sequence === 0) return badSequence(line);
  if (sequenceEnd === end) return badBody(line, sequence, 'no event type');

  const typeAt = sequenceEnd + 1;
  const typeEnd = fieldEnd(line, delimiter, typeAt, end);
  if (typeEnd !== typeAt + 1) return badBody(line, sequence, 'the event type must be one letter');
  const type = line[typeAt];
  const payload = terminated ? line : `${line}\n`;

  if (type === EventType.Broadcast) {
    if (typeEnd !== end) return badBody(line, sequence, 'a broadcast has no user ids');
    return makeEvent(sequence, type, 0, 0, payload);
  }
  if (
    type !== EventType.Follow &&
    type !== EventType.Unfollow &&
    type !== EventType.PrivateMessage &&
    type !== EventType.StatusUpdate
  ) {
    // The type byte comes from the peer: quoted like the line, so it cannot forge a log line.
    return badBody(line, sequence, `unknown event type '${quoteLine(type ?? '')}'`);
  }

  if (typeEnd === end) return badBody(line, sequence, `a '${type}' event needs a from-user id`);
  const fromAt = typeEnd + 1;
  const fromEnd = fieldEnd(line, delimiter, fromAt, end);
  const from = readId(line, fromAt, fromEnd);
  if (from === NOT_A_NUMBER) return badBody(line, sequence, 'the from-user id is not a valid id');

  if (type === EventType.StatusUpdate) {
    if (fromEnd !== end) return badBody(line, sequence, 'a status update has exactly one user id');
    return makeEvent(sequence, type, from, 0, payload);
  }

  if (fromEnd === end) return badBody(line, sequence, `a '${type}' event needs a to-user id`);
  const toAt = fromEnd + 1;
  const toEnd = fieldEnd(line, delimiter, toAt, end);
  const to = readId(line, toAt, toEnd);
  if (to === NOT_A_NUMBER) return badBody(line, sequence, 'the to-user id is not a valid id');
  if (toEnd !== end) {
    return badBody(line, sequence, `a '${type}' event has exactly two user ids`);
  }
  return makeEvent(sequence, type, from, to, payload);
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
  if (start === end) return NOT_A_NUMBER;
  let value = 0;
  for (let at = start; at < end; at++) {
    const code = text.charCodeAt(at);
    if (code < DIGIT_0 || code > DIGIT_9) return NOT_A_NUMBER;
    value = value * 10 + (code - DIGIT_0);
    if (value > MAX_ID) return NOT_A_NUMBER;
  }
  return value;
}

// The end of the field starting at `start`: its delimiter, or `end` when it is the last field.
function fieldEnd(text: string, delimiter: string, start: number, end: number): number {
  const at = text.indexOf(delimiter, start);
  return at === -1 || at > end ? end : at;
}

// One object shape for every type keeps the hot path monomorphic; absent ids are 0.
function makeEvent(
  sequence: number,
  type: EventType,
  from: number,
  to: number,
  line: string,
): MazeEvent {
  return { sequence, type, from, to, line } as MazeEvent;
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

function badSequence(line: string): MissingSequence {
  return {
    code: ErrorCode.EventBadSequence,
    message: 'event line has no valid sequence number; discarded',
    context: { line: quoteLine(line) },
  };
}

function badBody(line: string, sequence: number, reason: string): InvalidEventBody {
  return {
    code: ErrorCode.EventBadBody,
    sequence,
    message: `event ${sequence} is invalid (${reason}); applied as a no-op`,
    context: { sequence, line: quoteLine(line) },
  };
}

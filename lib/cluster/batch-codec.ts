/**
 * The bytes of one event batch in the log: a header line, then the event lines verbatim.
 *
 *     FMB1 <firstSequence> <lastSequence> <lineCount>[ <delimiter>][ hmac=<tag>]\n
 *     <line 1 with its terminator><line 2 with its terminator>…
 *
 * Invariants:
 * - Text, latin1: one byte per character, so a line comes back byte for byte (CR, leading
 *   zeros and bytes over 0x7F included), and `nats stream view` shows a readable log.
 * - `FMB` and the version number open every payload; a reader refuses a version it does not
 *   know instead of guessing. Header numbers are canonical decimals (no sign, no leading
 *   zero), `1 <= first <= last <= MAX_ID`, and at least one line.
 * - Every line ends with LF and holds no other LF (a CR before the LF is part of it), so the
 *   lines are found by LF alone and their count must match the header's.
 * - `<delimiter>` is the character code of the byte the ingest split the lines' fields on,
 *   written only when it is not `|`: a batch of the default is what it always was, and a
 *   reader that does not know the field refuses the header instead of misparsing the lines.
 * - `hmac=<tag>` is there when the ingest has a log key (log-key.ts): the HMAC-SHA-256, in
 *   lowercase hex, of the payload without that field. A reader with the key refuses a batch
 *   without it or with another tag (another key, or bytes altered), so a forged batch is
 *   foreign however well formed; a reader without a key ignores it.
 * - `encodeBatch()` throws `MazeError(ERR_LOG_BAD_BATCH)` for a batch the caller built wrong;
 *   `decodeBatch()` returns a failure value for a payload read from the log.
 */
import { Buffer } from 'node:buffer';
import { MAX_ID } from '../core/constants.js';
import { CORE_OPTIONS } from '../core/options.js';
import { ErrorCode, MazeError } from '../errors.js';
import { acceptsValue } from '../options/option.js';
import type { EventBatch } from './event-log.js';
import { hasLogTag, LOG_TAG_LENGTH, type LogKey, logTagOf } from './log-key.js';

/** The version of the format written by `encodeBatch()`. */
export const BATCH_FORMAT_VERSION = 1;

const DELIMITER = CORE_OPTIONS.delimiter;
const HEADER = /^FMB(\d+) (\d+) (\d+) (\d+)(?: (\d+))?( hmac=([0-9a-f]{64}))?\n/;
const TAG_FIELD = ' hmac=';
const CANONICAL = /^(0|[1-9]\d*)$/;
const LF = '\n';
// A UTF-16 code unit that no latin1 byte stands for.
const NOT_LATIN1 = /[\u0100-\uffff]/;

/** What `decodeBatch()` found. */
export type DecodedBatch =
  | { readonly ok: true; readonly batch: EventBatch }
  | { readonly ok: false; readonly reason: string };

/**
 * The payload of `batch`, signed with `key` when given. Throws `MazeError(ERR_LOG_BAD_BATCH)`
 * if the batch is invalid.
 */
export function encodeBatch(batch: EventBatch, key?: LogKey): Uint8Array {
  const invalid = checkBatch(batch);
  if (invalid !== undefined) throw new MazeError(ErrorCode.LogBadBatch, invalid);
  const fields = fieldsOf(batch);
  if (key === undefined) return Buffer.from(`${fields}\n${batch.lines.join('')}`, 'latin1');
  const head = Buffer.from(`${fields}\n`, 'latin1');
  const body = Buffer.from(batch.lines.join(''), 'latin1');
  const tag = logTagOf(key, [head, body]);
  return Buffer.concat([Buffer.from(`${fields}${TAG_FIELD}${tag}\n`, 'latin1'), body]);
}

/** The header of `batch` without its tag and line feed. */
function fieldsOf(batch: EventBatch): string {
  const { delimiter } = batch;
  const recorded =
    delimiter === undefined || delimiter === DELIMITER.default ? '' : ` ${delimiter.charCodeAt(0)}`;
  return `FMB${BATCH_FORMAT_VERSION} ${batch.firstSequence} ${batch.lastSequence} ${batch.lines.length}${recorded}`;
}

/**
 * The batch a payload holds, or why it holds none. With `key`, a batch holds one only when
 * it carries the tag of its bytes under that key.
 */
export function decodeBatch(payload: Uint8Array, key?: LogKey): DecodedBatch {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString(
    'latin1',
  );
  const header = HEADER.exec(text);
  if (header === null) {
    return { ok: false, reason: `not an event batch (no "FMB<version> …" header)` };
  }
  const [head, version, first, last, count, delimiterCode, tagField, tag] = header as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
    string | undefined,
    string | undefined,
  ];
  if (version !== String(BATCH_FORMAT_VERSION)) {
    return {
      ok: false,
      reason: `batch format version ${version} is not supported (this reader knows ${BATCH_FORMAT_VERSION})`,
    };
  }
  for (const [name, digits] of [
    ['first sequence', first],
    ['last sequence', last],
    ['line count', count],
  ] as const) {
    if (!CANONICAL.test(digits) || Number(digits) > MAX_ID) {
      return { ok: false, reason: `the ${name} ${JSON.stringify(digits)} is not canonical` };
    }
  }
  // `fromCharCode()` wraps codes over 0xFFFF: a canonical code below 256 is checked first.
  const delimiter =
    delimiterCode !== undefined && CANONICAL.test(delimiterCode) && Number(delimiterCode) < 256
      ? String.fromCharCode(Number(delimiterCode))
      : undefined;
  // The default is never written: a header that names it has two spellings of one batch.
  if (
    delimiterCode !== undefined &&
    (!acceptsValue(DELIMITER, delimiter) || delimiter === DELIMITER.default)
  ) {
    return {
      ok: false,
      reason: `the delimiter code ${JSON.stringify(delimiterCode)} is not valid`,
    };
  }
  if (key !== undefined) {
    if (tag === undefined || tagField === undefined) {
      return { ok: false, reason: 'the batch is not signed, and this log needs the log key' };
    }
    const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const tagStart = head.length - 1 - tagField.length;
    const signed = [bytes.subarray(0, tagStart), bytes.subarray(head.length - 1)];
    if (!hasLogTag(key, signed, tag)) {
      return {
        ok: false,
        reason: 'the batch is not signed with the log key (another key, or its bytes altered)',
      };
    }
  }
  const lines: string[] = [];
  let start = head.length;
  while (start < text.length) {
    const end = text.indexOf(LF, start);
    if (end === -1) return { ok: false, reason: `line ${lines.length + 1} has no terminator` };
    lines.push(text.slice(start, end + 1));
    start = end + 1;
  }
  if (lines.length !== Number(count)) {
    return { ok: false, reason: `the header says ${count} lines, the payload has ${lines.length}` };
  }
  const batch: EventBatch = {
    firstSequence: Number(first),
    lastSequence: Number(last),
    lines,
    ...(delimiter === undefined ? {} : { delimiter }),
  };
  const invalid = checkBatch(batch);
  return invalid === undefined ? { ok: true, batch } : { ok: false, reason: invalid };
}

/** The bytes `encodeBatch(batch, key)` takes, without encoding it. */
export function encodedSize(batch: EventBatch, key?: LogKey): number {
  let size = fieldsOf(batch).length + 1;
  if (key !== undefined) size += TAG_FIELD.length + LOG_TAG_LENGTH;
  for (const line of batch.lines) size += line.length;
  return size;
}

/** Why `batch` cannot be in the log, or `undefined` if it can. */
export function checkBatch(batch: EventBatch): string | undefined {
  const { firstSequence: first, lastSequence: last, lines } = batch;
  if (!isSequence(first) || !isSequence(last) || first > last) {
    return `a batch needs sequence numbers 1 <= first <= last <= ${MAX_ID}, got ${first}..${last}`;
  }
  if (!Array.isArray(lines) || lines.length === 0) return 'a batch needs at least one line';
  if (batch.delimiter !== undefined && !acceptsValue(DELIMITER, batch.delimiter)) {
    return `the delimiter of a batch must be what the delimiter option accepts, got ${JSON.stringify(batch.delimiter)}`;
  }
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index];
    if (
      typeof line !== 'string' ||
      line.length === 0 ||
      line.indexOf(LF) !== line.length - 1 ||
      NOT_LATIN1.test(line)
    ) {
      return `line ${index + 1} of the batch must be latin1 text ending with its only LF`;
    }
  }
  return undefined;
}

function isSequence(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && value <= MAX_ID;
}

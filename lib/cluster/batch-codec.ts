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
import type { EventBatch, LogBatch } from './event-log.js';
import { hasLogTag, LOG_TAG_LENGTH, type LogKey, logTagOf } from './log-key.js';

/** The version of the format written by `encodeBatch()`. */
export const BATCH_FORMAT_VERSION = 1;

const DELIMITER = CORE_OPTIONS.delimiter;
const HEADER = /^FMB(\d+) (\d+) (\d+) (\d+)(?: (\d+))?( hmac=([0-9a-f]{64}))?\n/;
const TAG_FIELD = ' hmac=';
const CANONICAL = /^(0|[1-9]\d*)$/;
const LF = '\n';
const LF_BYTE = 0x0a;
// A UTF-16 code unit that no latin1 byte stands for.
const NOT_LATIN1 = /[\u0100-\uffff]/;

/**
 * The lines of a batch as ranges of its bytes: line `i` is `bytes[start(i), ends[i])` with
 * `start(0) = start` and `start(i) = ends[i - 1]`, its terminator included.
 */
export interface BatchBody {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly ends: Uint32Array;
}

// The body of each batch decoded from a payload or built by the ingest, beside the batch
// rather than on it: `EventBatch` stays a plain value, and a copy of a batch (`{ ...batch }`)
// is a batch of its `lines`.
const bodies = new WeakMap<EventBatch, BatchBody>();

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
  const body = bodies.get(batch);
  if (body === undefined && key === undefined) {
    return Buffer.from(`${fields}\n${batch.lines.join('')}`, 'latin1');
  }
  const lines = body === undefined ? Buffer.from(batch.lines.join(''), 'latin1') : bodyBytes(body);
  if (key === undefined) return Buffer.concat([Buffer.from(`${fields}\n`, 'latin1'), lines]);
  const head = Buffer.from(`${fields}\n`, 'latin1');
  const tag = logTagOf(key, [head, lines]);
  return Buffer.concat([Buffer.from(`${fields}${TAG_FIELD}${tag}\n`, 'latin1'), lines]);
}

/** The lines of `body`, together. */
function bodyBytes({ bytes, start, ends }: BatchBody): Uint8Array {
  return bytes.subarray(start, ends.length === 0 ? start : ends[ends.length - 1]);
}

/** How many lines `batch` holds (without decoding a body). */
export function lineCountOf(batch: EventBatch): number {
  const body = bodies.get(batch);
  return body === undefined ? batch.lines.length : body.ends.length;
}

/** The header of `batch` without its tag and line feed. */
function fieldsOf(batch: EventBatch): string {
  const { delimiter } = batch;
  const recorded =
    delimiter === undefined || delimiter === DELIMITER.default ? '' : ` ${delimiter.charCodeAt(0)}`;
  return `FMB${BATCH_FORMAT_VERSION} ${batch.firstSequence} ${batch.lastSequence} ${lineCountOf(batch)}${recorded}`;
}

/**
 * The batch a payload holds, or why it holds none. With `key`, a batch holds one only when
 * it carries the tag of its bytes under that key. The batch's lines stay in `payload`
 * (`bodyOf()` gives their ranges) and are decoded to text only when `lines` is read.
 */
export function decodeBatch(payload: Uint8Array, key?: LogKey): DecodedBatch {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  // The header is the first line: no field of it holds a line feed.
  const headEnd = bytes.indexOf(LF_BYTE);
  const header = headEnd === -1 ? null : HEADER.exec(bytes.toString('latin1', 0, headEnd + 1));
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
    const tagStart = head.length - 1 - tagField.length;
    const signed = [bytes.subarray(0, tagStart), bytes.subarray(head.length - 1)];
    if (!hasLogTag(key, signed, tag)) {
      return {
        ok: false,
        reason: 'the batch is not signed with the log key (another key, or its bytes altered)',
      };
    }
  }
  // Lines beyond the header's count are counted, not kept: the batch is refused below. A
  // line takes a byte at least, so a forged count allocates no more than the payload's size.
  const expected = Number(count);
  const ends = new Uint32Array(Math.min(expected, bytes.length - head.length));
  let found = 0;
  let bodyEnd = head.length;
  // indexOf() (memchr) finds a line's end faster than a loop over its bytes.
  for (let lf = bytes.indexOf(LF_BYTE, bodyEnd); lf !== -1; lf = bytes.indexOf(LF_BYTE, bodyEnd)) {
    if (found < ends.length) ends[found] = lf + 1;
    found++;
    bodyEnd = lf + 1;
  }
  if (bodyEnd !== bytes.length) return { ok: false, reason: `line ${found + 1} has no terminator` };
  if (found !== expected) {
    return { ok: false, reason: `the header says ${count} lines, the payload has ${found}` };
  }
  const fields = { firstSequence: Number(first), lastSequence: Number(last), delimiter };
  // Each line ends with its only LF, and latin1 text is any bytes: only the fields to check.
  const invalid = checkFields(fields.firstSequence, fields.lastSequence, expected, delimiter);
  if (invalid !== undefined) return { ok: false, reason: invalid };
  const { firstSequence, lastSequence } = fields;
  // The lines stay where they are: a reader applies a batch at once (a copy would cost an
  // allocation per batch and, measured, more peak memory); one who keeps it copies the payload.
  return {
    ok: true,
    batch: batchOfBody(
      { firstSequence, lastSequence, delimiter },
      { bytes, start: head.length, ends },
    ),
  };
}

/**
 * `batch` (read back from the log) at `position`; its lines stay in their payload if they
 * are.
 */
export function logBatchOf(position: number, batch: EventBatch): LogBatch {
  const body = bodies.get(batch);
  if (body === undefined) return { position, ...batch };
  return batchOfBody({ ...fieldsOfBatch(batch), position }, body);
}

/** `batch` with the message id `messageId`, its lines kept as they are. */
export function withMessageId(batch: EventBatch, messageId: string): EventBatch {
  const body = bodies.get(batch);
  if (body === undefined) return { ...batch, messageId };
  return batchOfBody({ ...fieldsOfBatch(batch), messageId }, body);
}

/** The fields of `batch` but its lines. */
function fieldsOfBatch(batch: EventBatch): BatchFields {
  return {
    firstSequence: batch.firstSequence,
    lastSequence: batch.lastSequence,
    delimiter: batch.delimiter,
    messageId: batch.messageId,
  };
}

type BatchFields = Pick<EventBatch, 'firstSequence' | 'lastSequence' | 'delimiter' | 'messageId'>;

/**
 * A batch whose lines are the ranges of `body` (the ingest copies its lines into one); its
 * `lines` are decoded from them when first read.
 */
export function batchOfBody<F extends BatchFields & { position?: number }>(
  fields: F,
  body: BatchBody,
): EventBatch & F {
  let lines: readonly string[] | undefined;
  const batch: Record<string, unknown> = {};
  if (fields.position !== undefined) batch.position = fields.position;
  batch.firstSequence = fields.firstSequence;
  batch.lastSequence = fields.lastSequence;
  Object.defineProperty(batch, 'lines', {
    get: (): readonly string[] => {
      lines ??= textOf(body);
      return lines;
    },
    enumerable: true,
  });
  if (fields.delimiter !== undefined) batch.delimiter = fields.delimiter;
  if (fields.messageId !== undefined) batch.messageId = fields.messageId;
  const result = batch as unknown as EventBatch & F;
  bodies.set(result, body);
  return result;
}

/**
 * Where the lines of `batch` lie as bytes: in its payload (or the ingest's buffer) for a
 * batch this module built, else its lines encoded once, together.
 */
export function bodyOf(batch: EventBatch): BatchBody {
  const body = bodies.get(batch);
  if (body !== undefined) return body;
  const ends = new Uint32Array(batch.lines.length);
  let end = 0;
  batch.lines.forEach((line, index) => {
    end += line.length;
    ends[index] = end;
  });
  return { bytes: Buffer.from(batch.lines.join(''), 'latin1'), start: 0, ends };
}

/** The lines of `body` as text. */
function textOf(body: BatchBody): readonly string[] {
  const bytes = Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength);
  const lines: string[] = [];
  let start = body.start;
  for (const end of body.ends) {
    lines.push(bytes.toString('latin1', start, end));
    start = end;
  }
  return Object.freeze(lines);
}

/** The bytes `encodeBatch(batch, key)` takes, without encoding it. */
export function encodedSize(batch: EventBatch, key?: LogKey): number {
  let size = fieldsOf(batch).length + 1;
  if (key !== undefined) size += TAG_FIELD.length + LOG_TAG_LENGTH;
  const body = bodies.get(batch);
  if (body !== undefined) return size + bodyBytes(body).length;
  for (const line of batch.lines) size += line.length;
  return size;
}

/** Why `batch` cannot be in the log, or `undefined` if it can. */
export function checkBatch(batch: EventBatch): string | undefined {
  const body = bodies.get(batch);
  if (body !== undefined) {
    const invalid = checkFields(
      batch.firstSequence,
      batch.lastSequence,
      body.ends.length,
      batch.delimiter,
    );
    return invalid ?? checkBody(body);
  }
  const { lines } = batch;
  const count = Array.isArray(lines) ? lines.length : 0;
  const invalid = checkFields(batch.firstSequence, batch.lastSequence, count, batch.delimiter);
  if (invalid !== undefined) return invalid;
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

// A body's lines hold the same checks as text lines (latin1: any byte is one).
function checkBody({ bytes, start, ends }: BatchBody): string | undefined {
  let from = start;
  for (let index = 0; index < ends.length; index += 1) {
    const end = ends[index] as number;
    let lf = from;
    while (lf < end && bytes[lf] !== LF_BYTE) lf++;
    if (end > bytes.length || lf !== end - 1) {
      return `line ${index + 1} of the batch must be latin1 text ending with its only LF`;
    }
    from = end;
  }
  return undefined;
}

function checkFields(
  first: number,
  last: number,
  lineCount: number,
  delimiter: string | undefined,
): string | undefined {
  if (!isSequence(first) || !isSequence(last) || first > last) {
    return `a batch needs sequence numbers 1 <= first <= last <= ${MAX_ID}, got ${first}..${last}`;
  }
  if (lineCount === 0) return 'a batch needs at least one line';
  if (delimiter !== undefined && !acceptsValue(DELIMITER, delimiter)) {
    return `the delimiter of a batch must be what the delimiter option accepts, got ${JSON.stringify(delimiter)}`;
  }
  return undefined;
}

function isSequence(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && value <= MAX_ID;
}

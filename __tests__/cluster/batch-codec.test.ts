/**
 * The batch payload: byte-exact round trips (CRLF, leading zeros, every latin1 byte), and a
 * failure value with a reason for every malformed payload.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  BATCH_FORMAT_VERSION,
  type BatchBody,
  batchOfBody,
  bodyOf,
  checkBatch,
  decodeBatch,
  encodeBatch,
  encodedSize,
  logBatchOf,
  withMessageId,
} from '../../lib/cluster/batch-codec.js';
import type { EventBatch } from '../../lib/cluster/event-log.js';
import { logKeyOf } from '../../lib/cluster/log-key.js';
import { MAX_ID } from '../../lib/core/constants.js';
import { ErrorCode } from '../../lib/errors.js';

const latin1 = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

// The text of each line of `body`, read from its ranges.
function rangesOf({ bytes, start, ends }: BatchBody): string[] {
  const lines: string[] = [];
  let from = start;
  for (const end of ends) {
    lines.push(text(bytes.subarray(from, end)));
    from = end;
  }
  return lines;
}

function reasonOf(payload: string): string {
  const result = decodeBatch(latin1(payload));
  if (result.ok) throw new Error(`decoded ${JSON.stringify(payload)}`);
  return result.reason;
}

describe('encodeBatch', () => {
  it('writes the header, then the lines verbatim', () => {
    const batch = { firstSequence: 7, lastSequence: 9, lines: ['7|B\n', '9|F|1|2\r\n'] };
    expect(text(encodeBatch(batch))).toBe(`FMB${BATCH_FORMAT_VERSION} 7 9 2\n7|B\n9|F|1|2\r\n`);
    expect(encodedSize(batch)).toBe(encodeBatch(batch).length);
  });

  it.each([
    ['no lines', { firstSequence: 1, lastSequence: 1, lines: [] }],
    ['first after last', { firstSequence: 3, lastSequence: 2, lines: ['3|B\n'] }],
    ['sequence 0', { firstSequence: 0, lastSequence: 1, lines: ['1|B\n'] }],
    ['beyond MAX_ID', { firstSequence: 1, lastSequence: MAX_ID + 1, lines: ['1|B\n'] }],
    ['a fraction', { firstSequence: 1.5, lastSequence: 2, lines: ['1|B\n'] }],
    ['a line without LF', { firstSequence: 1, lastSequence: 1, lines: ['1|B'] }],
    ['an empty line', { firstSequence: 1, lastSequence: 1, lines: [''] }],
    ['an LF inside a line', { firstSequence: 1, lastSequence: 2, lines: ['1|B\n2|B\n'] }],
    ['a character over 0xFF', { firstSequence: 1, lastSequence: 1, lines: ['1|B\u20ac\n'] }],
  ])('refuses a batch with %s (ERR_LOG_BAD_BATCH)', (_name, batch) => {
    expect(checkBatch(batch)).toEqual(expect.any(String));
    expect(() => encodeBatch(batch)).toThrow(
      expect.objectContaining({ code: ErrorCode.LogBadBatch }),
    );
  });
});

describe('a batch whose lines are a body of bytes (batchOfBody, as the ingest builds them)', () => {
  const lines = ['7|B\n', '9|F|1|2\r\n'];
  const fields = { firstSequence: 7, lastSequence: 9, delimiter: undefined };
  const body = (text: string, ends: number[]): BatchBody => ({
    bytes: latin1(`xx${text}`),
    start: 2,
    ends: Uint32Array.from(ends, (end) => end + 2),
  });
  const ok = body(lines.join(''), [4, 13]);

  it('encodes as the same batch of text lines, signed or not', () => {
    const textBatch = { firstSequence: 7, lastSequence: 9, lines };
    const batch = batchOfBody(fields, ok);
    expect(batch.lines).toEqual(lines);
    expect(text(encodeBatch(batch))).toBe(text(encodeBatch(textBatch)));
    expect(encodedSize(batch)).toBe(encodeBatch(batch).length);
    const key = logKeyOf(Buffer.alloc(32, 7));
    expect(text(encodeBatch(batch, key))).toBe(text(encodeBatch(textBatch, key)));
    expect(encodedSize(batch, key)).toBe(encodeBatch(batch, key).length);
  });

  it('keeps its body with a message id', () => {
    const batch = withMessageId(batchOfBody(fields, ok), 'id-1');
    expect(bodyOf(batch)).toBe(ok);
    expect(batch).toEqual({ firstSequence: 7, lastSequence: 9, lines, messageId: 'id-1' });
  });

  it('is a plain value: its documented fields only, and a copy is a batch of its lines', () => {
    const batch = batchOfBody(fields, ok);
    expect(Reflect.ownKeys(batch)).toEqual(['firstSequence', 'lastSequence', 'lines']);
    const copy = { ...batch };
    expect(copy).toEqual({ firstSequence: 7, lastSequence: 9, lines });
    expect(bodyOf(copy)).not.toBe(ok);
    expect(rangesOf(bodyOf(copy))).toEqual(lines);
  });

  it('takes no body from a field of the batch: its lines are what it holds', () => {
    const other = body('1|B\n', [4]);
    const batch = { firstSequence: 7, lastSequence: 9, lines, body: other } as EventBatch;
    expect(text(encodeBatch(batch))).toBe(`FMB${BATCH_FORMAT_VERSION} 7 9 2\n${lines.join('')}`);
    expect(rangesOf(bodyOf(batch))).toEqual(lines);
  });

  it.each([
    ['a line without LF', body('7|B\n9|B', [4, 7])],
    ['an LF inside a line', body('7|B\n9|B\n', [8])],
    ['an empty line', body('7|B\n', [4, 4])],
    ['no lines', body('', [])],
    ['a range beyond its bytes', body('7|B\n', [4, 9])],
  ])('refuses %s (ERR_LOG_BAD_BATCH)', (_name, bad) => {
    const batch = batchOfBody(fields, bad);
    expect(checkBatch(batch)).toEqual(expect.any(String));
    expect(() => encodeBatch(batch)).toThrow(
      expect.objectContaining({ code: ErrorCode.LogBadBatch }),
    );
  });
});

describe('decodeBatch', () => {
  it('round-trips CRLF lines, leading zeros and every byte but LF, exactly', () => {
    const everyByte = Array.from({ length: 256 }, (_, byte) => String.fromCharCode(byte))
      .filter((char) => char !== '\n')
      .join('');
    const batch: EventBatch = {
      firstSequence: 1,
      lastSequence: 12,
      lines: ['0001|B\r\n', '002|F|007|08\n', `12|S|${everyByte}\r\n`],
    };
    const payload = encodeBatch(batch);
    expect(decodeBatch(payload)).toEqual({ ok: true, batch });
    // A payload inside a larger buffer (as the NATS client hands them) decodes the same.
    const framed = new Uint8Array(payload.length + 8);
    framed.set(payload, 4);
    expect(decodeBatch(framed.subarray(4, 4 + payload.length))).toEqual({ ok: true, batch });
  });

  it('keeps the lines where they lie in the payload (body), decoding them only when asked', () => {
    const batch = { firstSequence: 3, lastSequence: 5, lines: ['3|B\n', '5|F|1|2\r\n'] };
    const payload = encodeBatch(batch);
    const framed = new Uint8Array(payload.length + 8);
    framed.set(payload, 4);
    const result = decodeBatch(framed.subarray(4, 4 + payload.length));
    if (!result.ok) throw new Error(result.reason);
    const body = bodyOf(result.batch);
    // Not copied: ranges of the buffer the payload came in.
    expect(body.bytes.buffer).toBe(framed.buffer);
    expect(rangesOf(body)).toEqual(batch.lines);
    expect(result.batch.lines).toEqual(batch.lines);
    // Not a field of the batch, kept at a position.
    expect(Reflect.ownKeys(result.batch)).toEqual(['firstSequence', 'lastSequence', 'lines']);
    const atPosition = logBatchOf(9, result.batch);
    expect(bodyOf(atPosition)).toBe(body);
    expect(atPosition).toEqual({ position: 9, ...batch });
  });

  it('keeps the lines in the payload given, a view of a larger buffer included: no copy', () => {
    const batch = { firstSequence: 3, lastSequence: 3, lines: ['3|B\n'] };
    const payload = encodeBatch(batch);
    const read = new Uint8Array(64 * 1024);
    read.set(payload, 100);
    const result = decodeBatch(read.subarray(100, 100 + payload.length));
    if (!result.ok) throw new Error(result.reason);
    expect(bodyOf(result.batch).bytes.buffer).toBe(read.buffer);
    expect(result.batch).toEqual(batch);
  });

  it('gives a batch built in memory as one body of its lines (bodyOf)', () => {
    const batch = { firstSequence: 3, lastSequence: 5, lines: ['3|B\n', '5|F|1|2\r\n'] };
    expect(rangesOf(bodyOf(batch))).toEqual(batch.lines);
    expect(logBatchOf(2, batch)).toEqual({ position: 2, ...batch });
  });

  it('round-trips any valid batch (property)', () => {
    const line = fc
      .tuple(
        fc.string({
          unit: fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code)),
        }),
        fc.constantFrom('\n', '\r\n'),
      )
      .map(([body, end]) => `${body.replaceAll('\n', '')}${end}`);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: MAX_ID }),
        fc.nat(),
        fc.array(line, { minLength: 1, maxLength: 20 }),
        (first, span, lines) => {
          const batch = {
            firstSequence: first,
            lastSequence: Math.min(MAX_ID, first + span),
            lines,
          };
          const result = decodeBatch(encodeBatch(batch));
          expect(result).toEqual({ ok: true, batch });
          if (result.ok) expect(rangesOf(bodyOf(result.batch))).toEqual(lines);
        },
      ),
    );
  });

  it.each([
    ['an empty payload', '', /no "FMB<version> …" header/],
    ['another message', 'hello\n', /no "FMB<version> …" header/],
    ['a header without LF', 'FMB1 1 1 1', /no "FMB<version> …" header/],
    ['a future version', 'FMB2 1 1 1\n1|B\n', /version 2 is not supported/],
    ['a leading zero in the header', 'FMB1 01 1 1\n1|B\n', /first sequence "01" is not canonical/],
    ['a count beyond MAX_ID', `FMB1 1 1 ${MAX_ID}0\n1|B\n`, /line count .* is not canonical/],
    ['fewer lines than counted', 'FMB1 1 2 2\n1|B\n', /says 2 lines, the payload has 1/],
    ['a count far beyond the payload', `FMB1 1 1 ${MAX_ID}\n1|B\n`, /the payload has 1$/],
    ['more lines than counted', 'FMB1 1 2 1\n1|B\n2|B\n', /says 1 lines, the payload has 2/],
    ['a cut last line', 'FMB1 1 2 2\n1|B\n2|B', /line 2 has no terminator/],
    ['first after last', 'FMB1 2 1 1\n2|B\n', /first <= last/],
    ['no lines', 'FMB1 1 1 0\n', /at least one line/],
  ])('refuses %s with a reason', (_name, payload, reason) => {
    expect(reasonOf(payload)).toMatch(reason);
  });
});

describe('the delimiter of a batch', () => {
  it('is written as its character code after the line count, only when it is not `|`', () => {
    const lines = ['7;B\n', '9;F;1;2\r\n'];
    const batch = { firstSequence: 7, lastSequence: 9, lines, delimiter: ';' };
    expect(text(encodeBatch(batch))).toBe(`FMB${BATCH_FORMAT_VERSION} 7 9 2 59\n${lines.join('')}`);
    expect(encodedSize(batch)).toBe(encodeBatch(batch).length);
    const piped = { firstSequence: 7, lastSequence: 7, lines: ['7|B\n'] };
    expect(text(encodeBatch({ ...piped, delimiter: '|' }))).toBe(text(encodeBatch(piped)));
  });

  it.each([';', ',', '\xa7', ' ', '\xff'])('round-trips %j', (delimiter) => {
    const batch = { firstSequence: 1, lastSequence: 1, lines: [`1${delimiter}B\n`], delimiter };
    expect(decodeBatch(encodeBatch(batch))).toEqual({ ok: true, batch });
  });

  it('is absent from a batch read without it: `|`', () => {
    expect(decodeBatch(latin1('FMB1 1 1 1\n1|B\n'))).toEqual({
      ok: true,
      batch: { firstSequence: 1, lastSequence: 1, lines: ['1|B\n'] },
    });
  });

  it.each([
    ['a digit', 'FMB1 1 1 1 48\n1|B\n'],
    ['LF', 'FMB1 1 1 1 10\n1|B\n'],
    ['CR', 'FMB1 1 1 1 13\n1|B\n'],
    ['an event type letter', 'FMB1 1 1 1 66\n1|B\n'],
    ['code 256', 'FMB1 1 1 1 256\n1|B\n'],
    ['a code that wraps around to `;`', `FMB1 1 1 1 ${65_536 + 59}\n1;B\n`],
    ['a leading zero', 'FMB1 1 1 1 059\n1;B\n'],
    ['the default, which is never written', 'FMB1 1 1 1 124\n1|B\n'],
  ])('refuses %s', (_, payload) => {
    expect(reasonOf(payload)).toMatch(/^the delimiter code "\d+" is not valid$/);
  });

  it('is checked in a batch to encode', () => {
    const batch = { firstSequence: 1, lastSequence: 1, lines: ['1;B\n'], delimiter: ';;' };
    expect(checkBatch(batch)).toMatch(/delimiter/);
    expect(() => encodeBatch(batch)).toThrow(
      expect.objectContaining({ code: ErrorCode.LogBadBatch }),
    );
  });
});

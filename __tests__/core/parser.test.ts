import { describe, expect, it } from '@jest/globals';
import { MAX_ID, MAX_QUOTED_LINE_LENGTH } from '../../lib/core/constants.js';
import { lineOf } from '../../lib/core/events.js';
import { CORE_OPTIONS } from '../../lib/core/options.js';
import {
  isEvent,
  type ParsedLine,
  parseEvent,
  parseEventBytes,
  quoteLine,
  readId,
} from '../../lib/core/parser.js';
import { ErrorCode } from '../../lib/errors.js';
import { checkOptionValue, parseOptionText } from '../../lib/options/option.js';
import { badBodyLines, LINES_WITHOUT_SEQUENCE } from '../helpers/streams.js';

const TOO_BIG = '9007199254740992'; // MAX_SAFE_INTEGER + 1

/** `parseEvent()`, an event's byte range also shown as the text of its line. */
function parse(line: string, delimiter?: string): ParsedLine & { readonly line?: string } {
  const parsed = parseEvent(line, delimiter);
  return isEvent(parsed) ? { ...parsed, line: lineOf(parsed) } : parsed;
}

describe('parseEvent: the docs/protocol.md §3 table', () => {
  it.each([
    ['666|F|60|50\n', { sequence: 666, type: 'F', from: 60, to: 50 }],
    ['1|U|12|9\n', { sequence: 1, type: 'U', from: 12, to: 9 }],
    ['542532|B\n', { sequence: 542532, type: 'B' }],
    ['43|P|32|56\n', { sequence: 43, type: 'P', from: 32, to: 56 }],
    ['634|S|32\n', { sequence: 634, type: 'S', from: 32 }],
  ])('parses %j', (line, fields) => {
    const parsed = parse(line);
    expect(isEvent(parsed)).toBe(true);
    expect(parsed).toMatchObject({ ...fields, line });
  });
});

describe('parseEvent: the line as read', () => {
  it('keeps an LF terminator', () => {
    expect(parse('5|P|1|2\n')).toMatchObject({ line: '5|P|1|2\n', to: 2 });
  });

  it('keeps a CRLF terminator byte for byte and does not read the CR as part of an id', () => {
    expect(parse('5|P|1|2\r\n')).toMatchObject({ line: '5|P|1|2\r\n', to: 2 });
    expect(parse('6|B\r\n')).toMatchObject({ type: 'B', line: '6|B\r\n' });
    expect(parse('7|S|3\r\n')).toMatchObject({ from: 3, line: '7|S|3\r\n' });
  });

  it('adds \\n to a line given without a terminator', () => {
    expect(parse('5|F|1|2')).toMatchObject({ type: 'F', line: '5|F|1|2\n' });
    expect(parse('8|B')).toMatchObject({ type: 'B', line: '8|B\n' });
  });

  it('treats a lone CR without LF as part of the body, not as a terminator', () => {
    expect(parse('5|B\r')).toMatchObject({ code: ErrorCode.EventBadBody, sequence: 5 });
  });
});

describe('parseEvent: ids and sequence numbers', () => {
  it('accepts MAX_SAFE_INTEGER in every numeric field', () => {
    const line = `${MAX_ID}|F|${MAX_ID}|${MAX_ID}\n`;
    expect(parse(line)).toMatchObject({ sequence: MAX_ID, from: MAX_ID, to: MAX_ID });
  });

  it('reads the digits of a sequence number as decimal, leading zeros included', () => {
    expect(parse('007|B\n')).toMatchObject({ type: 'B', sequence: 7 });
  });

  it('rejects a sequence number above MAX_SAFE_INTEGER, however long', () => {
    for (const digits of [TOO_BIG, '9007199254740993', '99999999999999999999999']) {
      expect(parse(`${digits}|B\n`)).toMatchObject({ code: ErrorCode.EventBadSequence });
    }
  });

  it.each(LINES_WITHOUT_SEQUENCE)('discards %j as having no sequence number', (line) => {
    const parsed = parse(line);
    expect(isEvent(parsed)).toBe(false);
    expect(parsed).toMatchObject({ code: ErrorCode.EventBadSequence });
    expect(parsed).not.toHaveProperty('sequence');
  });

  it('rejects non-ASCII digits', () => {
    expect(parse('\u0661|B\n')).toMatchObject({ code: ErrorCode.EventBadSequence });
  });
});

describe('parseEvent: invalid bodies keep their number', () => {
  it.each(badBodyLines(42))('%j is a bad body of event 42', (line) => {
    const parsed = parse(line);
    expect(isEvent(parsed)).toBe(false);
    expect(parsed).toMatchObject({
      code: ErrorCode.EventBadBody,
      sequence: 42,
      context: { sequence: 42 },
    });
  });

  it.each([
    ['overflowing to-user', `3|P|1|${TOO_BIG}\n`],
    ['overflowing status sender', `3|S|${TOO_BIG}\n`],
    ['whitespace before an id', '3|S| 1\n'],
    ['whitespace after an id', '3|S|1 \n'],
    ['negative id', '3|U|-1|2\n'],
    ['extra field on a follow', '3|F|1|2|3\n'],
    ['extra field on a status update', '3|S|1|2\n'],
    ['extra field on a broadcast', '3|B|1\n'],
    ['missing to-user', '3|P|1\n'],
    ['missing from-user', '3|S\n'],
    ['empty type', '3||1|2\n'],
    ['lower-case type', '3|b\n'],
  ])('rejects a %s', (_, line) => {
    expect(parse(line)).toMatchObject({ code: ErrorCode.EventBadBody, sequence: 3 });
  });

  it('quotes the offending line without its terminator', () => {
    expect(parse('9|Q|1|2\r\n')).toMatchObject({ context: { line: '9|Q|1|2' } });
    expect(parse('x|B\n')).toMatchObject({ context: { line: 'x|B' } });
  });
});

describe('parseEvent: peer bytes in messages', () => {
  it('never puts a raw control or non-ASCII byte into a message, whatever the type byte', () => {
    for (let code = 0; code < 256; code++) {
      const parsed = parse(`7|${String.fromCharCode(code)}|1|2\n`);
      const message = isEvent(parsed) ? '' : parsed.message;
      const raw = [...message].filter((char) => char < ' ' || char > '~');
      expect(raw).toEqual([]);
    }
    expect(parse('7|\r|1|2\n')).toMatchObject({ message: expect.stringContaining("'\\x0d'") });
  });
});

describe('readId', () => {
  it('reads exactly the range [start, end)', () => {
    expect(readId('12|34|56', 3, 5)).toBe(34);
    expect(readId('12|34|56', 6, 8)).toBe(56);
    expect(readId('123456', 0, 3)).toBe(123);
  });

  it('rejects a range with a pipe in it: a field never spans two', () => {
    expect(readId('12|34', 0, 5)).toBe(-1);
    expect(readId('12|', 0, 3)).toBe(-1);
  });

  it('reads zero: user id 0 is valid (docs/protocol.md §3)', () => {
    expect(readId('0', 0, 1)).toBe(0);
    expect(readId('000', 0, 3)).toBe(0);
  });

  it('returns -1 for an empty, overflowing or non-digit field', () => {
    expect(readId('|5', 0, 2)).toBe(-1);
    expect(readId(TOO_BIG, 0, TOO_BIG.length)).toBe(-1);
    expect(readId('1a', 0, 2)).toBe(-1);
  });

  it('accepts exactly MAX_SAFE_INTEGER', () => {
    const text = String(MAX_ID);
    expect(readId(text, 0, text.length)).toBe(MAX_ID);
  });
});

describe('quoteLine', () => {
  it('drops the terminator', () => {
    expect(quoteLine('1|B\r\n')).toBe('1|B');
    expect(quoteLine('1|B\n')).toBe('1|B');
  });

  it('escapes control bytes, non-ASCII bytes and backslashes, so a peer cannot forge log lines', () => {
    expect(quoteLine('x\u001b[2K\rproblem ERR_FAKE: forged\n')).toBe(
      'x\\x1b[2K\\x0dproblem ERR_FAKE: forged',
    );
    expect(quoteLine('\u0000\t\u007f\u009b\u00ff\\')).toBe('\\x00\\x09\\x7f\\x9b\\xff\\x5c');
    expect(quoteLine('a\nb\n')).toBe('a\\x0ab');
    expect(quoteLine('\u2028')).toBe('\\u2028');
  });

  it('shortens before escaping: the quote shows the first MAX_QUOTED_LINE_LENGTH bytes', () => {
    const long = '\u001b'.repeat(MAX_QUOTED_LINE_LENGTH + 1);
    expect(quoteLine(long)).toBe(`${'\\x1b'.repeat(MAX_QUOTED_LINE_LENGTH)}…`);
  });

  it('shortens a long line to MAX_QUOTED_LINE_LENGTH characters and an ellipsis', () => {
    const long = 'x'.repeat(MAX_QUOTED_LINE_LENGTH + 10);
    expect(quoteLine(long)).toBe(`${'x'.repeat(MAX_QUOTED_LINE_LENGTH)}…`);
    expect(quoteLine('x'.repeat(MAX_QUOTED_LINE_LENGTH))).toBe('x'.repeat(MAX_QUOTED_LINE_LENGTH));
  });
});

describe('parseEvent: another delimiter', () => {
  // 0xA7 as the adapter frames it: one latin1 character per input byte.
  const SECTION = '\xa7';

  it.each([';', ',', SECTION, ' ', '\t', 'x'])('splits the fields on %j', (delimiter) => {
    const line = (...fields: string[]): string => `${fields.join(delimiter)}\n`;
    expect(parse(line('666', 'F', '60', '50'), delimiter)).toEqual({
      sequence: 666,
      type: 'F',
      from: 60,
      to: 50,
      line: line('666', 'F', '60', '50'),
      bytes: expect.any(Uint8Array),
      start: 0,
      end: line('666', 'F', '60', '50').length,
    });
    expect(parse(line('1', 'U', '12', '9'), delimiter)).toMatchObject({ type: 'U', to: 9 });
    expect(parse(line('542532', 'B'), delimiter)).toMatchObject({ type: 'B' });
    expect(parse(line('43', 'P', '32', '56'), delimiter)).toMatchObject({ from: 32, to: 56 });
    expect(parse(`634${delimiter}S${delimiter}32\r\n`, delimiter)).toMatchObject({
      type: 'S',
      from: 32,
      line: `634${delimiter}S${delimiter}32\r\n`,
    });
  });

  it('takes `|` as any other byte when the delimiter is another', () => {
    expect(parse('5|B\n', ';')).toMatchObject({ code: ErrorCode.EventBadSequence });
    expect(parse('5;F|1;2\n', ';')).toMatchObject({
      code: ErrorCode.EventBadBody,
      sequence: 5,
    });
    expect(parse('5;P;1|2\n', ';')).toMatchObject({
      code: ErrorCode.EventBadBody,
      sequence: 5,
    });
  });

  it('finds the same defects as with `|`', () => {
    expect(parse('3;F;1;2;3\n', ';')).toMatchObject({ code: ErrorCode.EventBadBody });
    expect(parse('3;;1;2\n', ';')).toMatchObject({ code: ErrorCode.EventBadBody });
    expect(parse('3;S\n', ';')).toMatchObject({ code: ErrorCode.EventBadBody });
    expect(parse(';B\n', ';')).toMatchObject({ code: ErrorCode.EventBadSequence });
  });

  it.each(['F', 'U', 'B', 'P', 'S'])(
    'cannot parse the events of type %s if that letter were the delimiter (why the row refuses it)',
    (letter) => {
      const line =
        letter === 'B' ? `1${letter}${letter}\n` : `1${letter}${letter}${letter}2${letter}3\n`;
      expect(isEvent(parseEvent(line, letter))).toBe(false);
    },
  );
});

describe('the delimiter option row', () => {
  const row = CORE_OPTIONS.delimiter;

  it('defaults to `|`', () => {
    expect(row.default).toBe('|');
  });

  it.each(['|', ';', ',', ' ', '\t', '\xa7', '\xff', '\0', 'x', 'f'])('accepts %j', (value) => {
    expect(checkOptionValue(row, value, 'delimiter')).toBe(value);
  });

  it.each([
    ['a digit', '0'],
    ['a digit', '9'],
    ['CR', '\r'],
    ['LF', '\n'],
    ...['F', 'U', 'B', 'P', 'S'].map((letter) => ['an event type letter', letter]),
    ['empty', ''],
    ['two characters', ';;'],
    ['a character code of 256', '\u0100'],
    ['a character outside latin1', '€'],
    ['not a string', 59],
  ])('refuses %s (%j), saying what it takes', (_, value) => {
    expect(() => checkOptionValue(row, value, 'delimiter')).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOption,
        message: `delimiter must be one character (code below 256), none of "0123456789\\r\\nFUBPS", got ${typeof value === 'string' ? JSON.stringify(value) : value}`,
      }),
    );
  });

  it('takes text untrimmed: a space or a tab is a delimiter', () => {
    expect(parseOptionText(row, ' ', '--delimiter')).toBe(' ');
    expect(parseOptionText(row, '\t', '--delimiter')).toBe('\t');
    expect(() => parseOptionText(row, ' ; ', '--delimiter')).toThrow(/--delimiter must be one/);
    expect(() => parseOptionText(row, '', '--delimiter')).toThrow(/--delimiter is empty/);
  });
});

describe('parseEventBytes', () => {
  it('parses a line where it lies, its range the line as read', () => {
    const bytes = Uint8Array.from([...'xx7|P|1|2\r\nyy'].map((char) => char.charCodeAt(0)));
    const parsed = parseEventBytes(bytes, 2, 11, '|'.charCodeAt(0));
    expect(parsed).toMatchObject({ sequence: 7, type: 'P', from: 1, to: 2, start: 2, end: 11 });
    expect(isEvent(parsed) && parsed.bytes).toBe(bytes);
  });

  it('copies a line without its LF once, with one', () => {
    const bytes = Uint8Array.from([...'8|B'].map((char) => char.charCodeAt(0)));
    const parsed = parseEventBytes(bytes, 0, 3, '|'.charCodeAt(0));
    expect(isEvent(parsed) && lineOf(parsed)).toBe('8|B\n');
    expect(isEvent(parsed) && parsed.bytes).not.toBe(bytes);
  });

  it('quotes only the head of a long bad line', () => {
    const long = Uint8Array.from([...`x${'y'.repeat(10_000)}\n`].map((c) => c.charCodeAt(0)));
    const parsed = parseEventBytes(long, 0, long.length, '|'.charCodeAt(0));
    expect(parsed).toMatchObject({
      code: ErrorCode.EventBadSequence,
      context: { line: `x${'y'.repeat(MAX_QUOTED_LINE_LENGTH - 1)}…` },
    });
  });
});

/** The option machinery on rows of its own: no layer's options, only the rules every row follows. */
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, MazeError } from '../../lib/errors.js';
import {
  acceptsValue,
  checkOptionValue,
  defaultText,
  type OptionRow,
  parseOptionText,
  resolveOptions,
} from '../../lib/options/option.js';
import { closest } from '../../lib/options/suggest.js';

const COUNT = { type: 'integer', min: 1, max: 10, default: 3, describe: 'a count' } as const;
const FLAG = { type: 'boolean', default: false, describe: 'a switch' } as const;
const MODE = { type: 'choice', choices: ['a', 'b'], default: 'a', describe: 'a mode' } as const;
const NAME = { type: 'string', default: undefined, describe: 'a name' } as const;
const SEPARATOR = {
  type: 'char',
  exclude: '0123456789',
  default: ',',
  describe: 'a byte',
} as const;

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(MazeError);
    expect((error as MazeError).code).toBe(ErrorCode.InvalidOption);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

describe('checkOptionValue and acceptsValue: typed values', () => {
  it.each<[OptionRow, unknown]>([
    [COUNT, 1],
    [COUNT, 10],
    [FLAG, true],
    [MODE, 'b'],
    [NAME, 'x'],
    [SEPARATOR, ' '],
    [SEPARATOR, '\u00a7'],
  ])('accepts %j: %j', (row, value) => {
    expect(acceptsValue(row, value)).toBe(true);
    expect(checkOptionValue(row, value, 'it')).toBe(value);
  });

  it.each<[OptionRow, unknown, string]>([
    [COUNT, 0, 'it must be an integer from 1 to 10, got 0'],
    [COUNT, 2.5, 'it must be an integer from 1 to 10, got 2.5'],
    [COUNT, '3', 'it must be an integer from 1 to 10, got "3"'],
    [FLAG, 'yes', 'it must be true or false (also yes/no, on/off, 1/0), got "yes"'],
    [MODE, 'c', 'it must be one of a, b, got "c"'],
    [NAME, ' ', 'it must be a non-empty string, got " "'],
    [SEPARATOR, '7', 'it must be one character (code below 256), none of "0123456789", got "7"'],
    [SEPARATOR, ',,', 'it must be one character (code below 256), none of "0123456789", got ",,"'],
    [
      SEPARATOR,
      '\u0100',
      'it must be one character (code below 256), none of "0123456789", got "Ā"',
    ],
  ])('refuses %j: %j', (row, value, message) => {
    expect(acceptsValue(row, value)).toBe(false);
    expect(refusal(() => checkOptionValue(row, value, 'it'))).toBe(message);
  });
});

describe('parseOptionText: text of a flag or a variable', () => {
  it('reads integers as decimal digits only, booleans by their usual words', () => {
    expect(parseOptionText(COUNT, ' 7 ', '--count')).toBe(7);
    expect(refusal(() => parseOptionText(COUNT, '0x7', '--count'))).toBe(
      '--count must be an integer from 1 to 10, got "0x7"',
    );
    expect(parseOptionText(FLAG, 'On', '--flag')).toBe(true);
    expect(parseOptionText(FLAG, '0', '--flag')).toBe(false);
  });

  it('keeps the text of a character as given, so a space is one; an empty value is refused', () => {
    expect(parseOptionText(SEPARATOR, ' ', '--separator')).toBe(' ');
    expect(refusal(() => parseOptionText(SEPARATOR, '', '--separator'))).toBe(
      '--separator is empty: give one character (code below 256), none of "0123456789", or leave it out for the default (,)',
    );
    expect(refusal(() => parseOptionText(NAME, '  ', 'NAME'))).toBe(
      'NAME is empty: give a non-empty string, or leave it out for the default (none)',
    );
  });
});

describe('resolveOptions and defaultText', () => {
  it('fills in defaults, checks what is given under its name', () => {
    expect(resolveOptions({ count: COUNT, name: NAME }, {})).toEqual({
      count: 3,
      name: undefined,
    });
    expect(refusal(() => resolveOptions({ count: COUNT }, { count: 11 }))).toBe(
      'count must be an integer from 1 to 10, got 11',
    );
    expect(defaultText(NAME)).toBe('none');
    expect(defaultText({ ...COUNT, defaultDescription: 'three' })).toBe('three');
  });
});

describe('closest: did-you-mean', () => {
  it('suggests the nearest name within a small distance, and nothing far off', () => {
    expect(closest('evnt-port', ['event-port', 'client-port'])).toBe('event-port');
    expect(closest('zzzzzz', ['event-port', 'client-port'])).toBeUndefined();
  });
});

/**
 * A client's id line (docs/protocol.md §5, §12): a plain user id, or a user id and the last
 * sequence number to resume after; which part is wrong when neither.
 */
import { describe, expect, it } from '@jest/globals';
import { parseIdLine, parseUserId } from '../../lib/adapter/id-line.js';

describe('parseIdLine', () => {
  it.each([
    ['42\n', { userId: 42, resumeAfter: undefined }],
    ['0\r\n', { userId: 0, resumeAfter: undefined }],
    ['42|0\n', { userId: 42, resumeAfter: 0 }],
    ['007|0099\r\n', { userId: 7, resumeAfter: 99 }],
    ['1|9007199254740991\n', { userId: 1, resumeAfter: Number.MAX_SAFE_INTEGER }],
  ])('reads %j', (line, expected) => {
    expect(parseIdLine(line)).toEqual(expected);
  });

  it.each(['|5\n', 'x|5\n', '-1|5\n', ' 1|5\n', '9007199254740992|1\n', '\n'])(
    'finds the user id of %j wrong',
    (line) => {
      expect(parseIdLine(line)).toEqual({ invalid: 'userId' });
    },
  );

  it.each(['5|\n', '5|x\n', '5|1|2\n', '5|-1\n', '5| 1\n', '5|1 \n', '5|9007199254740992\n'])(
    'finds the resume number of %j wrong',
    (line) => {
      expect(parseIdLine(line)).toEqual({ invalid: 'resumeAfter' });
    },
  );

  it('takes the `|` only: the events’ delimiter plays no part', () => {
    expect(parseIdLine('5;3\n')).toEqual({ invalid: 'userId' });
  });
});

describe('parseUserId', () => {
  it.each([
    ['1\n', 1],
    ['42\r\n', 42],
    ['007\n', 7],
    ['0\n', 0],
    ['000\r\n', 0],
    ['9007199254740991\n', Number.MAX_SAFE_INTEGER],
  ])('accepts %j', (line, id) => {
    expect(parseUserId(line)).toBe(id);
  });

  it.each([
    '-1\n',
    '+1\n',
    ' 1\n',
    '1 \n',
    '1\r\r\n',
    '1|2\n',
    '12|\n',
    'abc\n',
    '1.5\n',
    '0x10\n',
    '9007199254740992\n',
    '99999999999999999999\n',
    '\u00e9\n',
  ])('rejects %j', (line) => {
    expect(parseUserId(line)).toBeUndefined();
  });
});

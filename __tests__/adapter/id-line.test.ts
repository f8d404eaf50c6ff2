/**
 * A client's id line (docs/protocol.md §5, §12): a plain user id, `USERID|-`, or a user id,
 * the last sequence number and the epoch to resume after; which part is wrong when neither.
 */
import { describe, expect, it } from '@jest/globals';
import {
  firstFieldEnd,
  parseIdLine,
  parseResumeRequest,
  splitCredential,
} from '../../lib/adapter/id-line.js';

describe('parseIdLine', () => {
  it.each([
    ['42\n', { userId: 42, resume: undefined }],
    ['0\r\n', { userId: 0, resume: undefined }],
    ['42|-\n', { userId: 42, resume: { lastSequence: undefined } }],
    ['42|-\r\n', { userId: 42, resume: { lastSequence: undefined } }],
    ['42|0|7\n', { userId: 42, resume: { lastSequence: 0, epoch: '7' } }],
    [
      '007|0099|1733600000123456789\r\n',
      { userId: 7, resume: { lastSequence: 99, epoch: '1733600000123456789' } },
    ],
    [
      '1|9007199254740991|a-Z.~!\n',
      { userId: 1, resume: { lastSequence: Number.MAX_SAFE_INTEGER, epoch: 'a-Z.~!' } },
    ],
    ['1|2|-\n', { userId: 1, resume: { lastSequence: 2, epoch: '-' } }],
    [`1|2|${'x'.repeat(24)}\n`, { userId: 1, resume: { lastSequence: 2, epoch: 'x'.repeat(24) } }],
  ])('reads %j', (line, expected) => {
    expect(parseIdLine(line)).toEqual(expected);
  });

  it.each(['|5\n', 'x|5\n', '-1|5\n', ' 1|5\n', '9007199254740992|1\n', '\n', '-\n', 'x|-\n'])(
    'finds the user id of %j wrong',
    (line) => {
      expect(parseIdLine(line)).toEqual({ invalid: 'userId' });
    },
  );

  it.each([
    ['5|\n', 'expected USERID, USERID|- or USERID|LASTSEQ|EPOCH'],
    ['5|x\n', 'expected USERID, USERID|- or USERID|LASTSEQ|EPOCH'],
    ['5|--\n', 'expected USERID, USERID|- or USERID|LASTSEQ|EPOCH'],
    ['5| -\n', 'expected USERID, USERID|- or USERID|LASTSEQ|EPOCH'],
    ['5|1\n', 'the epoch is missing'],
    ['5|0099\r\n', 'the epoch is missing'],
    ['5|1|2|3\n', 'too many fields'],
    ['5|-|7\n', 'LASTSEQ must be a decimal number'],
    ['5|-1|7\n', 'LASTSEQ must be a decimal number'],
    ['5| 1|7\n', 'LASTSEQ must be a decimal number'],
    ['5|9007199254740992|7\n', 'LASTSEQ must be a decimal number'],
    ['5|1|\n', 'EPOCH must be 1 to 24 printable ASCII characters'],
    ['5|1|a b\n', 'EPOCH must be 1 to 24 printable ASCII characters'],
    ['5|1|\u00e9\n', 'EPOCH must be 1 to 24 printable ASCII characters'],
    ['5|1|7\r\r\n', 'EPOCH must be 1 to 24 printable ASCII characters'],
    [`5|1|${'x'.repeat(25)}\n`, 'EPOCH must be 1 to 24 printable ASCII characters'],
  ])('finds the resume part of %j wrong: %s', (line, reason) => {
    expect(parseIdLine(line)).toEqual({
      invalid: 'resume',
      reason: expect.stringContaining(reason),
    });
  });

  it('takes the `|` only: the events’ delimiter plays no part', () => {
    expect(parseIdLine('5;3\n')).toEqual({ invalid: 'userId' });
    expect(parseIdLine('5|3|7;8\n')).toEqual({
      userId: 5,
      resume: { lastSequence: 3, epoch: '7;8' },
    });
  });
});

describe('firstFieldEnd and parseResumeRequest', () => {
  it('read the first field apart from the resume part, whatever the first field holds', () => {
    const line = 'a.token-of.any.kind|12|99\n';
    const end = line.length - 1;
    const first = firstFieldEnd(line, end);
    expect(line.slice(0, first)).toBe('a.token-of.any.kind');
    expect(parseResumeRequest(line, first, end)).toEqual({
      resume: { lastSequence: 12, epoch: '99' },
    });
    expect(parseResumeRequest('token', 5, 5)).toEqual({ resume: undefined });
    expect(firstFieldEnd('token\n', 5)).toBe(5);
  });
});

describe('parseIdLine: a plain user id', () => {
  it.each([
    ['1\n', 1],
    ['42\r\n', 42],
    ['007\n', 7],
    ['0\n', 0],
    ['000\r\n', 0],
    ['9007199254740991\n', Number.MAX_SAFE_INTEGER],
  ])('accepts %j', (line, id) => {
    expect(parseIdLine(line)).toEqual({ userId: id, resume: undefined });
  });

  it.each([
    '-1\n',
    '+1\n',
    ' 1\n',
    '1 \n',
    '1\r\r\n',
    'abc\n',
    '1.5\n',
    '0x10\n',
    '9007199254740992\n',
    '99999999999999999999\n',
    '\u00e9\n',
  ])('rejects %j as no user id', (line) => {
    expect(parseIdLine(line)).toEqual({ invalid: 'userId' });
  });
});

describe('splitCredential', () => {
  it.each([
    ['tok\n', 'tok', { resume: undefined }],
    ['a.b.c\r\n', 'a.b.c', { resume: undefined }],
    ['tok|-\n', 'tok', { resume: { lastSequence: undefined } }],
    ['tok|5|e1\n', 'tok', { resume: { lastSequence: 5, epoch: 'e1' } }],
    ['tok|5\n', 'tok', { invalid: 'resume', reason: expect.stringContaining('epoch') }],
  ])('splits %j into the credential and the resume part', (line, credential, resume) => {
    expect(splitCredential(line)).toEqual({ credential, resume });
  });
});

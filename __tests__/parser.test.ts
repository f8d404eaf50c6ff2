import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isEvent, parseEvent } from '../lib/core/index.js';

describe('parseEvent', () => {
  it('parses a follow and keeps the line as read', () => {
    expect(parseEvent('666|F|60|50\n')).toEqual({
      sequence: 666,
      type: 'F',
      from: 60,
      to: 50,
      line: '666|F|60|50\n',
    });
  });

  it('reports a line without a sequence number', () => {
    const parsed = parseEvent('abc|B\n');
    expect(isEvent(parsed)).toBe(false);
    expect(parsed).toMatchObject({ code: ErrorCode.EventBadSequence });
  });
});

import { describe, expect, it } from '@jest/globals';
import type { MazeEvent } from '../../lib/core/events.js';
import { parseEvent } from '../../lib/core/parser.js';
import { RECORD_BYTES, ResumeHistory, type ResumeOutcome } from '../../lib/core/resume-history.js';

function event(line: string): MazeEvent {
  const parsed = parseEvent(line);
  if (!('type' in parsed)) throw new Error(`not an event: ${line}`);
  return parsed;
}

const nobodyFollows = (): boolean => false;

/** The outcome with its output as latin1 text, to compare with lines. */
function asText(outcome: ResumeOutcome) {
  return outcome.exact
    ? { ...outcome, output: Buffer.from(outcome.output).toString('latin1') }
    : outcome;
}

/** A history holding `lines`, each recorded as changing the graph when it is a follow/unfollow. */
function historyOf(lines: readonly string[], maxBytes = 1024 * 1024, first = 1): ResumeHistory {
  const history = new ResumeHistory(maxBytes, first);
  for (const line of lines) history.record(event(line), true);
  return history;
}

describe('ResumeHistory', () => {
  it('replays broadcasts, follows of the user and private messages to the user, byte-exact', () => {
    const history = historyOf(['1|B\n', '2|F|7|5\r\n', '3|P|5|7\n', '4|P|7|5\n', '5|F|5|7\n']);
    expect(asText(history.resume(5, 0, 5, nobodyFollows))).toEqual({
      exact: true,
      notifications: 3,
      output: '1|B\n2|F|7|5\r\n4|P|7|5\n',
      scanned: 5,
    });
    expect(asText(history.resume(5, 2, 5, nobodyFollows))).toMatchObject({
      output: '4|P|7|5\n',
      scanned: 3,
    });
    expect(asText(history.resume(5, 5, 5, nobodyFollows))).toMatchObject({
      notifications: 0,
      output: '',
    });
  });

  it('sends status updates of those the user followed at each one’s time', () => {
    // Today user 5 follows 9 (it followed at 2, unfollowed at 4, followed again at 6).
    const history = historyOf([
      '1|S|9\n',
      '2|F|5|9\n',
      '3|S|9\n',
      '4|U|5|9\n',
      '5|S|9\n',
      '6|F|5|9\n',
      '7|S|9\n',
    ]);
    const follows = (follower: number, followee: number) => follower === 5 && followee === 9;
    expect(asText(history.resume(5, 0, 7, follows))).toMatchObject({ output: '3|S|9\n7|S|9\n' });
    expect(asText(history.resume(5, 4, 7, follows))).toMatchObject({ output: '7|S|9\n' });
  });

  it('rolls back only follows and unfollows that changed the graph', () => {
    const history = new ResumeHistory(1024, 1);
    history.record(event('1|F|5|9\n'), true);
    history.record(event('2|F|5|9\n'), false); // already following: no change
    history.record(event('3|S|9\n'), false);
    history.record(event('4|U|5|8\n'), false); // was not following 8
    history.record(event('5|S|8\n'), false);
    const follows = (follower: number, followee: number) => follower === 5 && followee === 9;
    expect(asText(history.resume(5, 0, 5, follows))).toMatchObject({ output: '3|S|9\n' });
  });

  it('keeps latin1 bytes above 127 as they were read', () => {
    const history = new ResumeHistory(1024, 1);
    // Parsed without its high bytes; forwarded with them, as a delimiter above 127 would be.
    const line = Uint8Array.from([...'1|P|2|5\u00e9\u00ff\n'].map((char) => char.charCodeAt(0)));
    const withHighBytes = { ...event('1|P|2|5\n'), bytes: line, start: 0, end: line.length };
    history.record(withHighBytes, false);
    expect(asText(history.resume(5, 0, 1, nobodyFollows))).toMatchObject({
      output: '1|P|2|5\u00e9\u00ff\n',
    });
  });

  it('says "ahead" for a number not applied yet, "trimmed" once the history has lost it', () => {
    const lines = Array.from({ length: 200 }, (_, index) => `${index + 1}|B\n`);
    const history = historyOf(lines, 64 * RECORD_BYTES + 4096);
    expect(asText(history.resume(1, 201, 200, nobodyFollows))).toEqual({
      exact: false,
      reason: 'ahead',
      next: 201,
    });
    const first = history.resumableAfter;
    expect(first).toBeGreaterThan(0);
    expect(asText(history.resume(1, first - 1, 200, nobodyFollows))).toEqual({
      exact: false,
      reason: 'trimmed',
      next: 201,
    });
    expect(asText(history.resume(1, first, 200, nobodyFollows))).toMatchObject({
      exact: true,
      notifications: 200 - first,
    });
    expect(history.size).toBe(200 - first);
  });

  it('stays within its bytes whatever the lines, wrapping and growing its rings', () => {
    for (const maxBytes of [0, 40, 100, 1000, 5000, 70_000]) {
      const history = new ResumeHistory(maxBytes, 1);
      let sequence = 0;
      for (let round = 0; round < 2000; round++) {
        sequence++;
        const padding = '0'.repeat((round * 7919) % 300);
        history.record(event(`${sequence}|P|${padding}1|2\n`), false);
        expect(history.bytes).toBeLessThanOrEqual(maxBytes);
      }
      const outcome = asText(history.resume(2, history.resumableAfter, sequence, nobodyFollows));
      expect(outcome).toMatchObject({ exact: true, notifications: history.size });
      if (outcome.exact) {
        const lines = outcome.output.match(/[^\n]*\n/g) ?? [];
        const numbers = lines.map((line) => Number(line.split('|')[0]));
        const held = Array.from(
          { length: history.size },
          (_, i) => sequence - history.size + 1 + i,
        );
        expect(numbers).toEqual(held);
        for (const [i, line] of lines.entries()) {
          expect(line).toBe(
            `${held[i]}|P|${'0'.repeat((((held[i] as number) - 1) * 7919) % 300)}1|2\n`,
          );
        }
      }
    }
  });

  it('holds nothing with 0 bytes, and a line longer than it can hold empties it', () => {
    const none = historyOf(['1|B\n', '2|B\n'], 0);
    expect(none.size).toBe(0);
    expect(none.resumableAfter).toBe(2);
    expect(asText(none.resume(1, 2, 2, nobodyFollows))).toMatchObject({
      exact: true,
      notifications: 0,
    });
    expect(asText(none.resume(1, 1, 2, nobodyFollows))).toEqual({
      exact: false,
      reason: 'trimmed',
      next: 3,
    });

    const small = historyOf(['1|B\n', '2|B\n'], 200);
    small.record(event(`3|P|${'0'.repeat(300)}1|2\n`), false);
    expect(small.size).toBe(0);
    expect(small.resumableAfter).toBe(3);
    small.record(event('4|B\n'), false);
    expect(asText(small.resume(1, 3, 4, nobodyFollows))).toMatchObject({ output: '4|B\n' });
  });

  it('shares one budget between long lines and short ones, as they come', () => {
    const budget = 64 * 1024;
    const history = new ResumeHistory(budget, 1);
    let sequence = 0;
    // A burst of long (valid, zero-padded) lines, then ordinary ones: the short ones get the
    // whole budget back once the long ones are evicted.
    for (let i = 0; i < 100; i++) {
      sequence++;
      history.record(event(`${sequence}|P|${'0'.repeat(3000)}1|2\n`), false);
    }
    expect(history.size).toBeLessThan(budget / 3000);
    const short = (n: number) => `${n}|B\n`;
    for (let i = 0; i < 20_000; i++) {
      sequence++;
      history.record(event(short(sequence)), false);
    }
    const perEvent = RECORD_BYTES + short(sequence).length;
    expect(history.size).toBeGreaterThan((0.9 * budget) / perEvent);
    expect(history.bytes).toBeLessThanOrEqual(budget);
    const outcome = asText(history.resume(1, history.resumableAfter, sequence, nobodyFollows));
    expect(outcome).toMatchObject({ exact: true, notifications: history.size });
  });

  it('empties itself for a line longer than its budget, then goes on', () => {
    const history = historyOf(['1|B\n', '2|B\n'], 2000);
    history.record(event(`3|P|${'0'.repeat(2000)}1|2\n`), false);
    expect(history.size).toBe(0);
    expect(history.resumableAfter).toBe(3);
    history.record(event('4|B\n'), false);
    expect(asText(history.resume(2, 3, 4, nobodyFollows))).toMatchObject({ output: '4|B\n' });
    expect(history.bytes).toBeLessThanOrEqual(2000);
  });

  it('restarts at a new position: older numbers are trimmed', () => {
    const history = historyOf(['1|B\n', '2|B\n']);
    history.restart(10);
    expect(history.size).toBe(0);
    expect(asText(history.resume(1, 1, 9, nobodyFollows))).toEqual({
      exact: false,
      reason: 'trimmed',
      next: 10,
    });
    history.record(event('10|B\n'), false);
    expect(asText(history.resume(1, 9, 10, nobodyFollows))).toMatchObject({ output: '10|B\n' });
  });
});

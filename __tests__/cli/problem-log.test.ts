/**
 * ProblemLog with a fake clock: the first problems of each code per interval are shown, the
 * rest counted into one summary line per code when the interval ends.
 */
import { describe, expect, it } from '@jest/globals';
import {
  PROBLEM_LOG_INTERVAL_MS,
  PROBLEMS_SHOWN_PER_CODE,
  ProblemLog,
} from '../../lib/cli/problem-log.js';

function fakeClock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('ProblemLog', () => {
  it('shows the first problems of each code, then counts the rest into a summary', () => {
    const clock = fakeClock();
    const log = new ProblemLog(clock.now);
    const shown = Array.from(
      { length: 12_345 + PROBLEMS_SHOWN_PER_CODE },
      () => log.offer('ERR_EVENT_STALE').show,
    );
    expect(shown.filter(Boolean)).toHaveLength(PROBLEMS_SHOWN_PER_CODE);
    expect(shown.slice(0, PROBLEMS_SHOWN_PER_CODE).every(Boolean)).toBe(true);
    // Another code has its own allowance.
    expect(log.offer('ERR_EVENT_BAD_BODY').show).toBe(true);

    clock.advance(PROBLEM_LOG_INTERVAL_MS - 1);
    expect(log.flush()).toEqual([]);
    clock.advance(1);
    expect(log.flush()).toEqual(['problem ERR_EVENT_STALE x12345 in the last 10 s (not shown)']);
    expect(log.endsAt).toBeUndefined();
    expect(log.flush()).toEqual([]);
  });

  it('opens a new interval with the next problem, giving the summary of the last one first', () => {
    const clock = fakeClock();
    const log = new ProblemLog(clock.now, 1_000, 2);
    for (let i = 0; i < 5; i++) log.offer('ERR_A');
    expect(log.endsAt).toBe(2_000);
    clock.advance(60_000);
    const decision = log.offer('ERR_A');
    expect(decision).toEqual({
      show: true,
      summaries: ['problem ERR_A x3 in the last 1 s (not shown)'],
    });
    expect(log.endsAt).toBe(62_000);
  });

  it('drains at shutdown with the time actually elapsed, and says nothing when nothing was hidden', () => {
    const clock = fakeClock();
    const log = new ProblemLog(clock.now, 10_000, 1);
    log.offer('ERR_A');
    log.offer('ERR_B');
    log.offer('ERR_B');
    clock.advance(2_500);
    expect(log.drain()).toEqual(['problem ERR_B x1 in the last 2.5 s (not shown)']);
    expect(log.drain()).toEqual([]);
    log.offer('ERR_A');
    expect(log.drain()).toEqual([]);
  });
});

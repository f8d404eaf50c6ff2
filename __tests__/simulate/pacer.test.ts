import { describe, expect, it } from '@jest/globals';
import { PACE_BURST_MS, TokenBucket } from '../../lib/simulate/pacer.js';

describe('TokenBucket', () => {
  it('starts full: PACE_BURST_MS worth of tokens, at least 1', () => {
    expect(new TokenBucket(100_000, 0).balance(0)).toBe((100_000 * PACE_BURST_MS) / 1000);
    expect(new TokenBucket(10, 0).balance(0)).toBe(1);
  });

  it('accrues rate tokens per second on the given clock, up to its capacity', () => {
    const bucket = new TokenBucket(1_000, 0, 10);
    bucket.take(10);
    expect(bucket.balance(0)).toBe(0);
    expect(bucket.balance(3)).toBeCloseTo(3);
    expect(bucket.balance(2)).toBeCloseTo(3); // A clock that goes back changes nothing.
    expect(bucket.balance(1_000)).toBe(10);
  });

  it('lets a batch run into debt and says how long the debt takes to pay', () => {
    const bucket = new TokenBucket(1_000, 0, 1);
    expect(bucket.waitMs(0)).toBe(0);
    bucket.take(50);
    expect(bucket.balance(0)).toBe(-49);
    expect(bucket.waitMs(0)).toBeCloseTo(50);
    expect(bucket.waitMs(25)).toBeCloseTo(25);
    expect(bucket.waitMs(50)).toBe(0);
  });

  it('never sends faster than its rate on average, whatever the batch sizes', () => {
    // A fake loop: send batches of 1..100 while the balance allows, wake when told to.
    const rate = 20_000;
    const bucket = new TokenBucket(rate, 0);
    let now = 0;
    let sent = 0;
    let size = 1;
    while (now < 10_000) {
      const wait = bucket.waitMs(now);
      if (wait > 0) {
        now += Math.max(1, wait); // Timers fire no sooner than 1 ms.
        continue;
      }
      while (bucket.balance(now) >= 1) {
        bucket.take(size);
        sent += size;
        size = ((size * 37) % 100) + 1;
      }
      expect(sent).toBeLessThanOrEqual(bucket.capacity + (rate * now) / 1000 + 100);
    }
    expect(sent / (now / 1000)).toBeGreaterThan(rate * 0.99);
    expect(sent / (now / 1000)).toBeLessThan(rate * 1.01);
  });

  it('drops tokens above its capacity: a late timer is not made up with a burst', () => {
    const bucket = new TokenBucket(1_000, 0, 4);
    bucket.take(4);
    expect(bucket.balance(100)).toBe(4);
  });
});

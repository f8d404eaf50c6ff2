/** `ExpiryQueue`: deadlines behind one timer, replaced, dropped, and compacted. */

import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ExpiryQueue } from '../../lib/adapter/expiry-queue.js';

beforeEach(() => {
  jest.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  jest.useRealTimers();
});

describe('ExpiryQueue', () => {
  it('calls back each item once at its deadline, in deadline order', () => {
    const expired: string[] = [];
    const queue = new ExpiryQueue<string>((item) => expired.push(item));
    const now = Date.now();
    queue.set('b', now + 200);
    queue.set('a', now + 100);
    queue.set('c', now + 150);
    jest.advanceTimersByTime(99);
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(expired).toEqual(['a']);
    jest.advanceTimersByTime(100);
    expect(expired).toEqual(['a', 'c', 'b']);
    expect(queue.size).toBe(0);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('replaces a deadline (earlier or later) and drops a deleted one', () => {
    const expired: string[] = [];
    const queue = new ExpiryQueue<string>((item) => expired.push(item));
    const now = Date.now();
    queue.set('later', now + 100);
    queue.set('later', now + 1_000);
    queue.set('sooner', now + 500);
    queue.set('sooner', now + 50);
    queue.set('gone', now + 10);
    queue.delete('gone');
    jest.advanceTimersByTime(999);
    expect(expired).toEqual(['sooner']);
    jest.advanceTimersByTime(1);
    expect(expired).toEqual(['sooner', 'later']);
  });

  it('keeps one timer however many items, and stale entries bounded by compaction', () => {
    const queue = new ExpiryQueue<number>(() => {});
    const now = Date.now();
    for (let item = 0; item < 1_000; item++) queue.set(item, now + 10_000 + item);
    for (let round = 1; round <= 10; round++) {
      for (let item = 0; item < 1_000; item++) queue.set(item, now + 10_000 + round * 1_000 + item);
    }
    expect(jest.getTimerCount()).toBe(1);
    expect(queue.size).toBe(1_000);
    // 11,000 entries without compaction; at most twice the live ones plus 64 with it.
    expect(queue.entries).toBeGreaterThan(1_000);
    expect(queue.entries).toBeLessThanOrEqual(2 * 1_000 + 64);
    queue.close();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('bounds the entries of deleted deadlines too, and still fires the live ones', () => {
    const expired: number[] = [];
    const queue = new ExpiryQueue<number>((item) => expired.push(item));
    const now = Date.now();
    for (let item = 0; item < 1_000; item++) queue.set(item, now + 10_000 + item);
    // Clients closing before their credential expires: only 10 deadlines stay live.
    for (let item = 10; item < 1_000; item++) queue.delete(item);
    expect(queue.size).toBe(10);
    // 1,000 entries without compaction on delete.
    expect(queue.entries).toBeLessThanOrEqual(2 * 10 + 64);
    jest.advanceTimersByTime(11_000);
    expect(expired).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('lets an expired item be set again from its callback', () => {
    const expired: number[] = [];
    const queue = new ExpiryQueue<string>((item) => {
      expired.push(Date.now());
      if (expired.length < 3) queue.set(item, Date.now() + 100);
    });
    const start = Date.now();
    queue.set('x', start + 100);
    jest.advanceTimersByTime(1_000);
    expect(expired).toEqual([start + 100, start + 200, start + 300]);
  });

  it('rebuilds nothing when an item without a deadline is deleted', () => {
    const queue = new ExpiryQueue<string>(() => {});
    const close = jest.spyOn(queue, 'close');
    queue.delete('never-set');
    expect(close).not.toHaveBeenCalled();
    queue.set('a', Date.now() + 100);
    queue.delete('b');
    expect(close).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(1);
    queue.delete('a');
    expect(close).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });
});

/**
 * `CachedBody` on a clock the test moves: one computation per period however many ask,
 * shared while it runs, computed again once the period is over, and a failure not kept.
 */
import { describe, expect, it } from '@jest/globals';
import { CachedBody } from '../../lib/monitor/cached-body.js';

function counted(maxAgeMs: number): { body: CachedBody; calls: () => number; at: { now: number } } {
  const at = { now: 0 };
  let calls = 0;
  const body = new CachedBody(
    () => {
      calls++;
      return `body ${calls}`;
    },
    maxAgeMs,
    () => at.now,
  );
  return { body, calls: () => calls, at };
}

describe('CachedBody', () => {
  it('computes once per period, however many ask', async () => {
    const { body, calls, at } = counted(1_000);
    expect(await Promise.all([body.get(), body.get(), body.get()])).toEqual([
      'body 1',
      'body 1',
      'body 1',
    ]);
    at.now = 999;
    expect(await body.get()).toBe('body 1');
    expect(calls()).toBe(1);
    at.now = 1_000;
    expect(await body.get()).toBe('body 2');
    expect(await body.get()).toBe('body 2');
    expect(calls()).toBe(2);
  });

  it('shares a computation that is still running', async () => {
    let calls = 0;
    let finish: (text: string) => void = () => undefined;
    const body = new CachedBody(
      () => {
        calls++;
        return new Promise<string>((resolve) => {
          finish = resolve;
        });
      },
      1_000,
      () => 0,
    );
    const first = body.get();
    const second = body.get();
    finish('slow body');
    expect(await Promise.all([first, second])).toEqual(['slow body', 'slow body']);
    expect(calls).toBe(1);
  });

  it('does not keep a failure: the next request computes again', async () => {
    let broken = true;
    const body = new CachedBody(
      () => {
        if (broken) throw new Error('source broke');
        return 'fine';
      },
      1_000,
      () => 0,
    );
    await expect(body.get()).rejects.toThrow('source broke');
    broken = false;
    expect(await body.get()).toBe('fine');
  });
});

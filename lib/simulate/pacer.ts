/**
 * Pacing of `simulate --rate N`: a token bucket on a caller-given clock (ms), pure so it can
 * be tested with a fake one.
 *
 * Invariants:
 * - Tokens accrue at `rate` per second up to `capacity`; the stream may send while it holds
 *   at least one token, and a batch takes its whole size, so the balance may go negative
 *   (a debt paid by waiting). Batches therefore keep their random sizes (and a seed its
 *   stream) while the long-run rate never exceeds `rate`: over any span of T ms at most
 *   capacity + rate x T / 1000 + one batch are sent.
 * - When the stream cannot keep up (the server reads slowly, or timers fire late), tokens
 *   above `capacity` are lost: the simulator never catches up with a burst, and the rate it
 *   achieved is reported instead.
 */

/** Milliseconds of tokens the bucket holds at most: absorbs timers that fire a little late. */
export const PACE_BURST_MS = 4;

export class TokenBucket {
  #tokens: number;
  #last: number;

  /**
   * @param rate tokens (events) per second, at least 1
   * @param capacity most tokens held; defaults to PACE_BURST_MS worth, at least 1
   * @param now the clock, in ms
   */
  constructor(
    readonly rate: number,
    now: number,
    readonly capacity: number = Math.max(1, (rate * PACE_BURST_MS) / 1000),
  ) {
    this.#tokens = capacity;
    this.#last = now;
  }

  /** The balance at `now`: at least 1 means the stream may send. */
  balance(now: number): number {
    if (now > this.#last) {
      this.#tokens = Math.min(
        this.capacity,
        this.#tokens + ((now - this.#last) * this.rate) / 1000,
      );
      this.#last = now;
    }
    return this.#tokens;
  }

  /** Spends `count` tokens (events sent); the balance may go negative. */
  take(count: number): void {
    this.#tokens -= count;
  }

  /** Milliseconds from `now` until the balance is at least 1 again; 0 if it is. */
  waitMs(now: number): number {
    const balance = this.balance(now);
    return balance >= 1 ? 0 : ((1 - balance) * 1000) / this.rate;
  }
}

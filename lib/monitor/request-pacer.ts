/**
 * The monitor's budget of work, all connections together: a token bucket of `ratePerSecond`
 * requests (at most `burst` at once). A request over the budget waits for its turn instead
 * of being answered at once, so scrapers that ask without pause (keep-alive clients hammering
 * `/metrics`) get answers at the budget's rate and the server they watch keeps its event loop.
 *
 * Invariants:
 * - Turns are first come, first served, except that urgent ones (`/healthz`) go first: a
 *   liveness probe waits for at most one request's share of the budget, whatever else is
 *   queued.
 * - A costly request (a large `/clients` page) takes more of the budget (at most `burst`)
 *   and waits until the bucket holds that much; urgent turns pass it meanwhile.
 * - What waits is bounded by the callers (per connection and in total); a turn whose
 *   connection is gone (`wanted()` false) is dropped without spending the budget.
 * - One timer at most, and none once `close()` ran.
 */

/** One request waiting for its turn. */
export interface Turn {
  /** Budget it takes: 1 for an ordinary request. */
  readonly cost: number;
  /** Goes before every turn that is not urgent. */
  readonly urgent: boolean;
  /** False once it needs no answer (its connection closed): dropped, free. */
  wanted(): boolean;
  /** Its turn came. */
  run(): void;
}

export class RequestPacer {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  readonly #urgent: Turn[] = [];
  readonly #ordinary: Turn[] = [];
  #tokens: number;
  #refilledAt: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(ratePerSecond: number, burst: number, now: () => number) {
    this.#ratePerMs = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#refilledAt = now();
  }

  /** Runs `turn` now if the budget allows, else once it does (in order). */
  schedule(turn: Turn): void {
    if (this.#closed) return;
    (turn.urgent ? this.#urgent : this.#ordinary).push(turn);
    this.#runTurns();
  }

  /** Turns waiting for the budget. */
  get waiting(): number {
    return this.#urgent.length + this.#ordinary.length;
  }

  /** Drops every waiting turn and the timer. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#urgent.length = 0;
    this.#ordinary.length = 0;
  }

  #runTurns(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#refill();
    for (;;) {
      const queue = this.#urgent.length > 0 ? this.#urgent : this.#ordinary;
      const turn = queue[0];
      if (turn === undefined) return;
      if (!turn.wanted()) {
        queue.shift();
        continue;
      }
      const cost = Math.min(turn.cost, this.#burst);
      if (this.#tokens < cost) {
        this.#timer = setTimeout(
          () => this.#runTurns(),
          Math.ceil((cost - this.#tokens) / this.#ratePerMs),
        );
        // A waiting scraper must not keep the process alive.
        this.#timer.unref();
        return;
      }
      queue.shift();
      this.#tokens -= cost;
      turn.run();
    }
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) * this.#ratePerMs);
    this.#refilledAt = now;
  }
}

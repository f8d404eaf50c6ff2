/**
 * The monitor's budget of work, all connections together: a token bucket of `ratePerSecond`
 * requests (at most `burst` at once). A request over the budget waits for its turn instead
 * of being answered at once, so scrapers that ask without pause (keep-alive clients hammering
 * `/metrics`) get answers at the budget's rate and the server they watch keeps its event loop.
 *
 * Invariants:
 * - Connections take turns (round-robin), each one's turns first come, first served, so a
 *   peer that keeps many turns waiting delays another by one of its turns, not all; urgent
 *   ones (`/healthz`) go first: a liveness probe waits for at most one request's share of
 *   the budget, whatever else is queued.
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
  /** The connection it came on: connections take turns. */
  readonly from: unknown;
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
  /** Turns that are not urgent, by connection, the next to take its turn first. */
  readonly #ordinary = new Map<unknown, Turn[]>();
  #ordinaryWaiting = 0;
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
    if (turn.urgent) this.#urgent.push(turn);
    else {
      const queue = this.#ordinary.get(turn.from);
      if (queue === undefined) this.#ordinary.set(turn.from, [turn]);
      else queue.push(turn);
      this.#ordinaryWaiting++;
    }
    this.#runTurns();
  }

  /** Turns waiting for the budget. */
  get waiting(): number {
    return this.#urgent.length + this.#ordinaryWaiting;
  }

  /** Drops every waiting turn and the timer. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#urgent.length = 0;
    this.#ordinary.clear();
    this.#ordinaryWaiting = 0;
  }

  #runTurns(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#refill();
    for (;;) {
      const turn = this.#urgent[0] ?? this.#ordinary.values().next().value?.[0];
      if (turn === undefined) return;
      if (!turn.wanted()) {
        this.#take(turn);
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
      this.#take(turn);
      this.#tokens -= cost;
      turn.run();
    }
  }

  /** Removes `turn`, the next one: a connection's next turn waits behind the others'. */
  #take(turn: Turn): void {
    if (this.#urgent[0] === turn) {
      this.#urgent.shift();
      return;
    }
    const queue = this.#ordinary.get(turn.from);
    this.#ordinary.delete(turn.from);
    this.#ordinaryWaiting--;
    queue?.shift();
    if (queue !== undefined && queue.length > 0) this.#ordinary.set(turn.from, queue);
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilledAt) * this.#ratePerMs);
    this.#refilledAt = now;
  }
}

/**
 * Rate limiting and aggregation of problem log lines (docs/protocol.md §9: "problem logging is
 * rate-limited and aggregated per code"). Pure: it is given the time (`now()`), it owns no
 * timer and writes nothing; `serve.ts` prints what it returns and sets the timer.
 *
 * Invariants:
 * - Problems are counted in intervals of `intervalMs`. The first one opens an interval; an
 *   interval ends `intervalMs` later, and the next problem after that opens a new one.
 * - In an interval, the first `perCode` problems of each code are shown; the others are
 *   only counted. When the interval ends (`flush()` at or after its end, on the next
 *   problem, or `drain()` at shutdown), each code with hidden problems gives one summary
 *   line: `problem ERR_EVENT_STALE x12345 in the last 10 s (not shown)`.
 * - Memory is one counter per code seen in the interval, whatever the flood.
 */

/** Length of a counting interval, in ms. */
export const PROBLEM_LOG_INTERVAL_MS = 10_000;
/** Problems shown per code and interval; the rest are counted in a summary line. */
export const PROBLEMS_SHOWN_PER_CODE = 10;

/** What `offer()` decided: whether to show the problem, and summaries of an ended interval. */
export interface ProblemDecision {
  readonly show: boolean;
  /** Summary lines of the interval that ended before this problem (printed before it). */
  readonly summaries: readonly string[];
}

/** See the module header. */
export class ProblemLog {
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #perCode: number;
  /** Start of the open interval, or undefined when none is open. */
  #openedAt: number | undefined;
  // Per code in the open interval: problems seen (shown or not).
  readonly #seen = new Map<string, number>();

  constructor(
    now: () => number,
    intervalMs: number = PROBLEM_LOG_INTERVAL_MS,
    perCode: number = PROBLEMS_SHOWN_PER_CODE,
  ) {
    this.#now = now;
    this.#intervalMs = intervalMs;
    this.#perCode = perCode;
  }

  /** When the open interval ends (for a timer), or undefined when none is open. */
  get endsAt(): number | undefined {
    return this.#openedAt === undefined ? undefined : this.#openedAt + this.#intervalMs;
  }

  /** Counts a problem with `code` and says whether to show it. */
  offer(code: string): ProblemDecision {
    const summaries = this.flush();
    if (this.#openedAt === undefined) this.#openedAt = this.#now();
    const seen = (this.#seen.get(code) ?? 0) + 1;
    this.#seen.set(code, seen);
    return { show: seen <= this.#perCode, summaries };
  }

  /** Ends the open interval if its time is up; returns its summary lines. */
  flush(): string[] {
    const endsAt = this.endsAt;
    if (endsAt === undefined || this.#now() < endsAt) return [];
    return this.drain();
  }

  /** Ends the open interval now (at shutdown); returns its summary lines. */
  drain(): string[] {
    if (this.#openedAt === undefined) return [];
    const elapsedMs = Math.min(this.#intervalMs, Math.max(0, this.#now() - this.#openedAt));
    const summaries: string[] = [];
    for (const [code, seen] of this.#seen) {
      const hidden = seen - this.#perCode;
      if (hidden > 0) {
        summaries.push(
          `problem ${code} x${hidden} in the last ${formatSeconds(elapsedMs)} (not shown)`,
        );
      }
    }
    this.#seen.clear();
    this.#openedAt = undefined;
    return summaries;
  }
}

// `10 s`, `2.5 s`: whole seconds without decimals.
function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

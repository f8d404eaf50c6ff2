/**
 * A response body computed at most once per `maxAgeMs` (`/metrics`, `/stats`): however many
 * scrapers ask, the watched server pays for one computation per period.
 *
 * Invariants:
 * - Requests while a computation runs share it; a body is served until it is `maxAgeMs`
 *   old (measured from the start of its computation), then the next request computes anew.
 * - A failed computation is not cached: its requests fail, the next one tries again.
 */
export class CachedBody {
  readonly #compute: () => string | Promise<string>;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  #body: Promise<string> | undefined;
  #computedAt = 0;

  constructor(compute: () => string | Promise<string>, maxAgeMs: number, now: () => number) {
    this.#compute = compute;
    this.#maxAgeMs = maxAgeMs;
    this.#now = now;
  }

  /** The cached body, or a fresh one once it is `maxAgeMs` old. */
  get(): Promise<string> {
    const now = this.#now();
    if (this.#body === undefined || now - this.#computedAt >= this.#maxAgeMs) {
      this.#computedAt = now;
      const body = (async () => this.#compute())();
      this.#body = body;
      body.catch(() => {
        if (this.#body === body) this.#body = undefined;
      });
    }
    return this.#body;
  }
}

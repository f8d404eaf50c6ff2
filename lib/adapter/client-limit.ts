/**
 * The client connection limit (docs/protocol.md §5, 9): whether one more client may attach, and the
 * report of the ones refused, rate-limited so a connection flood cannot flood the log too.
 *
 * Invariants:
 * - `admits(attached)` holds exactly while `attached < max`; O(1).
 * - Every refusal is counted in `refused` at once.
 * - Reports: a refusal when none was reported within the last `interval` ms is reported at
 *   once; later ones are gathered and reported together, with their count, as soon as
 *   `interval` has passed since the previous report (one unref'd timer, never more than one).
 *   So there is at most one report per interval and every refusal is in exactly one report.
 * - `close()` reports what is still gathered and stops the timer; nothing fires after it.
 */
import { ErrorCode, type Problem } from '../errors.js';

/**
 * Refused client connections are reported at most once per this period (docs/protocol.md §9): the first
 * at once, later ones together with their count; `stats().clientsRefused` counts them all.
 */
export const CLIENT_LIMIT_REPORT_INTERVAL_MS = 1_000;

export class ClientLimit {
  /** Client connections that may be attached at once. */
  readonly max: number;
  readonly #report: (problem: Problem) => void;
  readonly #interval: number;
  #refused = 0;
  /** Refusals not reported yet, and the name of the latest of them. */
  #unreported = 0;
  #latest = '';
  #lastReportAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    max: number,
    report: (problem: Problem) => void,
    interval: number = CLIENT_LIMIT_REPORT_INTERVAL_MS,
  ) {
    this.max = max;
    this.#report = report;
    this.#interval = interval;
  }

  /** Client connections refused so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Whether one more client may attach while `attached` are. */
  admits(attached: number): boolean {
    return attached < this.max;
  }

  /** Counts the refusal of `connection` (already closed by the caller) and reports it in time. */
  refuse(connection: string): void {
    this.#refused++;
    this.#unreported++;
    this.#latest = connection;
    if (this.#timer !== undefined) return;
    const wait = this.#lastReportAt + this.#interval - performance.now();
    if (wait <= 0) {
      this.#flush();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
    this.#timer.unref();
  }

  /** Reports the refusals not reported yet, and stops the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#unreported > 0) this.#flush();
  }

  #flush(): void {
    const count = this.#unreported;
    this.#unreported = 0;
    this.#lastReportAt = performance.now();
    const refused =
      count === 1 ? 'client connection refused' : `${count} client connections refused`;
    const attached = this.max === 1 ? '1 client' : `${this.max} clients`;
    this.#report({
      code: ErrorCode.ClientLimit,
      message: `${refused}: already ${attached} attached (maxClients); closed`,
      context: { connection: this.#latest },
    });
  }
}

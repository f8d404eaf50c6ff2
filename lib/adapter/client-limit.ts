/**
 * The client connection limit (docs/protocol.md §5, 9): whether one more client may attach, and the
 * reports of the ones refused and of the half-closed ones closed to make room, rate-limited so a
 * connection flood cannot flood the log too.
 *
 * Invariants:
 * - `admits(attached)` holds exactly while `attached < max`; O(1).
 * - Every refusal is counted in `refused`, every eviction in `evicted`, at once.
 * - Reports, for refusals and evictions apart: one when none of its kind was reported within
 *   the last `interval` ms goes out at once; later ones are gathered and reported together,
 *   with their count, as soon as `interval` has passed since the previous report (one unref'd
 *   timer per kind, never more). So there is at most one report of each kind per interval and
 *   every refusal or eviction is in exactly one report.
 * - `close()` reports what is still gathered and stops the timers; nothing fires after it.
 */
import { ErrorCode, type Problem } from '../errors.js';

/**
 * Refused client connections, and evicted ones, are reported at most once per this period each
 * (docs/protocol.md §9): the first at once, later ones together with their count;
 * `stats().clientsRefused` and `stats().clientsEvicted` count them all.
 */
export const CLIENT_LIMIT_REPORT_INTERVAL_MS = 1_000;

export class ClientLimit {
  /** Client connections that may be attached at once. */
  readonly max: number;
  readonly #refusals: GatheredReport;
  readonly #evictions: GatheredReport;

  constructor(
    max: number,
    report: (problem: Problem) => void,
    interval: number = CLIENT_LIMIT_REPORT_INTERVAL_MS,
  ) {
    this.max = max;
    const attached = max === 1 ? '1 client' : `${max} clients`;
    this.#refusals = new GatheredReport(interval, (count, latest) =>
      report({
        code: ErrorCode.ClientLimit,
        message: `${count === 1 ? 'client connection refused' : `${count} client connections refused`}: already ${attached} attached (maxClients); closed`,
        context: { connection: latest },
      }),
    );
    this.#evictions = new GatheredReport(interval, (count, latest) =>
      report({
        code: ErrorCode.ClientEvicted,
        message: `${count === 1 ? 'half-closed client with nothing queued' : `${count} half-closed clients with nothing queued`} closed to make room for new connections: ${attached} attached (maxClients)`,
        context: { connection: latest },
      }),
    );
  }

  /** Client connections refused so far. */
  get refused(): number {
    return this.#refusals.count;
  }

  /** Half-closed clients closed so far to make room for a new connection. */
  get evicted(): number {
    return this.#evictions.count;
  }

  /** Whether one more client may attach while `attached` are. */
  admits(attached: number): boolean {
    return attached < this.max;
  }

  /** Counts the refusal of `connection` (already closed by the caller) and reports it in time. */
  refuse(connection: string): void {
    this.#refusals.add(connection);
  }

  /** Counts the eviction of `connection` (closed by the caller) and reports it in time. */
  evict(connection: string): void {
    this.#evictions.add(connection);
  }

  /** Reports what is not reported yet, and stops the timers. */
  close(): void {
    this.#refusals.close();
    this.#evictions.close();
  }
}

/** One kind of occurrence, counted at once and reported at most once per interval (see the header). */
export class GatheredReport {
  readonly #interval: number;
  readonly #report: (count: number, latest: string) => void;
  #count = 0;
  /** Occurrences not reported yet, and the connection of the latest of them. */
  #unreported = 0;
  #latest = '';
  #lastReportAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;

  constructor(interval: number, report: (count: number, latest: string) => void) {
    this.#interval = interval;
    this.#report = report;
  }

  get count(): number {
    return this.#count;
  }

  add(connection: string): void {
    this.#count++;
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

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#unreported > 0) this.#flush();
  }

  #flush(): void {
    const count = this.#unreported;
    this.#unreported = 0;
    this.#lastReportAt = performance.now();
    this.#report(count, this.#latest);
  }
}

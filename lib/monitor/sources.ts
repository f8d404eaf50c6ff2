/**
 * What a front end (`serve` now; `ingest` and `gateway` later) plugs into the HTTP monitor:
 * its own health, its counters with the metric each one is exported as, and optionally its
 * clients. The monitor knows nothing else about the server it watches.
 *
 * Invariants:
 * - Every source function is cheap and synchronous: it runs while the server waits.
 * - `stats()` returns plain numbers and booleans; a stat is exported to `/metrics` only
 *   under the metric `statMetrics` names for it (`/stats` shows every one).
 * - Metric names follow Prometheus conventions: `follower_maze_` first, snake_case, a
 *   counter ends in `_total`, a gauge does not.
 */
import type { ClientPage, ResumeReport } from '../adapter/maze.js';
import type { Problem } from '../errors.js';

/** Prefix of every follower-maze metric, process metrics included. */
export const METRIC_PREFIX = 'follower_maze_';

/** Whether the watched server can do its work right now (`/healthz`). */
export interface Health {
  /** Ready: 200. Not ready: 503 with `reason`. */
  readonly ready: boolean;
  /** Why it is not ready, for a human reading the probe's output. */
  readonly reason?: string;
}

/** How one stat is exported: a counter (only ever grows) or a gauge (a level), and its name. */
export interface StatMetric {
  readonly kind: 'counter' | 'gauge';
  /** The full Prometheus name, e.g. `follower_maze_events_received_total`. */
  readonly name: string;
  /** The `# HELP` text. */
  readonly help: string;
}

/** Which page of clients `/clients` asks for. */
export interface ClientPageRequest {
  readonly offset: number;
  readonly limit: number;
}

/** What a front end gives `startMonitor()`. */
export interface MonitorSources {
  /** Readiness (`/healthz`). */
  health(): Health;
  /** The counters (`/stats`, and `/metrics` through `statMetrics`). */
  stats(): Readonly<Record<string, number | boolean>>;
  /** The metric each stat is exported as, by stat name. */
  readonly statMetrics: Readonly<Record<string, StatMetric>>;
  /** One page of the clients (`/clients`); without it `/clients` is 404. */
  clients?(page: ClientPageRequest): ClientPage;
  /**
   * Subscribes to client resumes, for the histogram of notifications replayed per resume;
   * returns the unsubscribe. Without it the histogram is not exported.
   */
  watchResumes?(listener: (report: ResumeReport) => void): () => void;
  /** Where the monitor reports its own failures (`ERR_MONITOR`); dropped without it. */
  report?(problem: Problem): void;
}

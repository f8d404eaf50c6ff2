/**
 * The monitor sources of `serve`: a running `listen()` server's health, stats and clients.
 *
 * Invariants:
 * - `MAZE_STAT_METRICS` names a metric for every key of `MazeStats` (the type makes a stat
 *   added later a compile error until it is classified), each name used once.
 * - Ready means both ports are bound and the maze is not closing: a `MazeServer` exists only
 *   once `listen()` has bound both, and its `close()` closes the maze before anything else,
 *   so `maze.closed` turns `/healthz` to 503 as soon as shutdown starts.
 */
import type { MazeStats } from '../adapter/maze.js';
import type { MazeServer } from '../net/listen.js';
import type { MonitorSources, StatMetric } from './sources.js';
import {
  ACCEPT_FAILURES_METRIC,
  CORE_STAT_METRICS,
  EVENT_INPUT_STAT_METRICS,
  FAN_OUT_STAT_METRICS,
  PROBLEMS_METRIC,
} from './stat-metrics.js';

/** The metric each `MazeStats` counter is exported as: counters for totals, gauges for levels. */
export const MAZE_STAT_METRICS: { readonly [Stat in keyof MazeStats]: StatMetric } = {
  ...CORE_STAT_METRICS,
  ...FAN_OUT_STAT_METRICS,
  ...EVENT_INPUT_STAT_METRICS,
  problems: PROBLEMS_METRIC,
  acceptFailures: ACCEPT_FAILURES_METRIC,
};

/** The sources for `startMonitor()` of a server started by `listen()`. */
export function serveMonitorSources(server: MazeServer): MonitorSources {
  const maze = server.maze;
  return {
    health: () =>
      maze.closed ? { ready: false, reason: 'the server is shutting down' } : { ready: true },
    stats: () => ({ ...maze.stats() }),
    statMetrics: MAZE_STAT_METRICS,
    clients: (page) => maze.clients(page.offset, page.limit),
    watchResumes: (listener) => {
      maze.on('clientResumed', listener);
      return () => maze.off('clientResumed', listener);
    },
    report: (problem) => maze.report(problem),
  };
}

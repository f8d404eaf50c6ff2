/**
 * The Prometheus side of the monitor (`/metrics`): a private `prom-client` registry with the
 * process metrics (`collectDefaultMetrics`, prefixed `follower_maze_`) and one metric per
 * exported stat of a `MonitorSources`.
 *
 * Invariants:
 * - The registry is this monitor's own, never prom-client's global one: two monitors in one
 *   process (or an embedding program with its own metrics) never clash.
 * - Stats are collected on scrape from one `stats()` snapshot, so all of one exposition agree.
 * - A counter stays a counter in the exposition: prom-client counters only `inc()`, so each
 *   scrape resets it and adds the absolute value.
 * - The process metrics leave a GC observer and an event-loop-delay histogram running after
 *   `clear()` (prom-client cannot stop them): a monitor is meant to live as long as its
 *   server, one or a few per process.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC_PREFIX, type MonitorSources } from './sources.js';

/** Buckets of the notifications replayed per resume: from nothing missed to a whole history. */
const RESUME_BUCKETS = [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

/** A registry ready to scrape: `expose()` renders it in the Prometheus text format. */
export interface MonitorMetrics {
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  /** Takes one stats snapshot and renders every metric. */
  expose(): Promise<string>;
  /** Drops every metric from the registry. */
  clear(): void;
}

/** Builds the registry for `sources`. */
export function createMonitorMetrics(sources: MonitorSources): MonitorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  let snapshot: Readonly<Record<string, number | boolean>> = {};
  const statValue = (stat: string): number => Number(snapshot[stat] ?? 0);

  for (const [stat, metric] of Object.entries(sources.statMetrics)) {
    if (metric.kind === 'counter') {
      new Counter({
        name: metric.name,
        help: metric.help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(statValue(stat));
        },
      });
    } else {
      new Gauge({
        name: metric.name,
        help: metric.help,
        registers: [registry],
        collect() {
          this.set(statValue(stat));
        },
      });
    }
  }

  let unwatch: (() => void) | undefined;
  if (sources.watchResumes !== undefined) {
    const replayed = new Histogram({
      name: `${METRIC_PREFIX}resume_replayed_notifications`,
      help: 'Notifications replayed per exact resume.',
      buckets: RESUME_BUCKETS,
      registers: [registry],
    });
    unwatch = sources.watchResumes((report) => {
      if (report.exact) replayed.observe(report.notifications);
    });
  }

  return {
    contentType: registry.contentType,
    expose: () => {
      // Every collect() above runs synchronously inside metrics(), before its first await.
      snapshot = sources.stats();
      return registry.metrics();
    },
    clear: () => {
      unwatch?.();
      registry.clear();
    },
  };
}

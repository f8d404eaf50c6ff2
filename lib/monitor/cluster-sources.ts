/**
 * The monitor sources of cluster mode's commands: an ingest's and a gateway's health and
 * counters, and the gateway's clients.
 *
 * Health: an ingest is ready while it appends (not closing, not stopped, whether by another
 * writer, a log replaced or recorded anew or a refused batch, which the reason names; not
 * recovering from a failed append, its settings' record not refused); a gateway once it has
 * caught up with the log and while it follows it (not waiting to read again after a
 * failure, not waiting long for the writer's record, not stopped, not closing).
 */
import type { Gateway, GatewayStats } from '../cluster/gateway.js';
import type { Ingest, IngestStats } from '../cluster/ingest.js';
import type { SnapshotWriter, SnapshotWriterStats } from '../cluster/snapshot-writer.js';
import type { MonitorSources, StatMetric } from './sources.js';
import {
  ACCEPT_FAILURES_METRIC,
  CORE_STAT_METRICS,
  counter,
  EVENT_INPUT_STAT_METRICS,
  FAN_OUT_STAT_METRICS,
  gauge,
  PROBLEMS_METRIC,
} from './stat-metrics.js';

const SNAPSHOT_WRITER_STAT_METRICS: {
  readonly [Stat in keyof SnapshotWriterStats]: StatMetric;
} = {
  snapshotsSaved: counter('snapshots_saved', 'Snapshots of the follow graph saved.'),
  snapshotFailures: counter('snapshot_failures', 'Snapshot saves that failed.'),
  snapshotPosition: gauge('snapshot_position', 'Log position of the newest snapshot.'),
  snapshotBytes: gauge('snapshot_bytes', 'Bytes of the newest snapshot saved.'),
  snapshotLogPosition: gauge('snapshot_log_position', 'Log position the snapshot writer applied.'),
  snapshotsRefused: gauge(
    'snapshots_refused',
    'Snapshots refused at start, failing their checks (ERR_SNAPSHOT_BAD).',
  ),
  snapshotWriterStopped: gauge(
    'snapshot_writer_stopped',
    '1 once the snapshot writer stopped: behind retention or unable to start.',
  ),
};

const INGEST_STAT_METRICS: { readonly [Stat in keyof IngestStats]: StatMetric } = {
  ...EVENT_INPUT_STAT_METRICS,
  acceptFailures: ACCEPT_FAILURES_METRIC,
  eventsReceived: CORE_STAT_METRICS.eventsReceived,
  eventsSequenced: counter('events_sequenced', 'Valid events released in sequence order.'),
  eventsNoop: CORE_STAT_METRICS.eventsNoop,
  eventsDiscarded: CORE_STAT_METRICS.eventsDiscarded,
  sequencesSkipped: CORE_STAT_METRICS.sequencesSkipped,
  pending: CORE_STAT_METRICS.pending,
  nextSequence: CORE_STAT_METRICS.nextSequence,
  eventsAppended: counter('events_appended', 'Events the event log acknowledged.'),
  batchesAppended: counter('batches_appended', 'Batches the event log acknowledged.'),
  appendsInFlight: gauge('appends_in_flight', 'Appends sent and not yet settled.'),
  batchesUnacknowledged: gauge(
    'batches_unacknowledged',
    'Closed batches the event log has not acknowledged.',
  ),
  appendErrors: counter('append_errors', 'Append failures the ingest recovered from.'),
  appendRetries: counter('append_retries', 'Batches appended again after a failure.'),
  foreignSkipped: counter(
    'ingest_log_foreign',
    'Log messages the ingest skipped: not its own nor continuing (ERR_LOG_FOREIGN).',
  ),
  stopped: gauge(
    'ingest_stopped',
    '1 once the ingest stopped (another writer, a changed record, a replaced log).',
  ),
  problems: PROBLEMS_METRIC,
};

const { eventSourcePaused, eventSourcePauses, ...CLIENT_SIDE_METRICS } = FAN_OUT_STAT_METRICS;

export const GATEWAY_STAT_METRICS: { readonly [Stat in keyof GatewayStats]: StatMetric } = {
  ...CORE_STAT_METRICS,
  ...CLIENT_SIDE_METRICS,
  logReadingPaused: gauge('log_reading_paused', '1 while clients hold back reading the log.'),
  logReadingPauses: counter('log_reading_pauses', 'Times clients held back reading the log.'),
  batchesApplied: counter('batches_applied', 'Event log batches applied.'),
  logForeign: counter(
    'log_foreign',
    'Log messages skipped: they do not continue the log (ERR_LOG_FOREIGN).',
  ),
  logPosition: gauge(
    'log_position',
    'Position of the last event log entry read (applied or skipped).',
  ),
  catchUpPosition: gauge('catch_up_position', 'Event log position to reach before serving.'),
  startSnapshotPosition: gauge(
    'start_snapshot_position',
    'Log position of the snapshot the gateway started from.',
  ),
  startSnapshotsRefused: gauge(
    'start_snapshots_refused',
    'Snapshots refused at start, failing their checks (ERR_SNAPSHOT_BAD).',
  ),
  caughtUp: gauge('caught_up', '1 once the gateway has caught up and serves clients.'),
  following: gauge('following', '1 while the gateway reads the event log.'),
  readRetries: counter('read_retries', 'Event log reads started again after a failure.'),
  problems: PROBLEMS_METRIC,
  acceptFailures: ACCEPT_FAILURES_METRIC,
};

/** Every metric of an ingest and its snapshot writer. */
export const INGEST_PROCESS_STAT_METRICS = {
  ...INGEST_STAT_METRICS,
  ...SNAPSHOT_WRITER_STAT_METRICS,
};

/** What the health of a cluster process also looks at: its connection to NATS, when known. */
export interface LogConnection {
  readonly connected: boolean;
}

const DISCONNECTED = { ready: false, reason: 'the connection to NATS is down; reconnecting' };

/**
 * The sources for `startMonitor()` of an ingest, and of its snapshot writer when it has one;
 * `log`: its connection to NATS counts too.
 */
export function ingestMonitorSources(
  ingest: Ingest,
  writer?: Pick<SnapshotWriter, 'stats'>,
  log?: LogConnection,
): MonitorSources {
  return {
    health: () => {
      const stop = ingest.stopProblem;
      if (stop !== undefined) {
        return { ready: false, reason: `the ingest stopped (${stop.code}): ${stop.message}` };
      }
      if (ingest.closed) return { ready: false, reason: 'the ingest is shutting down' };
      if (log?.connected === false) return DISCONNECTED;
      if (ingest.recovering) {
        return { ready: false, reason: 'an append failed; resuming from the event log tail' };
      }
      const refusedAt = ingest.recordRefusedAt;
      if (refusedAt !== undefined) {
        return {
          ready: false,
          reason: `recording its settings in the event log failed; its first batch (position ${refusedAt}) waits for them, and so does the event source`,
        };
      }
      return { ready: true };
    },
    stats: () => ({ ...ingest.stats(), ...writer?.stats() }),
    statMetrics: writer === undefined ? INGEST_STAT_METRICS : INGEST_PROCESS_STAT_METRICS,
    report: (problem) => ingest.report(problem),
  };
}

/** The sources for `startMonitor()` of a gateway; `log`: its connection to NATS counts too. */
export function gatewayMonitorSources(gateway: Gateway, log?: LogConnection): MonitorSources {
  return {
    health: () => {
      const stats = gateway.stats();
      if (gateway.stopped) return { ready: false, reason: 'the gateway cannot follow the log' };
      if (gateway.closed) return { ready: false, reason: 'the gateway is shutting down' };
      if (log?.connected === false) return DISCONNECTED;
      const awaitedAt = gateway.recordAwaitedAt;
      if (awaitedAt !== undefined) {
        return {
          ready: false,
          reason: `waiting at position ${awaitedAt} for the event log's writer to record its settings`,
        };
      }
      if (!stats.caughtUp) {
        return {
          ready: false,
          reason: `catching up with the event log (position ${stats.logPosition} of ${stats.catchUpPosition})`,
        };
      }
      if (!stats.following)
        return { ready: false, reason: 'reading the event log failed; retrying' };
      return { ready: true };
    },
    stats: () => ({ ...gateway.stats() }),
    statMetrics: GATEWAY_STAT_METRICS,
    clients: (page) => gateway.clients(page.offset, page.limit),
    watchResumes: (listener) => {
      gateway.on('clientResumed', listener);
      return () => gateway.off('clientResumed', listener);
    },
    report: (problem) => gateway.report(problem),
  };
}

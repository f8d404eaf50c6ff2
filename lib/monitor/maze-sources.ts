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
import { METRIC_PREFIX } from './metrics.js';
import type { MonitorSources, StatMetric } from './sources.js';

function counter(name: string, help: string): StatMetric {
  return { kind: 'counter', name: `${METRIC_PREFIX}${name}_total`, help };
}

function gauge(name: string, help: string): StatMetric {
  return { kind: 'gauge', name: `${METRIC_PREFIX}${name}`, help };
}

/** The metric each `MazeStats` counter is exported as: counters for totals, gauges for levels. */
export const MAZE_STAT_METRICS: { readonly [Stat in keyof MazeStats]: StatMetric } = {
  eventsReceived: counter('events_received', 'Event lines received.'),
  eventsApplied: counter('events_applied', 'Valid events applied in sequence order.'),
  eventsNoop: counter(
    'events_noop',
    'Sequence numbers consumed without effect: an invalid body or a refused follow.',
  ),
  eventsDiscarded: counter('events_discarded', 'Event lines discarded.'),
  sequencesSkipped: counter('sequences_skipped', 'Sequence numbers skipped over a gap.'),
  followsRefused: counter('follows_refused', 'Follows refused because the graph was at its bound.'),
  pending: gauge('pending_events', 'Events waiting in the reorder buffer.'),
  pendingBytes: gauge('pending_bytes', 'Bytes of the events waiting in the reorder buffer.'),
  nextSequence: gauge('next_sequence', 'The sequence number the next applied event carries.'),
  usersConnected: gauge('users_connected', 'Distinct users with at least one connection.'),
  followEdges: gauge('follow_edges', 'Follow edges in the graph.'),
  clientsConnected: gauge('clients_connected', 'Identified client connections.'),
  clientsIdentifying: gauge('clients_identifying', 'Client connections without an id yet.'),
  clientsRejected: counter('clients_rejected', 'Clients closed for a bad id or no id in time.'),
  clientsRefused: counter('clients_refused', 'Clients closed at once over maxClients.'),
  notificationsSent: counter('notifications_sent', 'Notifications handed to client streams.'),
  bytesOut: counter('bytes_out', 'Bytes handed to client streams.'),
  slowClientDisconnects: counter('slow_client_disconnects', 'Clients dropped as too slow.'),
  clientsOverLimit: gauge('clients_over_limit', 'Clients over their buffer limit.'),
  outputQueuedBytes: gauge('output_queued_bytes', 'Bytes queued for all clients (upper bound).'),
  outputOverBudget: gauge('output_over_budget', '1 while all queues are over the total budget.'),
  eventSourcePaused: gauge('event_source_paused', '1 while the event source is paused.'),
  eventSourcePauses: counter('event_source_pauses', 'Times the event source was paused.'),
  eventSourceConnected: gauge('event_source_connected', '1 while an event source is attached.'),
  eventSourcesAccepted: counter('event_sources_accepted', 'Event sources accepted.'),
  eventSourcesRefused: counter('event_sources_refused', 'Event sources refused (one was active).'),
  eventSourceTakeovers: counter('event_source_takeovers', 'Idle event sources taken over.'),
  linesTooLong: counter('lines_too_long', 'Event lines over the maximum length.'),
  problems: counter('problems', 'Problems reported.'),
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
    report: (problem) => maze.report(problem),
  };
}

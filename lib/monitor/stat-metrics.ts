/**
 * The metric each counter of the building blocks is exported as, once: the core's, the
 * client side's (`FanOut`) and the event source side's (`EventInput`). Each front end's table
 * (`serve`, ingest, gateway) is a composition of these plus its own.
 *
 * Invariants: every key of each stats type has a metric (the types make a stat added later a
 * compile error until it is classified); counters end in `_total`, gauges do not.
 */
import {
  AUTH_REFUSAL_REASONS,
  AUTH_REFUSALS,
  type AuthRefusalStat,
} from '../adapter/client-auth.js';
import type { EventInputStats } from '../adapter/event-input.js';
import type { FanOutStats } from '../adapter/fan-out.js';
import type { CoreStats } from '../core/maze-core.js';
import { METRIC_PREFIX, type StatMetric } from './sources.js';

export function counter(name: string, help: string): StatMetric {
  return { kind: 'counter', name: `${METRIC_PREFIX}${name}_total`, help };
}

export function gauge(name: string, help: string): StatMetric {
  return { kind: 'gauge', name: `${METRIC_PREFIX}${name}`, help };
}

export const CORE_STAT_METRICS: { readonly [Stat in keyof CoreStats]: StatMetric } = {
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
  resumeHistoryEvents: gauge('resume_history_events', 'Events held for clients that resume.'),
  resumeHistoryBytes: gauge('resume_history_bytes', 'Bytes allocated for the resume history.'),
  resumableAfter: gauge(
    'resumable_after',
    'The smallest last sequence number a client can resume after exactly.',
  ),
};

// One counter per refusal reason: `client_auth_<reason>_total`.
function authRefusalMetrics(): { readonly [Stat in AuthRefusalStat]: StatMetric } {
  const metrics = {} as { [Stat in AuthRefusalStat]: StatMetric };
  for (const reason of AUTH_REFUSAL_REASONS) {
    const { stat, counts } = AUTH_REFUSALS[reason];
    metrics[stat] = counter(`client_auth_${reason.replaceAll('-', '_')}`, counts);
  }
  return metrics;
}

export const FAN_OUT_STAT_METRICS: { readonly [Stat in keyof FanOutStats]: StatMetric } = {
  clientsConnected: gauge('clients_connected', 'Identified client connections.'),
  clientsIdentifying: gauge(
    'clients_identifying',
    'Client connections without an id yet, or waiting for their resume.',
  ),
  clientsRejected: counter('clients_rejected', 'Clients closed for a bad id or no id in time.'),
  clientsRefused: counter('clients_refused', 'Clients closed at once over maxClients.'),
  clientsEvicted: counter(
    'clients_evicted',
    'Half-closed clients with nothing queued closed to make room under maxClients.',
  ),
  clientsHalfClosed: gauge(
    'clients_half_closed',
    'Identified clients whose peer ended its sending side (still served).',
  ),
  notificationsSent: counter('notifications_sent', 'Notifications handed to client streams.'),
  bytesOut: counter('bytes_out', 'Bytes handed to client streams.'),
  slowClientDisconnects: counter('slow_client_disconnects', 'Clients dropped as too slow.'),
  clientsResumed: counter('clients_resumed', 'Resumes that replayed everything missed.'),
  resumesRefused: counter('resumes_refused', 'Resumes answered with a gap line.'),
  resumeNotifications: counter('resume_notifications', 'Notifications replayed on resume.'),
  resumesWaiting: gauge('resumes_waiting', 'Clients waiting for their resume.'),
  clientsOverLimit: gauge('clients_over_limit', 'Clients over their buffer limit.'),
  outputQueuedBytes: gauge('output_queued_bytes', 'Bytes queued for all clients (upper bound).'),
  outputOverBudget: gauge('output_over_budget', '1 while all queues are over the total budget.'),
  eventSourcePaused: gauge('event_source_paused', '1 while the event source is paused.'),
  eventSourcePauses: counter('event_source_pauses', 'Times the event source was paused.'),
  authAccepted: counter(
    'client_auth_accepted',
    'Client credentials accepted (id lines and refreshes).',
  ),
  authPending: gauge(
    'client_auth_pending',
    'Client credentials being checked or waiting for a slot.',
  ),
  ...authRefusalMetrics(),
};

export const EVENT_INPUT_STAT_METRICS: { readonly [Stat in keyof EventInputStats]: StatMetric } = {
  eventSourceConnected: gauge('event_source_connected', '1 while an event source is attached.'),
  eventSourcesAccepted: counter('event_sources_accepted', 'Event sources accepted.'),
  eventSourcesRefused: counter('event_sources_refused', 'Event sources refused (one was active).'),
  eventSourceTakeovers: counter('event_source_takeovers', 'Idle event sources taken over.'),
  linesTooLong: counter('lines_too_long', 'Event lines over the maximum length.'),
};

export const PROBLEMS_METRIC: StatMetric = counter('problems', 'Problems reported.');

export const ACCEPT_FAILURES_METRIC: StatMetric = counter(
  'accept_failures',
  'Connections a listening port failed to accept.',
);

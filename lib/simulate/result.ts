/**
 * What a simulation reports: progress while it runs, a summary at the end, and the exit
 * code the CLI derives from it. Formatting lives here, pure, so the command only prints.
 */
import type { SimulationFailure } from './failures.js';
import type { LatencySummary } from './latency.js';

/** The line printed when every client received exactly what it was owed. */
export const SUCCESS_LINE = 'ALL NOTIFICATIONS RECEIVED';

/** A snapshot while events stream, every `logInterval` ms. */
export interface SimulationProgress {
  /** Milliseconds since the first event was sent. */
  readonly elapsedMs: number;
  /** Events written to the server, warm-up broadcasts included. */
  readonly eventsSent: number;
  /** Events the run will send in all (`totalEvents` plus the warm-up). */
  readonly eventsTotal: number;
  /** Notification lines received and verified, over all clients. */
  readonly notificationsReceived: number;
  /** Notifications owed but not received yet. */
  readonly notificationsPending: number;
  /** Rates over the last interval. */
  readonly eventsPerSecond: number;
  readonly notificationsPerSecond: number;
}

/** The figures of a finished run, successful or not. */
export interface SimulationSummary {
  /** Events written, warm-up broadcasts included. */
  readonly events: number;
  /** Broadcasts sent before the stream until every client had received one. */
  readonly warmupEvents: number;
  /** Notification lines received and verified. */
  readonly notifications: number;
  /** Notification lines the reference model owed the clients. */
  readonly expectedNotifications: number;
  readonly clients: number;
  readonly users: number;
  readonly seed: number;
  /** From the first event sent to the last notification received (or the failure). */
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly notificationsPerSecond: number;
  /** The pace asked for (`rate`), events/s; null when sent as fast as possible. */
  readonly rate: number | null;
  /**
   * The pace achieved: events/s written from the first streamed write to the last (the
   * events of the first write not counted), warm-up excluded. Below `rate` when the server
   * or the simulator could not keep up.
   */
  readonly sendRate: number;
  /**
   * Per notification, from the simulator's write of the event to its client's read of the
   * line, in ms (warm-up broadcasts and the `latencyWarmup` excluded); null when no
   * notification was recorded.
   */
  readonly latency: LatencySummary | null;
  /** Ms at the start of the stream left out of `latency` (`latencyWarmup`). */
  readonly latencyWarmup: number;
  /**
   * With `workers` > 1: seconds from the start of the run until every worker process had
   * started, before the first connect (not counted in `connectSeconds`). Null without
   * workers, or when the run failed before.
   */
  readonly workersStartSeconds: number | null;
  /**
   * Seconds from the first connect (with `workers` > 1: once every worker process had
   * started) until every client (stalled ones included) was connected and had sent its id:
   * the connect storm. Null when the run failed before.
   */
  readonly connectSeconds: number | null;
  /**
   * Seconds the warm-up took, from its first broadcast until every client had received one:
   * until the server had registered them all (the identify storm). Null when it never ended.
   */
  readonly registerSeconds: number | null;
  /** Clients that identified and never read (`stalledClients`). */
  readonly stalledClients: number;
  /** What the clients' drops and resumes came to (`reconnectEvery`); null without drops. */
  readonly reconnects: ReconnectSummary | null;
  /**
   * A fingerprint of what the clients received in the stream: for each client in order, the
   * positions in the stream (1: the first event after the warm-up) of its notifications,
   * folded with FNV-1a. It depends only on the seed and the options that shape the stream
   * (`totalEvents`, `concurrencyLevel`, `numberOfUsers`, `maxEventSourceBatchSize`,
   * `eventMix`), never on the server, its timing or the warm-up: two passing runs with the
   * same ones have the same digest. After a failure, it covers what was verified before it.
   */
  readonly digest: string;
}

/** The drops and resumes of a run with `reconnectEvery`, over all clients. */
export interface ReconnectSummary {
  /** Connections the clients dropped (at random points, mid-line too). */
  readonly drops: number;
  /** Connections that identified as `USERID|LASTSEQ|EPOCH`. */
  readonly resumes: number;
  /** Resumes the server refused with `!GAP|REASON|NEXT`, by reason. */
  readonly refused: { readonly trimmed: number; readonly ahead: number };
  /**
   * Notifications the clients were owed when they identified again: what the server had to
   * replay, and the notifications of events it had not applied yet (the simulator cannot
   * tell those apart).
   */
  readonly owedOnResume: number;
  /** Owed notifications not received because a refused resume skipped them. */
  readonly skipped: number;
  /** Lines ignored as repeats of what a client had already received (after `ahead`). */
  readonly repeats: number;
}

export type SimulationResult =
  | (SimulationSummary & { readonly ok: true })
  | (SimulationSummary & { readonly ok: false; readonly failure: SimulationFailure });

/** Exit code of an interrupted run (128 + SIGINT, as a shell reports Ctrl-C). */
export const EXIT_INTERRUPTED = 130;

/**
 * 0 when verified, 1 when the server broke the protocol, 2 when it could not be reached,
 * 130 when the run was interrupted.
 */
export function exitCodeOf(result: SimulationResult): 0 | 1 | 2 | typeof EXIT_INTERRUPTED {
  if (result.ok) return 0;
  switch (result.failure.kind) {
    case 'connection':
      return 2;
    case 'interrupted':
      return EXIT_INTERRUPTED;
    default:
      return 1;
  }
}

/** One progress line, e.g. `sent 1200000/10000001 events (150000/s), received …`. */
export function formatProgress(progress: SimulationProgress): string {
  const percent =
    progress.eventsTotal === 0 ? 100 : (100 * progress.eventsSent) / progress.eventsTotal;
  return (
    `${(progress.elapsedMs / 1000).toFixed(1)}s: sent ${progress.eventsSent}/${progress.eventsTotal}` +
    ` events (${percent.toFixed(1)}%, ${Math.round(progress.eventsPerSecond)}/s),` +
    ` received ${progress.notificationsReceived} notifications` +
    ` (${Math.round(progress.notificationsPerSecond)}/s), ${progress.notificationsPending} pending`
  );
}

/**
 * The human summary: figures, then the success line or the failure. A run that could not
 * connect has no figures to show (it sent nothing): only its failure.
 */
export function formatSummary(result: SimulationResult): string[] {
  if (!result.ok && result.failure.kind === 'connection') return [failureLine(result.failure)];
  const lines = [
    `events: ${result.events} (${result.warmupEvents} warm-up) to ${result.clients} clients of` +
      ` ${result.users} users, seed ${result.seed}`,
    `notifications: ${result.notifications} of ${result.expectedNotifications} expected`,
    `time: ${result.seconds.toFixed(3)} s, ${Math.round(result.eventsPerSecond)} events/s,` +
      ` ${Math.round(result.notificationsPerSecond)} notifications/s`,
    result.rate === null
      ? `pace: as fast as possible, sent ${Math.round(result.sendRate)} events/s`
      : `pace: ${result.rate} events/s asked, ${Math.round(result.sendRate)} events/s sent`,
  ];
  const latency = result.latency;
  if (latency === null && result.latencyWarmup > 0) {
    lines.push(`latency ms: none recorded after the first ${result.latencyWarmup} ms`);
  }
  if (latency !== null) {
    const ms = (value: number): string => value.toFixed(3);
    lines.push(
      `latency ms${result.latencyWarmup > 0 ? ` (after the first ${result.latencyWarmup} ms)` : ''}:` +
        ` p50 ${ms(latency.p50)}, p90 ${ms(latency.p90)}, p99 ${ms(latency.p99)},` +
        ` p99.9 ${ms(latency.p999)}, max ${ms(latency.max)}`,
    );
  }
  if (result.stalledClients > 0) {
    lines.push(`stalled clients: ${result.stalledClients} (identified, never read, not verified)`);
  }
  if (result.reconnects !== null) lines.push(reconnectLine(result.reconnects));
  if (result.ok) lines.push(`digest: ${result.digest}`, SUCCESS_LINE);
  else lines.push(failureLine(result.failure));
  return lines;
}

function reconnectLine(reconnects: ReconnectSummary): string {
  const { trimmed, ahead } = reconnects.refused;
  const refused = trimmed + ahead;
  return (
    `reconnects: ${reconnects.drops} drops, ${reconnects.resumes} resumes` +
    ` (${reconnects.resumes - refused} exact, ${refused} refused: ${trimmed} trimmed,` +
    ` ${ahead} ahead), ${reconnects.owedOnResume} notifications owed on resume` +
    (reconnects.skipped > 0 ? `, ${reconnects.skipped} skipped by refused resumes` : '') +
    (reconnects.repeats > 0 ? `, ${reconnects.repeats} repeats ignored` : '')
  );
}

function failureLine(failure: SimulationFailure): string {
  return `FAILED ${failure.code}: ${failure.message}`;
}

/** The one-line JSON summary of `--json`. */
export function formatJson(result: SimulationResult): string {
  const { ok, ...summary } = result;
  return JSON.stringify({ ok, exitCode: exitCodeOf(result), ...summary });
}

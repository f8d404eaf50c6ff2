/**
 * The cost model of `npm run bench -- --profile cluster`: what a gateway's CPU
 * costs per event it applies and per notification it delivers, measured on this machine, and
 * what that makes of N gateways on N machines. Pure (no I/O), so `__tests__/e2e/bench.test.ts`
 * can check it; cluster-run.mjs takes the measurements.
 *
 * From one cluster run (CPU seconds from /proc, counts from the processes' stats lines):
 *   a (replay) = (CPU of an extra gateway started after the simulation, with no snapshot to
 *                start from, from its start to its startup line, which it prints once it has
 *                applied the whole log, with no client)
 *              - (CPU of a gateway that started on the empty log: the run's own gateways at
 *                their startup lines; node, module loading, NATS connection)
 *              / the events the extra gateway applied
 *   b (notify) = (CPU of the run's gateways from their startup lines to the end of the
 *                simulation - a x the events they applied) / the notifications they sent
 *                (each gateway's `notificationsSent`, summed: not the simulator's total / G)
 *   ingest     = CPU of the ingest from its startup line to the end / events (its snapshot
 *                writer included: it applies every event to a core of its own)
 *   nats       = the same for nats-server, from when it is ready
 *
 * The projection: one gateway per machine, one core each (Node runs the gateway on one
 * thread), clients spread evenly; a gateway keeps up with E events/s and its share of
 * notifications, n x E / N, while a x E + b x n x E / N <= 1 - HEADROOM. Every gateway
 * applies every event, so the cluster's event rate is capped by (1 - HEADROOM) / a however
 * many gateways run, and by the one ingest's (1 - HEADROOM) / ingest; the notifications it
 * can deliver grow with N.
 *
 * Invariants: a figure that cannot be computed (no events, no notifications) is `null`, never
 * NaN or Infinity; a figure below the measurement's resolution (e.g. a <= 0 on a tiny run) is
 * returned as measured and flagged by `costModelWarnings()`, never clamped.
 */

import { formatFigure, formatMarkdownTable, medianFigures } from './figures.mjs';

/** The share of a core a projection leaves unused: for GC pauses, bursts and the OS. */
export const HEADROOM = 0.2;
/** The cluster sizes the projection tabulates. */
const PROJECTED_GATEWAYS = [1, 2, 4, 8];
/** The event rate the projection is worked out at. */
export const PROJECTED_EVENTS_PER_SECOND = 100_000;

/**
 * What one cluster run measured for the cost model, CPU in seconds.
 * @typedef {{ gatewayStartupCpuSeconds: number, replayCpuSeconds: number,
 *   eventsReplayed: number, gatewayRunCpuSeconds: number, gatewayEvents: number,
 *   gatewayNotifications: number, ingestRunCpuSeconds: number, natsRunCpuSeconds: number,
 *   events: number }} CostMeasurements
 */

/**
 * The figures of the model, CPU in µs; `notificationsPerEvent` is the run's (the default
 * mix with the run's clients and users).
 * @typedef {{ replayMicrosPerEvent: number | null, notificationMicros: number | null,
 *   ingestMicrosPerEvent: number | null, natsMicrosPerEvent: number | null,
 *   notificationsPerEvent: number | null }} CostModel
 */

/** The model's figures in print order: key, label, decimals. */
export const COST_FIGURES = [
  { key: 'replayMicrosPerEvent', label: 'a: gateway µs per event applied', decimals: 3 },
  { key: 'notificationMicros', label: 'b: gateway µs per notification', decimals: 3 },
  { key: 'ingestMicrosPerEvent', label: 'ingest µs per event', decimals: 3 },
  { key: 'natsMicrosPerEvent', label: 'nats-server µs per event', decimals: 3 },
  { key: 'notificationsPerEvent', label: 'notifications per event', decimals: 2 },
];

/** @param {number} seconds @param {number} count */
function microsEach(seconds, count) {
  return count > 0 && Number.isFinite(seconds) ? (seconds * 1e6) / count : null;
}

/**
 * The model of one run.
 * @param {CostMeasurements} measured
 * @returns {CostModel}
 */
export function costModelOf(measured) {
  const replayMicrosPerEvent = microsEach(
    measured.replayCpuSeconds - measured.gatewayStartupCpuSeconds,
    measured.eventsReplayed,
  );
  const notificationMicros =
    replayMicrosPerEvent === null
      ? null
      : microsEach(
          measured.gatewayRunCpuSeconds - (replayMicrosPerEvent / 1e6) * measured.gatewayEvents,
          measured.gatewayNotifications,
        );
  return {
    replayMicrosPerEvent,
    notificationMicros,
    ingestMicrosPerEvent: microsEach(measured.ingestRunCpuSeconds, measured.events),
    natsMicrosPerEvent: microsEach(measured.natsRunCpuSeconds, measured.events),
    notificationsPerEvent:
      measured.events > 0 ? measured.gatewayNotifications / measured.events : null,
  };
}

/**
 * The median of each figure of the models of several runs (`null` where no run has one).
 * @param {readonly Partial<CostModel>[]} models
 * @returns {CostModel}
 */
export function medianCostModel(models) {
  return /** @type {CostModel} */ (medianFigures(models, COST_FIGURES));
}

/**
 * Why a model should not be trusted: figures that are not positive (below what the run
 * could resolve: /proc counts CPU in 10 ms ticks, and node's startup varies by more).
 * @param {Partial<CostModel>} model
 * @returns {string[]}
 */
export function costModelWarnings(model) {
  return COST_FIGURES.filter(({ key }) => {
    const value = model[/** @type {keyof CostModel} */ (key)];
    return typeof value !== 'number' || !(value > 0);
  }).map(
    ({ label }) =>
      `${label} is not a positive number: the run is too short to resolve it (use more events)`,
  );
}

/**
 * One row of the projection: `gateways` gateways, one core each.
 * @typedef {{ gateways: number, coreShare: number, maxEventsPerSecond: number,
 *   maxNotificationsPerSecond: number }} ProjectionRow
 */

/**
 * The capacity of 1, 2, 4, 8 gateways (`PROJECTED_GATEWAYS`) by the model:
 * - `coreShare`: the share of its core each gateway spends at `eventsPerSecond` with the
 *   run's notifications per event, spread evenly: E x (a + b x n / N);
 * - `maxEventsPerSecond`: the highest event rate the cluster sustains with that mix,
 *   (1 - headroom) / (a + b x n / N), and no more than the ingest's (1 - headroom) / ingest;
 * - `maxNotificationsPerSecond`: the most notifications the N gateways deliver together at
 *   `eventsPerSecond` (with more clients than the run had): N x (1 - headroom - a x E) / b.
 * Empty when a figure it needs is missing or not positive.
 * @param {Partial<CostModel>} model
 * @param {{ eventsPerSecond?: number, gateways?: readonly number[], headroom?: number }} [at]
 * @returns {ProjectionRow[]}
 */
export function projectCapacity(
  model,
  {
    eventsPerSecond = PROJECTED_EVENTS_PER_SECOND,
    gateways = PROJECTED_GATEWAYS,
    headroom = HEADROOM,
  } = {},
) {
  const { replayMicrosPerEvent, notificationMicros, ingestMicrosPerEvent, notificationsPerEvent } =
    model;
  const figures = [replayMicrosPerEvent, notificationMicros, ingestMicrosPerEvent];
  if (!figures.every((value) => typeof value === 'number' && value > 0)) return [];
  if (typeof notificationsPerEvent !== 'number' || !(notificationsPerEvent >= 0)) return [];
  const a = /** @type {number} */ (replayMicrosPerEvent) / 1e6;
  const b = /** @type {number} */ (notificationMicros) / 1e6;
  const usable = 1 - headroom;
  const ingestCap = /** @type {number} */ (eventRateCaps(model, { headroom }).ingestCap);
  return gateways.map((count) => {
    const perEvent = a + (b * notificationsPerEvent) / count;
    return {
      gateways: count,
      coreShare: eventsPerSecond * perEvent,
      maxEventsPerSecond: Math.min(usable / perEvent, ingestCap),
      maxNotificationsPerSecond: Math.max(0, (count * (usable - a * eventsPerSecond)) / b),
    };
  });
}

/**
 * The caps that hold whatever the number of gateways: every gateway applies every event
 * ((1 - headroom) / a), and one ingest takes them all ((1 - headroom) / ingest).
 * @param {Partial<CostModel>} model
 * @param {{ headroom?: number }} [at]
 * @returns {{ gatewayCap: number | null, ingestCap: number | null }}
 */
function eventRateCaps(model, { headroom = HEADROOM } = {}) {
  const cap = (/** @type {number | null | undefined} */ micros) =>
    typeof micros === 'number' && micros > 0 ? (1 - headroom) / (micros / 1e6) : null;
  return {
    gatewayCap: cap(model.replayMicrosPerEvent),
    ingestCap: cap(model.ingestMicrosPerEvent),
  };
}

/**
 * The model and its projection as Markdown lines: a table of the figures, the caps, and one
 * row per cluster size.
 * @param {Partial<CostModel>} model
 * @param {{ eventsPerSecond?: number, gateways?: readonly number[], headroom?: number }} [at]
 * @returns {string[]}
 */
export function formatCostModel(model, at = {}) {
  const eventsPerSecond = at.eventsPerSecond ?? PROJECTED_EVENTS_PER_SECOND;
  const headroom = at.headroom ?? HEADROOM;
  const lines = formatMarkdownTable([
    ['Cost model', 'Median'],
    ...COST_FIGURES.map(({ key, label, decimals }) => [
      label,
      formatFigure(model[/** @type {keyof CostModel} */ (key)], decimals),
    ]),
  ]);
  const rows = projectCapacity(model, at);
  if (rows.length === 0) {
    lines.push('', 'No projection: a figure it needs is missing or not positive.');
    return lines;
  }
  const { gatewayCap, ingestCap } = eventRateCaps(model, { headroom });
  const rate = formatFigure(eventsPerSecond, 0);
  lines.push(
    '',
    `Projection: one gateway per machine on one core, ${Math.round(headroom * 100)}% of it left` +
      ` as headroom, clients spread evenly, ${formatFigure(model.notificationsPerEvent, 2)}` +
      " notifications per event (the run's mix); the event rate is capped at" +
      ` ${formatFigure(gatewayCap, 0)}/s by every gateway applying every event and at` +
      ` ${formatFigure(ingestCap, 0)}/s by the one ingest:`,
    '',
    ...formatMarkdownTable([
      [
        'Gateways',
        `each gateway's core at ${rate} events/s`,
        'most events/s, same mix',
        `most notifications/s at ${rate} events/s`,
      ],
      ...rows.map((row) => [
        String(row.gateways),
        `${formatFigure(row.coreShare * 100, 0)}%`,
        formatFigure(row.maxEventsPerSecond, 0),
        formatFigure(row.maxNotificationsPerSecond, 0),
      ]),
    ]),
  );
  return lines;
}

/**
 * `npm run bench -- --profile latency`: latency against load, `serve` and the cluster.
 *
 * 1. The maximum rate: one flat-out run of `serve` (MAX_RATE_EVENTS events, or --events),
 *    its events/s.
 * 2. Paced runs (`simulate --rate`) at LOAD_SHARES of it and at TARGET_RATE, each about
 *    MEASURED_SECONDS long (after the warm-up below), with no other client and with one stalled client (identifies as a
 *    user the events pick from, never reads: does one slow reader raise everyone's tail?).
 * 3. The cluster at the same rates (cluster-run.mjs: a fresh nats-server, ingest and
 *    CLUSTER_GATEWAYS gateways per run, the clients spread over the gateways; its snapshot
 *    writer as by default), no stalled client. The rates are shares of serve's maximum, so
 *    the highest ones may be more than the cluster sustains on this machine: such a point is
 *    measured all the same (the simulator sends as fast as the cluster takes events, and the
 *    latency is then queueing) and reported as not sustained (`sustained()`), not a failure.
 *
 * Every point runs `runs` times against a fresh server or cluster; the medians of each
 * figure make the point. Same load as the default profile: 100 clients of 1,000 users,
 * batches up to 100. A paced run streams for LATENCY_WARMUP_MS more than MEASURED_SECONDS, and
 * its first LATENCY_WARMUP_MS are left out of its latency (`simulate --latency-warmup`): a
 * server just started is still compiling its hot code, which one in production is past.
 * The machine's stalls (stall-watch.mjs) are measured at rest before the profile and over
 * every run as a whole (the starting of its processes and the left-out start included), and
 * reported beside its latency.
 */
import { runClusterOnce } from './cluster-run.mjs';
import { median } from './figures.mjs';
import { runOnce } from './run-once.mjs';
import { describeStalls, stallsAtRest, watchStalls } from './stall-watch.mjs';

export const LOAD_SHARES = [0.1, 0.25, 0.5, 0.75, 0.9];
/** The rate of the first target (p99 <= 2 ms), measured as a point of its own. */
export const TARGET_RATE = 100_000;
/** Seconds of each paced run whose latency counts. */
const MEASURED_SECONDS = 8;
/** Ms at the start of each paced run left out of its latency. */
const LATENCY_WARMUP_MS = 2_000;
/** How long the machine's stalls are measured at rest, before the first run. */
const AT_REST_MS = 10_000;
export const MAX_RATE_EVENTS = 2_000_000;
const MIN_POINT_EVENTS = 20_000;
const LOAD = {
  clients: 100,
  users: 1_000,
  maxBatch: 100,
  eventMix: 'F:30,U:10,B:5,P:25,S:30',
};
/** Gateways of the cluster series (with one ingest and one nats-server). */
const CLUSTER_GATEWAYS = 2;
/** The series, by the key `--series` names them with. */
export const SERIES = {
  serve: { name: 'serve', stalledClients: 0, run: runOnce },
  stalled: { name: 'serve, 1 stalled client', stalledClients: 1, run: runOnce },
  cluster: {
    name: `cluster (ingest + ${CLUSTER_GATEWAYS} gateways)`,
    stalledClients: 0,
    run: runClusterOnce,
  },
};
const LATENCY_KEYS = ['p50', 'p90', 'p99', 'p999', 'max'];

/**
 * @param {{ bin: string, runs: number, events?: number, timeoutMs: (events: number) => number,
 *   log: (line: string) => void, series?: (keyof typeof SERIES)[], shares?: number[] }} options
 *   `series` and `shares` narrow the profile (default: every series, LOAD_SHARES); the
 *   target rate is always measured.
 */
export async function runLatencyProfile({
  bin,
  runs,
  events,
  timeoutMs,
  log,
  series: seriesKeys = Object.keys(SERIES),
  shares = LOAD_SHARES,
}) {
  const maxEvents = events ?? MAX_RATE_EVENTS;
  const atRest = await stallsAtRest(AT_REST_MS);
  log(`bench: latency: at rest, ${describeStalls(atRest)}`);
  const flatOut = [];
  for (let index = 1; index <= runs; index++) {
    const load = { ...LOAD, events: maxEvents };
    const run = await withStalls(() => runOnce({ bin, load, timeoutMs: timeoutMs(maxEvents) }));
    flatOut.push(run);
    log(
      `bench: latency: flat out run ${index}/${runs}: ${Math.round(run.eventsPerSecond)} events/s,` +
        ` p50 ${run.latency?.p50} ms, p99 ${run.latency?.p99} ms (queueing), sim CPU` +
        ` ${run.simulatorCpuSeconds.toFixed(2)} s; ${describeStalls(run)}`,
    );
  }
  const maxRate = median(flatOut.map((run) => run.eventsPerSecond));
  const targets = [
    ...shares.map((share) => ({
      rate: Math.round(maxRate * share),
      label: `${Math.round(share * 100)}% of max`,
    })),
    { rate: TARGET_RATE, label: 'target' },
  ].sort((a, b) => a.rate - b.rate);

  const series = [];
  const cases = [{ name: 'latency: flat out', runs: flatOut }];
  const streamSeconds = MEASURED_SECONDS + LATENCY_WARMUP_MS / 1000;
  for (const { name, stalledClients, run: runPoint } of seriesKeys.map((key) => SERIES[key])) {
    const points = [];
    for (const target of targets) {
      const pointEvents = Math.max(MIN_POINT_EVENTS, Math.round(target.rate * streamSeconds));
      const load = {
        ...LOAD,
        events: pointEvents,
        rate: target.rate,
        latencyWarmup: LATENCY_WARMUP_MS,
        stalledClients,
      };
      const pointRuns = [];
      for (let index = 1; index <= runs; index++) {
        const run = await withStalls(() =>
          runPoint({ bin, load, gateways: CLUSTER_GATEWAYS, timeoutMs: timeoutMs(pointEvents) }),
        );
        pointRuns.push(run);
        log(
          `bench: latency: ${name} at ${target.rate} events/s (${target.label}) run` +
            ` ${index}/${runs}: sent ${Math.round(run.sendRate)}/s, p50 ${run.latency?.p50},` +
            ` p99 ${run.latency?.p99}, p99.9 ${run.latency?.p999}, max ${run.latency?.max} ms` +
            (stalledClients > 0 ? `, clients dropped as slow ${run.slowClientsDropped}` : '') +
            `; ${describeStalls(run)}`,
        );
      }
      cases.push({ name: `latency: ${name} at ${target.rate} events/s`, load, runs: pointRuns });
      points.push(medianPoint(target, pointRuns));
    }
    series.push({ name, points });
  }
  return {
    maxRate,
    atRest,
    flatOut: medianPoint({ rate: 0, label: 'flat out' }, flatOut),
    series,
    cases,
  };
}

/**
 * The medians of a point's runs.
 * @param {{ rate: number, label: string }} target
 * @param {Record<string, any>[]} runs
 */
export function medianPoint(target, runs) {
  /** @type {Record<string, number | string>} */
  const point = {
    rate: target.rate,
    label: target.label,
    sendRate: median(runs.map((run) => run.sendRate ?? run.eventsPerSecond)),
    simulatorCpuSeconds: median(runs.map((run) => run.simulatorCpuSeconds)),
    simulatorCores: median(runs.map((run) => run.simulatorCores)),
    slowClientsDropped: median(runs.map((run) => run.slowClientsDropped ?? 0)),
    stalledShare: median(runs.map((run) => run.stalledShare)),
    p99ByRun: runs.map((run) => run.latency?.p99 ?? Number.NaN),
  };
  for (const key of LATENCY_KEYS) {
    const values = runs.map((run) => run.latency?.[key]).filter((value) => value !== undefined);
    point[key] = values.length === 0 ? Number.NaN : median(values);
  }
  return point;
}

/**
 * A run's figures with the machine's stalls during it.
 * @template {Record<string, any>} T
 * @param {() => Promise<T>} run
 */
async function withStalls(run) {
  const stalls = watchStalls();
  const figures = await run().catch((error) => {
    stalls.stop();
    throw error;
  });
  return { ...figures, ...stalls.stop() };
}

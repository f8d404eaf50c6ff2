/**
 * The load of one bench run: the built `follower-maze simulate --json` in its own process,
 * against an event port and one or more client ports (a cluster's gateways: its clients are
 * spread over them round-robin), with its own CPU time, lifetime and peak RSS reported on
 * fd 3 by report-usage.mjs as it exits.
 *
 * Invariants: only 127.0.0.1; the wait for the simulation is bounded; a simulation that does
 * not end with `ok: true` and exit code 0 throws, quoting the simulator's stderr.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { collect, tail, track, withTimeout } from './children.mjs';

export const HOST = '127.0.0.1';
const REPORT_USAGE = new URL('./report-usage.mjs', import.meta.url).href;

/**
 * Settings of one simulated load; `rate` (events/s, 0 or absent: as fast as possible),
 * `latencyWarmup` (ms, 0 or absent: none) and `stalledClients` (0 or absent: none) are
 * passed on to the simulator as they are.
 * @typedef {{ events: number, clients: number, users: number, maxBatch: number,
 *   eventMix: string, rate?: number, latencyWarmup?: number, stalledClients?: number }}
 *   LoadSettings
 */

/**
 * Where to write V8 CPU profiles of a run (`<dir>/<name>-<role>.cpuprofile`).
 * @typedef {{ dir: string, name: string }} CpuProfiles
 */

/**
 * What the simulator said: its JSON summary, and its own usage.
 * @typedef {{ summary: Record<string, any>,
 *   usage: { cpuSeconds: number, wallSeconds: number, peakRssMb: number } }} Simulation
 */

/**
 * Runs the simulation to its end.
 * @param {{ bin: string, eventPort: number, clientPorts: readonly number[], load: LoadSettings,
 *   timeoutMs: number, cpuProfiles?: CpuProfiles, extraArgs?: readonly string[] }} options
 *   `extraArgs`: more flags of `simulate` (the TLS profile's)
 * @returns {Promise<Simulation>}
 */
export async function runSimulator({
  bin,
  eventPort,
  clientPorts,
  load,
  timeoutMs,
  cpuProfiles,
  extraArgs = [],
}) {
  const simulator = track(
    spawn(
      process.execPath,
      [
        ...cpuProfileFlags(cpuProfiles, 'simulator'),
        '--import',
        REPORT_USAGE,
        bin,
        'simulate',
        '--json',
        '--host',
        HOST,
        '--event-port',
        String(eventPort),
        '--client-port',
        clientPorts.join(','),
        '--total-events',
        String(load.events),
        '--concurrency-level',
        String(load.clients),
        '--number-of-users',
        String(load.users),
        '--max-event-source-batch-size',
        String(load.maxBatch),
        '--event-mix',
        load.eventMix,
        '--log-interval',
        '0',
        ...(load.rate ? ['--rate', String(load.rate)] : []),
        ...(load.latencyWarmup ? ['--latency-warmup', String(load.latencyWarmup)] : []),
        ...(load.stalledClients ? ['--stalled-clients', String(load.stalledClients)] : []),
        ...extraArgs,
      ],
      // fd 3 carries the usage report of report-usage.mjs.
      { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] },
    ),
  );
  const stdout = collect(simulator.stdout);
  const stderr = tail(simulator.stderr);
  const usageReport = collect(/** @type {import('node:stream').Readable} */ (simulator.stdio[3]));
  const [code] = await withTimeout(once(simulator, 'close'), timeoutMs, 'the simulation');

  const lastLine = stdout().trim().split('\n').at(-1) ?? '';
  const summary = lastLine.startsWith('{') ? JSON.parse(lastLine) : undefined;
  if (code !== 0 || summary?.ok !== true) {
    const failure = summary?.failure ? `${summary.failure.code}: ${summary.failure.message}` : '';
    throw new Error(`the simulator exited with ${code}: ${failure}\n${stderr()}`.trim());
  }
  return { summary, usage: JSON.parse(usageReport()) };
}

/**
 * The figures every run reports from the simulator's side (see `FIGURES`), and the summary
 * fields kept with each run.
 * @param {Simulation} simulation
 */
export function simulationFigures({ summary, usage }) {
  return {
    eventsPerSecond: summary.eventsPerSecond,
    notificationsPerSecond: summary.notificationsPerSecond,
    seconds: summary.seconds,
    simulatorCpuSeconds: usage.cpuSeconds,
    // CPU time and lifetime of the same process: what share of a core it kept busy.
    simulatorCores: usage.cpuSeconds / usage.wallSeconds,
    simulatorProcessSeconds: usage.wallSeconds,
    simulatorPeakRssMb: usage.peakRssMb,
    events: summary.events,
    notifications: summary.notifications,
    seed: summary.seed,
    digest: summary.digest,
    rate: summary.rate ?? null,
    sendRate: summary.sendRate ?? null,
    latency: summary.latency ?? null,
  };
}

/**
 * Node flags that write a CPU profile when the process exits (a server exits on SIGTERM).
 * @param {CpuProfiles | undefined} cpuProfiles
 * @param {string} role `server`, `simulator`, `ingest`, `gateway-1`, …
 */
export function cpuProfileFlags(cpuProfiles, role) {
  if (cpuProfiles === undefined) return [];
  const name = `${cpuProfiles.name}-${role}.cpuprofile`;
  return ['--cpu-prof', '--cpu-prof-dir', cpuProfiles.dir, '--cpu-prof-name', name];
}

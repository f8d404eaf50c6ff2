/**
 * One bench run of the cluster: a fresh `nats-server` (JetStream, file storage in a new temp
 * directory, a free port), then the BUILT `follower-maze ingest` and `gateways` x
 * `follower-maze gateway` on it, each its own process on free loopback ports; the built
 * `follower-maze simulate --json` sends to the ingest and spreads its clients over the
 * gateways. Just before stopping, every server process's CPU seconds and peak RSS are read
 * (server-usage.mjs); then SIGTERM to the ingest and the gateways, SIGINT to nats-server.
 *
 * Invariants: only 127.0.0.1; every wait is bounded; the ingest is listening (and has
 * created the stream) before any gateway starts, so they never race to create it; each
 * follower-maze process and nats-server must exit 0 after its signal; a run that fails
 * throws, quoting every process's last output, and its children are killed; the temp
 * directory is removed whatever happens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../support/nats-server.mjs';
import { startClusterProcess } from '../support/server-process.mjs';
import {
  count,
  killChildren,
  messageOf,
  stopChild,
  tail,
  track,
  withTimeout,
} from './children.mjs';
import { clusterProcesses } from './figures.mjs';
import { STARTUP_TIMEOUT_MS, STOP_TIMEOUT_MS } from './run-once.mjs';
import { watchServerUsage } from './server-usage.mjs';
import { cpuProfileFlags, HOST, runSimulator, simulationFigures } from './simulator-run.mjs';

/** The JetStream stream of the run; each run has a store of its own, so one name does. */
export const BENCH_STREAM = 'FOLLOWER_MAZE_BENCH';
const NATS_STOP_MS = 10_000;

/**
 * @typedef {import('./simulator-run.mjs').LoadSettings} LoadSettings
 * @typedef {import('./simulator-run.mjs').CpuProfiles} CpuProfiles
 * @typedef {{ name: string, child: import('node:child_process').ChildProcess,
 *   log: () => string }} RunningProcess
 */

/**
 * Runs one simulation against a fresh cluster and returns its figures: those of `FIGURES`
 * (the `server…` ones summed over the cluster's processes) and, per process,
 * `<prefix>CpuSeconds` and `<prefix>PeakRssMb` (prefixes of `clusterProcesses()`).
 * @param {{ bin: string, load: LoadSettings, gateways: number, timeoutMs: number,
 *   cpuProfiles?: CpuProfiles }} options
 */
export async function runClusterOnce({ bin, load, gateways, timeoutMs, cpuProfiles }) {
  const storeDir = mkdtempSync(join(tmpdir(), 'follower-maze-bench-nats-'));
  const names = clusterProcesses(gateways);
  const [ingestName, natsName] = [names[0], names[names.length - 1]];
  /** @type {Map<string, RunningProcess>} by prefix, in start order */
  const processes = new Map();
  /** @type {import('./server-usage.mjs').UsageWatch[]} */
  const watches = [];
  try {
    const nats = startNatsServer({ storeDir });
    track(nats.child);
    processes.set(natsName.prefix, { name: natsName.label, child: nats.child, log: nats.log });
    const { url } = await nats.ready;

    const serverArgs = ['--host', HOST, '--nats-url', url, '--nats-stream', BENCH_STREAM];
    /** @param {'ingest' | 'gateway'} role @param {{ prefix: string, label: string }} name */
    const start = (role, name) => {
      const started = startClusterProcess({
        role,
        bin,
        nodeArgs: cpuProfileFlags(cpuProfiles, name.label.replace(' ', '-')),
        serverArgs,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      track(started.child);
      processes.set(name.prefix, {
        name: name.label,
        child: started.child,
        log: tail(started.child.stderr),
      });
      return started;
    };
    const ingest = start('ingest', ingestName);
    const eventPort = await withTimeout(ingest.port, STARTUP_TIMEOUT_MS, 'ingest startup');
    const started = names.slice(1, -1).map((name) => start('gateway', name));
    const slowDrops = started.map((gateway) => count(gateway.child.stderr, /ERR_CLIENT_SLOW/g));
    const clientPorts = await withTimeout(
      Promise.all(started.map((gateway) => gateway.port)),
      STARTUP_TIMEOUT_MS,
      'gateway startup',
    );

    const measured = names.map(
      ({ prefix }) => /** @type {RunningProcess} */ (processes.get(prefix)),
    );
    for (const each of measured) {
      watches.push(watchServerUsage(/** @type {number} */ (each.child.pid)));
    }
    const simulation = await runSimulator({
      bin,
      eventPort,
      clientPorts,
      load,
      timeoutMs,
      cpuProfiles,
    });
    const usages = await Promise.all(watches.map((watch) => watch.read()));

    // The follower-maze processes first: nats-server going away would stop them.
    const natsProcess = /** @type {RunningProcess} */ (measured.pop());
    await Promise.all(
      measured.map((each) =>
        stopChild(each.child, { name: each.name, signal: 'SIGTERM', ms: STOP_TIMEOUT_MS }),
      ),
    );
    await stopChild(natsProcess.child, {
      name: natsProcess.name,
      signal: 'SIGINT',
      ms: NATS_STOP_MS,
    });

    /** @type {Record<string, number | null>} */
    const perProcess = {};
    let cpuSeconds = 0;
    let peakRssMb = 0;
    names.forEach(({ prefix }, index) => {
      const usage = usages[index];
      perProcess[`${prefix}CpuSeconds`] = usage.cpuSeconds;
      perProcess[`${prefix}PeakRssMb`] = usage.peakRssMb;
      cpuSeconds += usage.cpuSeconds ?? Number.NaN;
      peakRssMb += usage.peakRssMb ?? Number.NaN;
    });
    const { eventsPerSecond, notificationsPerSecond, seconds, ...simulator } =
      simulationFigures(simulation);
    return {
      eventsPerSecond,
      notificationsPerSecond,
      seconds,
      serverPeakRssMb: Number.isNaN(peakRssMb) ? null : peakRssMb,
      serverCpuSeconds: Number.isNaN(cpuSeconds) ? null : cpuSeconds,
      ...simulator,
      gateways,
      ...perProcess,
      slowClientsDropped: slowDrops.reduce((total, drops) => total + drops(), 0),
    };
  } catch (error) {
    killChildren();
    const message = messageOf(error);
    // A failed start of nats-server quotes its stderr already.
    const logs = [...processes.values()]
      .map((each) => [each.name, each.log()])
      .filter(([, log]) => log !== '' && !message.includes(log))
      .map(([name, log]) => `${name} log:\n${log}`);
    throw new Error([message, ...logs].join('\n'));
  } finally {
    for (const watch of watches) watch.stop();
    // Retried: a nats-server killed a moment ago may still be closing its files.
    rmSync(storeDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/**
 * One bench run of the cluster: a fresh `nats-server` (JetStream, file storage in a new temp
 * directory, a free port), then the BUILT `follower-maze ingest` and `gateways` x
 * `follower-maze gateway` on it, each its own process on free loopback ports; the built
 * `follower-maze simulate --json` sends to the ingest and spreads its clients over the
 * gateways. Just before stopping, every server process's CPU seconds and peak RSS are read
 * (server-usage.mjs); then SIGTERM to the ingest and the gateways, SIGINT to nats-server.
 *
 * With `costModel` (cost-model.mjs) the run also measures what the model needs: each
 * process's CPU at its startup line (the gateways start on the empty log: that is the
 * startup cost of a gateway) and at the end; each gateway's events applied and
 * notifications sent, from its first stats line (`--stats-interval`) taken after the
 * simulation; then, with the ingest and the gateways idle, an extra gateway that replays the
 * whole log from position 1 with no client, its CPU read at its startup line. So that it has
 * no snapshot to start from, the ingest runs with `--snapshot-events` and
 * `--snapshot-interval` beyond the run (its snapshot writer still follows the log and
 * applies every event, so its cost is in the ingest's).
 *
 * Invariants: only 127.0.0.1; every wait is bounded; the ingest is listening (and has
 * created the stream) before any gateway starts, so they never race to create it; each
 * follower-maze process and nats-server must exit 0 after its signal; the replay gateway must
 * have started from position 1 (`startSnapshotPosition=0`) or the run fails; a run that fails
 * throws, quoting every process's last output, and its children are killed; the temp
 * directory is removed whatever happens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsServer } from '../support/nats-server.mjs';
import { startClusterProcess, watchStatsLines } from '../support/server-process.mjs';
import {
  count,
  killChildren,
  messageOf,
  STARTUP_TIMEOUT_MS,
  STOP_TIMEOUT_MS,
  stopChild,
  tail,
  track,
  withTimeout,
} from './children.mjs';
import { costModelOf } from './cost-model.mjs';
import { clusterProcesses } from './figures.mjs';
import { watchServerUsage } from './server-usage.mjs';
import { cpuProfileFlags, HOST, runSimulator, simulationFigures } from './simulator-run.mjs';

/** The JetStream stream of the run; each run has a store of its own, so one name does. */
const BENCH_STREAM = 'FOLLOWER_MAZE_BENCH';
const NATS_STOP_MS = 10_000;
/** The cost model's gateways print a stats line this often (ms): the counts it reads. */
const COST_STATS_INTERVAL_MS = 200;
/** Beyond any run: the ingest saves no snapshot, so the replay gateway starts from 1. */
const NO_SNAPSHOT_EVENTS = '1000000000';
const NO_SNAPSHOT_INTERVAL_MS = String(2 ** 31 - 1);

/**
 * @typedef {import('./simulator-run.mjs').LoadSettings} LoadSettings
 * @typedef {import('./simulator-run.mjs').CpuProfiles} CpuProfiles
 * @typedef {{ name: string, child: import('node:child_process').ChildProcess,
 *   log: () => string }} RunningProcess
 */

/**
 * Runs one simulation against a fresh cluster and returns its figures: those of `FIGURES`
 * (the `server…` ones summed over the cluster's processes) and, per process,
 * `<prefix>CpuSeconds` and `<prefix>PeakRssMb` (prefixes of `clusterProcesses()`); with
 * `costModel`, also `costModel`: the measurements (`CostMeasurements`) and the model of the
 * run (`CostModel`).
 * @param {{ bin: string, load: LoadSettings, gateways: number, timeoutMs: number,
 *   cpuProfiles?: CpuProfiles, costModel?: boolean }} options
 */
export async function runClusterOnce({
  bin,
  load,
  gateways,
  timeoutMs,
  cpuProfiles,
  costModel = false,
}) {
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

    const natsStartCpu = costModel ? await cpuSecondsOf(nats.child) : 0;

    const serverArgs = ['--host', HOST, '--nats-url', url, '--nats-stream', BENCH_STREAM];
    const roleArgs = {
      ingest: costModel
        ? ['--snapshot-events', NO_SNAPSHOT_EVENTS, '--snapshot-interval', NO_SNAPSHOT_INTERVAL_MS]
        : [],
      gateway: costModel ? ['--stats-interval', String(COST_STATS_INTERVAL_MS)] : [],
    };
    /** @param {'ingest' | 'gateway'} role @param {{ prefix: string, label: string }} name */
    const start = (role, name) => {
      const started = startClusterProcess({
        role,
        bin,
        nodeArgs: cpuProfileFlags(cpuProfiles, name.label.replace(' ', '-')),
        serverArgs: [...serverArgs, ...roleArgs[role]],
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
    const ingestStartCpu = costModel ? await cpuSecondsOf(ingest.child) : 0;
    const started = names.slice(1, -1).map((name) => start('gateway', name));
    const slowDrops = started.map((gateway) => count(gateway.child.stderr, /ERR_CLIENT_SLOW/g));
    const statsLines = started.map((gateway) =>
      watchStatsLines(/** @type {import('node:stream').Readable} */ (gateway.child.stdout)),
    );
    // Each gateway's CPU as it prints its startup line, read at once: on the empty log, that
    // is what starting a gateway costs.
    const gatewayStartCpu = await withTimeout(
      Promise.all(
        started.map((gateway) =>
          gateway.port.then(() => (costModel ? cpuSecondsOf(gateway.child) : 0)),
        ),
      ),
      STARTUP_TIMEOUT_MS,
      'gateway startup',
    );
    const clientPorts = await Promise.all(started.map((gateway) => gateway.port));

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
    const simulationEndedAt = Date.now();
    const usages = await Promise.all(watches.map((watch) => watch.read()));
    const measuredCost = costModel
      ? await measureCost({
          start,
          timeoutMs,
          usages,
          startCpu: { nats: natsStartCpu, ingest: ingestStartCpu, gateways: gatewayStartCpu },
          finalStats: statsLines.map((stats) =>
            withTimeout(
              stats.next(simulationEndedAt),
              STARTUP_TIMEOUT_MS,
              'a gateway stats line after the simulation',
            ),
          ),
          events: simulation.summary.events,
        })
      : undefined;

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
      ...(measuredCost && { costModel: { ...measuredCost, ...costModelOf(measuredCost) } }),
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

/**
 * The CPU seconds of a running child so far.
 * @param {import('node:child_process').ChildProcess} child
 */
async function cpuSecondsOf(child) {
  const watch = watchServerUsage(/** @type {number} */ (child.pid));
  const { cpuSeconds } = await watch.read();
  watch.stop();
  if (cpuSeconds === null) throw new Error(`no CPU time for process ${child.pid}`);
  return cpuSeconds;
}

/**
 * The cost model's measurements, once the simulation is over: the gateways' counts from
 * their stats lines, then an extra gateway that replays the whole log with no client.
 * `usages` are in `clusterProcesses()` order, read at the end of the simulation.
 * @param {{ start: (role: 'gateway', name: { prefix: string, label: string }) =>
 *     import('../support/server-process.mjs').ClusterProcess,
 *   timeoutMs: number, usages: import('./server-usage.mjs').ServerUsage[],
 *   startCpu: { nats: number, ingest: number, gateways: number[] },
 *   finalStats: Promise<Record<string, string>>[], events: number }} run
 * @returns {Promise<import('./cost-model.mjs').CostMeasurements>}
 */
async function measureCost({ start, timeoutMs, usages, startCpu, finalStats, events }) {
  const endCpu = usages.map((usage) => usage.cpuSeconds ?? Number.NaN);
  const gatewayEndCpu = endCpu.slice(1, -1);
  const stats = await Promise.all(finalStats);
  const sum = (/** @type {number[]} */ values) => values.reduce((total, each) => total + each, 0);

  const replay = start('gateway', { prefix: 'replay', label: 'replay gateway' });
  const replayStats = watchStatsLines(
    /** @type {import('node:stream').Readable} */ (replay.child.stdout),
  );
  // It prints its startup line only once it has applied the whole log.
  await withTimeout(replay.port, timeoutMs, 'the replay gateway catching up');
  const replayCpuSeconds = await cpuSecondsOf(replay.child);
  const replayed = await withTimeout(
    replayStats.next(),
    STARTUP_TIMEOUT_MS,
    'the replay gateway stats line',
  );
  await stopChild(replay.child, {
    name: 'the replay gateway',
    signal: 'SIGTERM',
    ms: STOP_TIMEOUT_MS,
  });
  if (replayed.startSnapshotPosition !== '0') {
    throw new Error(
      `the replay gateway started from a snapshot at position ${replayed.startSnapshotPosition}, not from 1`,
    );
  }
  return {
    gatewayStartupCpuSeconds: sum(startCpu.gateways) / startCpu.gateways.length,
    replayCpuSeconds,
    eventsReplayed: Number(replayed.eventsReceived),
    gatewayRunCpuSeconds: sum(gatewayEndCpu) - sum(startCpu.gateways),
    gatewayEvents: sum(stats.map((each) => Number(each.eventsReceived))),
    gatewayNotifications: sum(stats.map((each) => Number(each.notificationsSent))),
    ingestRunCpuSeconds: /** @type {number} */ (endCpu[0]) - startCpu.ingest,
    natsRunCpuSeconds: /** @type {number} */ (endCpu.at(-1)) - startCpu.nats,
    events,
  };
}

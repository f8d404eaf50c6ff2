/**
 * One run of the many-connections profiles: `clients` clients at once on one `serve`
 * (`engine: 'serve'`), or spread over `gateways` gateways of a cluster (a fresh nats-server,
 * one ingest; `engine: 'cluster'`), every one owed every broadcast of a short run. The
 * simulator spreads its clients over worker processes (one per 17,000) and over loopback
 * source addresses (one per SOURCE_ADDRESS_CLIENTS clients), since every process here has
 * at most 20,000 descriptors and every source address about 28,000 ephemeral ports.
 *
 * Measured: the simulator's figures (notifications/s, the connect and identify storm times,
 * every notification verified); each server's idle RSS before the clients come and once
 * every client is identified (from its stats lines), hence the idle memory per connection;
 * each server's peak RSS and CPU seconds.
 *
 * Invariants: only loopback addresses; every wait is bounded; a failed run throws, quoting
 * every process's last output, and its children are killed; the temp directory is removed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNatsServer } from '../support/nats-server.mjs';
import {
  parseStatsLine,
  procStatusKiB,
  startClusterProcess,
  startServer,
} from '../support/server-process.mjs';
import {
  killChildren,
  messageOf,
  STARTUP_TIMEOUT_MS,
  STOP_TIMEOUT_MS,
  stopChild,
  tail,
  track,
  withTimeout,
} from './children.mjs';
import { watchServerUsage } from './server-usage.mjs';
import { cpuProfileFlags, HOST, runSimulator, simulationFigures } from './simulator-run.mjs';

const BENCH_STREAM = 'FOLLOWER_MAZE_C100K';
const NATS_STOP_MS = 10_000;
/** Stats line interval of the servers (ms): how soon "every client identified" is seen. */
const STATS_INTERVAL_MS = 250;
/** Rest after startup before the idle RSS is read (ms). */
const SETTLE_MS = 1_000;
/**
 * Clients per source address: the kernel finds a free ephemeral port for a bound socket by a
 * linear search, which slows down sharply as an address's ports fill up (19,000 clients
 * from 2 addresses took 12 s to connect, from 8 addresses 5 s).
 */
const SOURCE_ADDRESS_CLIENTS = 2_500;
/** A client waits this long for its next notification (ms): the storm takes seconds. */
const CLIENT_TIMEOUT_MS = 60_000;

/**
 * Loopback source addresses for `clients` clients: 127.A.B.1, .2, …, with A and B from the
 * time, so that a run does not meet the TIME_WAIT ports of the run before (60 s).
 * @param {number} clients
 */
export function sourceAddresses(clients) {
  const count = Math.max(1, Math.ceil(clients / SOURCE_ADDRESS_CLIENTS));
  const seconds = Math.floor(Date.now() / 1000);
  const prefix = `127.${10 + (Math.floor(seconds / 250) % 240)}.${seconds % 250}`;
  return Array.from({ length: count }, (_, index) => `${prefix}.${index + 1}`);
}

/**
 * @typedef {{ name: string, child: import('node:child_process').ChildProcess,
 *   log: () => string, stats?: () => Record<string, string> | undefined }} RunningProcess
 */

/**
 * Runs one simulation of `load` (its `clients` all connected at once) against a fresh
 * `serve`, or a fresh cluster of `gateways` gateways, and returns its figures.
 * @param {{ bin: string, engine: 'serve' | 'cluster', gateways: number,
 *   load: import('./simulator-run.mjs').LoadSettings, timeoutMs: number,
 *   cpuProfiles?: import('./simulator-run.mjs').CpuProfiles }} options
 */
export async function runManyClientsOnce({ bin, engine, gateways, load, timeoutMs, cpuProfiles }) {
  const storeDir = engine === 'cluster' ? mkdtempSync(join(tmpdir(), 'follower-maze-c100k-')) : '';
  /** @type {RunningProcess[]} */
  const processes = [];
  /** @type {import('./server-usage.mjs').UsageWatch[]} */
  const watches = [];
  const statsArgs = ['--stats-interval', String(STATS_INTERVAL_MS)];
  try {
    let eventPort;
    /** @type {number[]} */
    let clientPorts;
    /** @type {RunningProcess[]} the processes that hold clients */
    let servers;
    if (engine === 'serve') {
      const started = startServer({
        bin,
        nodeArgs: cpuProfileFlags(cpuProfiles, 'serve'),
        serverArgs: ['--host', HOST, ...statsArgs],
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const serve = running('serve', started.child);
      processes.push(serve);
      const ports = await withTimeout(started.ports, STARTUP_TIMEOUT_MS, 'server startup');
      eventPort = ports.eventPort;
      clientPorts = [ports.clientPort];
      servers = [serve];
    } else {
      const nats = startNatsServer({ storeDir });
      track(nats.child);
      processes.push({ name: 'nats-server', child: nats.child, log: nats.log });
      const { url } = await nats.ready;
      const natsArgs = ['--host', HOST, '--nats-url', url, '--nats-stream', BENCH_STREAM];
      const ingest = startClusterProcess({
        role: 'ingest',
        bin,
        nodeArgs: cpuProfileFlags(cpuProfiles, 'ingest'),
        serverArgs: natsArgs,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      processes.push(running('ingest', ingest.child));
      eventPort = await withTimeout(ingest.port, STARTUP_TIMEOUT_MS, 'ingest startup');
      const started = Array.from({ length: gateways }, (_, index) =>
        startClusterProcess({
          role: 'gateway',
          bin,
          nodeArgs: cpuProfileFlags(cpuProfiles, `gateway-${index + 1}`),
          serverArgs: [...natsArgs, ...statsArgs],
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      servers = started.map((gateway, index) => running(`gateway ${index + 1}`, gateway.child));
      processes.push(...servers);
      clientPorts = await withTimeout(
        Promise.all(started.map((gateway) => gateway.port)),
        STARTUP_TIMEOUT_MS,
        'gateway startup',
      );
    }
    for (const each of processes) {
      watches.push(watchServerUsage(/** @type {number} */ (each.child.pid)));
    }
    await sleep(SETTLE_MS);
    const idleKiB = servers.map((each) => rssKiB(each));

    // Read each server's RSS once the stats lines show every client identified.
    let connectedKiB;
    const simulating = runSimulator({
      bin,
      eventPort,
      clientPorts,
      load,
      timeoutMs,
      cpuProfiles,
      extraArgs: [
        '--source-addresses',
        sourceAddresses(load.clients).join(','),
        '--timeout',
        String(CLIENT_TIMEOUT_MS),
      ],
    });
    let done = false;
    const watching = (async () => {
      while (!done && connectedKiB === undefined) {
        const identified = servers.reduce(
          (sum, each) => sum + Number(each.stats?.()?.clientsConnected ?? 0),
          0,
        );
        if (identified >= load.clients) connectedKiB = servers.map((each) => rssKiB(each));
        else await sleep(STATS_INTERVAL_MS / 2);
      }
    })();
    const simulation = await simulating.finally(() => {
      done = true;
    });
    await watching;
    const usages = await Promise.all(watches.map((watch) => watch.read()));

    // The follower-maze processes first: nats-server going away would stop them.
    for (const each of [...processes].reverse()) {
      await stopChild(each.child, {
        name: each.name,
        signal: each.name === 'nats-server' ? 'SIGINT' : 'SIGTERM',
        ms: each.name === 'nats-server' ? NATS_STOP_MS : STOP_TIMEOUT_MS,
      });
    }

    const sum = (/** @type {number[]} */ values) => values.reduce((total, each) => total + each, 0);
    const serverUsages = usages.filter((_, index) => servers.includes(processes[index]));
    const { summary } = simulation;
    return {
      ...simulationFigures(simulation),
      engine,
      gateways: engine === 'cluster' ? gateways : null,
      clients: summary.clients,
      expectedNotifications: summary.expectedNotifications,
      everyNotification: summary.ok && summary.notifications === summary.expectedNotifications,
      // The simulator's own start-up, before the first connect: not the servers' doing.
      workersStartSeconds: summary.workersStartSeconds,
      connectSeconds: summary.connectSeconds,
      registerSeconds: summary.registerSeconds,
      connectIdentifySeconds:
        summary.connectSeconds === null || summary.registerSeconds === null
          ? null
          : summary.connectSeconds + summary.registerSeconds,
      idleRssMb: sum(idleKiB) / 1024,
      connectedRssMb: connectedKiB === undefined ? null : sum(connectedKiB) / 1024,
      // Idle memory per identified connection: what the clients added to the servers' RSS.
      kibPerConnection:
        connectedKiB === undefined ? null : (sum(connectedKiB) - sum(idleKiB)) / summary.clients,
      serverPeakRssMb: Math.max(...serverUsages.map((usage) => usage.peakRssMb ?? Number.NaN)),
      serverCpuSeconds: sum(usages.map((usage) => usage.cpuSeconds ?? Number.NaN)),
    };
  } catch (error) {
    killChildren();
    const message = messageOf(error);
    const logs = processes
      .map((each) => [each.name, each.log()])
      .filter(([, log]) => log !== '' && !message.includes(log))
      .map(([name, log]) => `${name} log:\n${log}`);
    throw new Error([message, ...logs].join('\n'));
  } finally {
    for (const watch of watches) watch.stop();
    if (storeDir !== '') {
      rmSync(storeDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  }
}

/**
 * A started follower-maze process: its stderr's tail, and its latest stats line.
 * @param {string} name
 * @param {import('node:child_process').ChildProcess} child
 * @returns {RunningProcess}
 */
function running(name, child) {
  track(child);
  /** @type {Record<string, string> | undefined} */
  let latest;
  let partial = '';
  child.stdout?.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) latest = parseStatsLine(line) ?? latest;
  });
  return {
    name,
    child,
    log: tail(/** @type {import('node:stream').Readable} */ (child.stderr)),
    stats: () => latest,
  };
}

/** @param {RunningProcess} each */
function rssKiB(each) {
  return procStatusKiB(/** @type {number} */ (each.child.pid), 'VmRSS') ?? Number.NaN;
}

/**
 * One bench run: start the BUILT server on free loopback ports, drive it with the built
 * `follower-maze simulate --json`, measure both processes, stop the server with SIGTERM.
 *
 * Invariants: only 127.0.0.1; every wait is bounded; a run that fails throws, and its
 * children are killed (`killChildren()` also serves the bench's own exit); the server must
 * exit 0 after SIGTERM.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startServer } from '../support/server-process.mjs';
import { watchServerUsage } from './server-usage.mjs';

const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
/** Characters of a child's output quoted when it fails. */
const LOG_TAIL_CHARS = 2_000;
const REPORT_USAGE = new URL('./report-usage.mjs', import.meta.url).href;

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();

/** Kills every child still running: on a failed run, and when the bench itself exits. */
export function killChildren() {
  for (const child of children) child.kill('SIGKILL');
}

/**
 * Settings of one simulated load; `rate` (events/s, 0 or absent: as fast as possible) and
 * `stalledClients` (0 or absent: none) are passed on to the simulator as they are.
 * @typedef {{ events: number, clients: number, users: number, maxBatch: number,
 *   eventMix: string, rate?: number, stalledClients?: number }} LoadSettings
 */

/**
 * Where to write V8 CPU profiles of a run (`<dir>/<name>-server.cpuprofile`, `…-simulator…`).
 * @typedef {{ dir: string, name: string }} CpuProfiles
 */

/**
 * Runs one simulation against a fresh server and returns its figures (see `FIGURES`).
 * @param {{ bin: string, load: LoadSettings, timeoutMs: number, cpuProfiles?: CpuProfiles }} options
 */
export async function runOnce({ bin, load, timeoutMs, cpuProfiles }) {
  const { child: server, ports: listening } = startServer({
    bin,
    nodeArgs: cpuProfileFlags(cpuProfiles, 'server'),
    serverArgs: ['--host', HOST],
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(server);
  const serverLog = tail(server.stderr);
  const slowDrops = count(server.stderr, /ERR_CLIENT_SLOW/g);
  /** @type {import('./server-usage.mjs').UsageWatch | undefined} */
  let serverWatch;
  try {
    const ports = await withTimeout(listening, STARTUP_TIMEOUT_MS, 'server startup');
    serverWatch = watchServerUsage(/** @type {number} */ (server.pid));
    const simulation = await runSimulator(bin, ports, load, timeoutMs, cpuProfiles);
    const serverUsage = await serverWatch.read();
    await stopServer(server, serverLog);
    return {
      eventsPerSecond: simulation.summary.eventsPerSecond,
      notificationsPerSecond: simulation.summary.notificationsPerSecond,
      seconds: simulation.summary.seconds,
      serverPeakRssMb: serverUsage.peakRssMb,
      serverCpuSeconds: serverUsage.cpuSeconds,
      simulatorCpuSeconds: simulation.usage.cpuSeconds,
      // CPU time and lifetime of the same process: what share of a core it kept busy.
      simulatorCores: simulation.usage.cpuSeconds / simulation.usage.wallSeconds,
      simulatorProcessSeconds: simulation.usage.wallSeconds,
      simulatorPeakRssMb: simulation.usage.peakRssMb,
      events: simulation.summary.events,
      notifications: simulation.summary.notifications,
      seed: simulation.summary.seed,
      digest: simulation.summary.digest,
      rate: simulation.summary.rate ?? null,
      sendRate: simulation.summary.sendRate ?? null,
      latency: simulation.summary.latency ?? null,
      // The server reports each client it drops as slow (a stalled one) on stderr.
      slowClientsDropped: slowDrops(),
    };
  } catch (error) {
    killChildren();
    const log = serverLog();
    throw log === '' ? error : new Error(`${messageOf(error)}\nserver log:\n${log}`);
  } finally {
    serverWatch?.stop();
  }
}

/**
 * @param {string} bin
 * @param {{ eventPort: number, clientPort: number }} ports
 * @param {LoadSettings} load
 * @param {number} timeoutMs
 * @param {CpuProfiles | undefined} cpuProfiles
 */
async function runSimulator(bin, ports, load, timeoutMs, cpuProfiles) {
  const simulator = startNode(
    [
      ...cpuProfileFlags(cpuProfiles, 'simulator'),
      '--import',
      REPORT_USAGE,
      bin,
      'simulate',
      '--json',
      '--host',
      HOST,
      '--eventListenerPort',
      String(ports.eventPort),
      '--clientListenerPort',
      String(ports.clientPort),
      '--totalEvents',
      String(load.events),
      '--concurrencyLevel',
      String(load.clients),
      '--numberOfUsers',
      String(load.users),
      '--maxEventSourceBatchSize',
      String(load.maxBatch),
      '--eventMix',
      load.eventMix,
      '--logInterval',
      '0',
      ...(load.rate ? ['--rate', String(load.rate)] : []),
      ...(load.stalledClients ? ['--stalledClients', String(load.stalledClients)] : []),
    ],
    // fd 3 carries the usage report of report-usage.mjs.
    ['ignore', 'pipe', 'pipe', 'pipe'],
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
 * @param {import('node:child_process').ChildProcess} server
 * @param {() => string} serverLog
 */
async function stopServer(server, serverLog) {
  const exited = once(server, 'exit');
  server.kill('SIGTERM');
  const [code, signal] = await withTimeout(exited, STOP_TIMEOUT_MS, 'server shutdown');
  if (code !== 0) {
    throw new Error(`the server exited with ${code ?? signal} after SIGTERM\n${serverLog()}`);
  }
}

/**
 * Node flags that write a CPU profile when the process exits (the server exits on SIGTERM).
 * @param {CpuProfiles | undefined} cpuProfiles
 * @param {'server' | 'simulator'} role
 */
function cpuProfileFlags(cpuProfiles, role) {
  if (cpuProfiles === undefined) return [];
  const name = `${cpuProfiles.name}-${role}.cpuprofile`;
  return ['--cpu-prof', '--cpu-prof-dir', cpuProfiles.dir, '--cpu-prof-name', name];
}

/**
 * @param {string[]} args
 * @param {import('node:child_process').StdioOptions} stdio
 */
function startNode(args, stdio) {
  return track(spawn(process.execPath, args, { stdio }));
}

/**
 * Counts `child` among the children `killChildren()` kills until it exits.
 * @param {import('node:child_process').ChildProcess} child
 */
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Rejects when `promise` takes longer than `ms`.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
function withTimeout(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout])).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * Everything a stream says; read it once it ended.
 * @param {import('node:stream').Readable | null} stream
 */
function collect(stream) {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk) => {
    text += chunk;
  });
  return () => text;
}

/**
 * How often `pattern` (global) occurs in what a stream says, within a chunk.
 * @param {import('node:stream').Readable | null} stream
 * @param {RegExp} pattern
 */
function count(stream, pattern) {
  let found = 0;
  stream?.on('data', (chunk) => {
    found += String(chunk).match(pattern)?.length ?? 0;
  });
  return () => found;
}

/**
 * The last LOG_TAIL_CHARS a stream said, to quote in an error.
 * @param {import('node:stream').Readable | null} stream
 */
function tail(stream) {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk) => {
    text = (text + chunk).slice(-LOG_TAIL_CHARS);
  });
  return () => text;
}

/** @param {unknown} error */
function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

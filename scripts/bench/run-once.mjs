/**
 * One bench run of `serve`: start the BUILT server on free loopback ports, drive it with the
 * built `follower-maze simulate --json`, measure both processes, stop the server with SIGTERM.
 *
 * Invariants: only 127.0.0.1; every wait is bounded; a run that fails throws, and its
 * children are killed (`killChildren()` also serves the bench's own exit); the server must
 * exit 0 after SIGTERM.
 */
import { startServer } from '../support/server-process.mjs';
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
import { watchServerUsage } from './server-usage.mjs';
import { cpuProfileFlags, HOST, runSimulator, simulationFigures } from './simulator-run.mjs';

/**
 * @typedef {import('./simulator-run.mjs').LoadSettings} LoadSettings
 * @typedef {import('./simulator-run.mjs').CpuProfiles} CpuProfiles
 */

/**
 * Runs one simulation against a fresh server and returns its figures (see `FIGURES`). With
 * `tls`, the server runs with `tls.serverArgs` and the simulator with `tls.simulatorArgs`.
 * `serverBin` (default `bin`): the server of another build, driven by the simulator of `bin`.
 * @param {{ bin: string, serverBin?: string, load: LoadSettings, timeoutMs: number,
 *   cpuProfiles?: CpuProfiles, tls?: { serverArgs: string[], simulatorArgs: string[] } }} options
 */
export async function runOnce({ bin, serverBin = bin, load, timeoutMs, cpuProfiles, tls }) {
  const { child: server, ports: listening } = startServer({
    bin: serverBin,
    nodeArgs: cpuProfileFlags(cpuProfiles, 'server'),
    serverArgs: ['--host', HOST, ...(tls?.serverArgs ?? [])],
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
    const simulation = await runSimulator({
      bin,
      eventPort: ports.eventPort,
      clientPorts: [ports.clientPort],
      load,
      timeoutMs,
      cpuProfiles,
      extraArgs: tls?.simulatorArgs,
    });
    const serverUsage = await serverWatch.read();
    await stopChild(server, { name: 'the server', signal: 'SIGTERM', ms: STOP_TIMEOUT_MS });
    const { eventsPerSecond, notificationsPerSecond, seconds, ...simulator } =
      simulationFigures(simulation);
    return {
      eventsPerSecond,
      notificationsPerSecond,
      seconds,
      serverPeakRssMb: serverUsage.peakRssMb,
      serverCpuSeconds: serverUsage.cpuSeconds,
      ...simulator,
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

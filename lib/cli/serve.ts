/**
 * What `follower-maze serve` does once its options are parsed: listen on both ports with one
 * maze, and live as every server command does (server-process.ts: signals, problems,
 * monitoring, the startup line, stats, exit codes). With `--nats-url`, serve-on-log.ts
 * instead: the same ports over the event log, so the state survives restarts.
 */
import type { Gateway } from '../cluster/gateway.js';
import type { MonitorSources } from '../monitor/sources.js';
import { listen, type MazeServer } from '../net/listen.js';
import { loadClientAuth } from './client-auth-options.js';
import { logClients, logEventSources } from './connection-log.js';
import { formatAddress } from './format.js';
import { type ServeArgs, toListenOptions } from './serve-options.js';
import { processOutput, type ServeOutput } from './serve-output.js';
import { ServerProcess } from './server-process.js';

// Loaded only with a monitoring port (see `startMonitorFor()`).
async function serveSources(server: MazeServer): Promise<MonitorSources> {
  const { serveMonitorSources } = await import('../monitor/maze-sources.js');
  return serveMonitorSources(server);
}

/**
 * Runs the server until SIGINT/SIGTERM. Resolves once it is listening (the process then
 * lives on its sockets); on a bind failure or a bad option it prints one line and sets the
 * exit code instead of throwing.
 */
export async function runServe(
  args: ServeArgs,
  output: ServeOutput = processOutput(),
): Promise<MazeServer | Gateway | undefined> {
  // Only this path loads the NATS client.
  if (args.natsUrl !== undefined) {
    const { runServeOnLog } = await import('./serve-on-log.js');
    return runServeOnLog(args, output);
  }
  const lifecycle = new ServerProcess(args, output);
  try {
    const authenticate = await loadClientAuth(args);
    const tls = lifecycle.startTls();
    const server = await listen({
      ...toListenOptions(args),
      authenticate,
      ...(tls !== undefined && { tls }),
    });
    lifecycle.onClose(() => server.close());
    const { maze } = server;
    lifecycle.watch(maze);
    logEventSources(maze, lifecycle.logger);
    logClients(maze, lifecycle.logger);
    await lifecycle.startMonitor(() => serveSources(server));
    lifecycle.listening({
      addresses: `events on ${formatAddress(server.eventAddress)}, clients on ${formatAddress(server.clientAddress)}`,
      limits: maze.options,
      stats: () => maze.stats(),
      maxClients: { given: args.maxClients, used: maze.options.maxClients },
    });
    return server;
  } catch (error) {
    return lifecycle.failed(error);
  }
}

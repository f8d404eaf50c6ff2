/**
 * What `follower-maze serve` does once its options are parsed: listen on both ports, then run
 * as every server command does (run-server.ts: startup line, banner, problems, stats,
 * monitoring, signals).
 *
 * Exit codes: besides run-server.ts's, 1 when a port (the monitoring port too) cannot be
 * bound, 2 for an invalid option.
 */
import { ErrorCode, MazeError } from '../core/errors.js';
import type { MonitorServer } from '../monitor/monitor-server.js';
import { listen, type MazeServer } from '../net/listen.js';
import { logClients, logEventSources } from './connection-log.js';
import { formatAddress } from './format.js';
import type { Logger } from './logger.js';
import {
  EXIT_FAILED,
  loggerFor,
  type RunningServer,
  runServer,
  startMonitorFor,
} from './run-server.js';
import { type ServeArgs, toListenOptions } from './serve-options.js';
import { processOutput, type ServeOutput } from './serve-output.js';

/** Exit code when a port cannot be bound. */
export const EXIT_LISTEN_FAILED = EXIT_FAILED;
/** Exit code for an invalid option. */
export const EXIT_USAGE = 2;

/** Where `serve` binds its HTTP monitoring port (`--monitor-port`); off when not given. */
export interface ServeMonitorOptions {
  /** Default `DEFAULT_MONITOR_HOST` (loopback), whatever `--host` says. */
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/**
 * Starts the monitoring port of a running `serve` server and prints
 * `follower-maze monitor: http://HOST:PORT` on stderr; does nothing when `options` is
 * `undefined` (monitoring is off by default). Rejects like `startMonitor()`.
 */
export function startServeMonitor(
  server: MazeServer,
  options: ServeMonitorOptions | undefined,
  logger: Logger,
): Promise<MonitorServer | undefined> {
  return startMonitorFor(() => serveSources(server), options, logger);
}

async function serveSources(server: MazeServer) {
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
): Promise<MazeServer | undefined> {
  let server: MazeServer;
  try {
    server = await listen(toListenOptions(args));
  } catch (error) {
    return failedToStart(error, output);
  }
  const logger = loggerFor(args, output);
  const { maze } = server;
  const running: RunningServer = {
    addresses: `events on ${formatAddress(server.eventAddress)}, clients on ${formatAddress(server.clientAddress)}`,
    limits: maze.options,
    onProblem: (listener) => maze.on('problem', listener),
    // serve never stops by itself: only a signal ends it.
    onStopped: () => {},
    stats: () => ({ ...maze.stats() }),
    monitorSources: () => serveSources(server),
    close: () => server.close(),
  };
  logEventSources(maze, logger);
  logClients(maze, logger);
  try {
    await runServer(running, args, output, logger);
  } catch (error) {
    return failedToStart(error, output);
  }
  return server;
}

/** A MazeError at startup is one line and an exit code; anything else is a bug: thrown. */
export function failedToStart(error: unknown, output: ServeOutput): undefined {
  if (!(error instanceof MazeError)) throw error;
  output.err(`follower-maze: ${error.message}`);
  process.exitCode = error.code === ErrorCode.InvalidOption ? EXIT_USAGE : EXIT_FAILED;
  return undefined;
}

/**
 * What every server command (`serve`, `ingest`, `gateway`) does once it is listening
 * (docs/protocol.md §8-9): print the startup line and the banner, log problems (rate-limited
 * per code), print a stats line every `statsInterval` ms, serve the monitoring port, shut down
 * gracefully on SIGINT/SIGTERM, log SIGHUP and keep serving, and exit 1 when the server stops
 * by itself (a cluster process that can no longer do its work).
 *
 * Output contract (tests and scripts parse it):
 * - stdout: `follower-maze listening: <addresses>` (e.g. `events on HOST:PORT, clients on
 *   HOST:PORT`; an IPv6 host in brackets), always the first line, then `stats key=value …`
 *   lines: every counter of `stats()`, then `time`, `uptimeSeconds`, `eventsPerSecond` and
 *   `notificationsPerSecond` (over the last period).
 * - stderr: the banner (`follower-maze VERSION pid N …` and `follower-maze limits: …`),
 *   `problem ERR_… [context]: message` (the first PROBLEMS_SHOWN_PER_CODE per code and
 *   interval, then `problem ERR_… xN in the last 10 s (not shown)`), and lifecycle lines.
 *   With a monitoring port, `follower-maze monitor: http://HOST:PORT` on stderr.
 * - Exit codes: 0 after a graceful shutdown, 1 when the server stopped by itself or the
 *   shutdown failed, 128 + signal number when a second signal cuts the shutdown short.
 */
import { performance } from 'node:perf_hooks';
import createDebug from 'debug';
import type { Problem } from '../core/errors.js';
import type { MonitorServer } from '../monitor/monitor-server.js';
import type { MonitorSources } from '../monitor/sources.js';
import type { CommonArgs } from './command-options.js';
import { formatAddress, formatFields, formatProblem, formatStats, StatsRates } from './format.js';
import { Logger } from './logger.js';
import { packageVersion } from './package-version.js';
import { ProblemLog } from './problem-log.js';
import type { ServeOutput } from './serve-output.js';

const log = createDebug('follower-maze:cli');

/** Exit code when the server stops by itself (or a port cannot be bound at startup). */
export const EXIT_FAILED = 1;

const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/** A server as the command line runs it. */
export interface RunningServer {
  /** What the startup line says after `listening: `. */
  readonly addresses: string;
  /** The settings in force, for the banner's `limits` line. */
  readonly limits: object;
  /** Its problems. */
  onProblem(listener: (problem: Problem) => void): void;
  /** Called at most once if the server stops by itself; the process then exits with 1. */
  onStopped(listener: (problem: Problem) => void): void;
  /** Counters for the stats lines (`eventsReceived` and `notificationsSent` make the rates). */
  stats(): Readonly<Record<string, number | boolean>>;
  /** The monitor's view of it; loaded only when a monitoring port is asked for. */
  monitorSources(): Promise<MonitorSources>;
  /** Closes everything it holds (ports, connections, the event log). */
  close(): Promise<void>;
}

/**
 * Starts the monitoring port (when `args.monitorPort` is set) and prints
 * `follower-maze monitor: http://HOST:PORT`. Rejects like `startMonitor()`.
 */
export async function startMonitorFor(
  sources: () => Promise<MonitorSources>,
  options: { readonly host?: string; readonly port: number } | undefined,
  logger: Logger,
): Promise<MonitorServer | undefined> {
  if (options === undefined) return undefined;
  // Loaded only when asked for: prom-client and its process metrics cost ~8 MB of RSS.
  const { startMonitor } = await import('../monitor/monitor-server.js');
  const monitor = await startMonitor({ ...options, sources: await sources() });
  logger.info(`follower-maze monitor: http://${formatAddress(monitor.address)}`);
  return monitor;
}

/** The logger every server command writes its stderr lines with. */
export function loggerFor(args: CommonArgs, output: ServeOutput): Logger {
  return new Logger(output.err, { level: args.logLevel, format: args.logFormat });
}

/**
 * Runs `server` until SIGINT/SIGTERM (or until it stops by itself). Resolves once the
 * startup line is out; rejects like `startMonitor()` if the monitoring port cannot be bound,
 * after closing the server.
 */
export async function runServer(
  server: RunningServer,
  args: CommonArgs,
  output: ServeOutput,
  logger: Logger,
): Promise<void> {
  let monitor: MonitorServer | undefined;
  try {
    monitor = await startMonitorFor(
      () => server.monitorSources(),
      args.monitorPort === undefined
        ? undefined
        : { host: args.monitorHost, port: args.monitorPort },
      logger,
    );
  } catch (error) {
    await server.close();
    throw error;
  }

  const problems = logProblems(server, logger);
  let statsTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  const shutDown = (why: string, exitCode: number): void => {
    stopping = true;
    logger.info(`follower-maze: ${why}, shutting down`);
    if (statsTimer !== undefined) clearInterval(statsTimer);
    problems.drain();
    // The monitor answers 503 while the server closes, and goes last.
    server
      .close()
      .then(() => monitor?.close())
      .then(
        () => {
          log('shutdown complete');
          logger.info('follower-maze: stopped');
          process.exit(exitCode);
        },
        (error: unknown) => {
          logger.error(`follower-maze: shutdown failed: ${String(error)}`);
          process.exit(EXIT_FAILED);
        },
      );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn(`follower-maze: ${signal} again, exiting now`);
      process.exit(SIGNAL_EXIT_CODES[signal] ?? EXIT_FAILED);
    }
    shutDown(`${signal} received`, 0);
  };
  // SIGHUP (the terminal closed, or a reload request): there is no configuration to reload,
  // so it is logged and the server keeps serving; without a handler it would die silently.
  const onHangup = (): void => {
    logger.info('follower-maze: SIGHUP received, ignored (nothing to reload); still serving');
  };
  // Before the startup line: whoever reads it may signal at once.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHangup);
  server.onStopped((problem) => {
    if (!stopping) shutDown(`stopped (${problem.code})`, EXIT_FAILED);
  });

  output.out(`follower-maze listening: ${server.addresses}`);
  logger.info(
    `follower-maze ${packageVersion()} pid ${process.pid} node ${process.version}: ${server.addresses}`,
  );
  logger.info(`follower-maze limits: ${formatFields(server.limits)}`);

  if (args.statsInterval > 0) {
    const rates = new StatsRates(performance.now());
    statsTimer = setInterval(() => {
      const stats = server.stats();
      output.out(formatStats(stats, rates.next(stats, performance.now())));
    }, args.statsInterval);
  }
}

/** Problem lines, rate-limited per code (`ProblemLog`); `drain()` prints what is held. */
function logProblems(server: RunningServer, logger: Logger): { drain(): void } {
  const problemLog = new ProblemLog(() => performance.now());
  let problemTimer: NodeJS.Timeout | undefined;
  const flushProblems = (summaries: readonly string[]): void => {
    for (const summary of summaries) logger.warn(summary);
    // One timer for the open interval, so its summary comes even if no problem follows.
    const endsAt = problemLog.endsAt;
    if (problemTimer !== undefined || endsAt === undefined) return;
    problemTimer = setTimeout(
      () => {
        problemTimer = undefined;
        flushProblems(problemLog.flush());
      },
      Math.max(1, Math.ceil(endsAt - performance.now())),
    );
    problemTimer.unref();
  };
  server.onProblem((problem) => {
    const decision = problemLog.offer(problem.code);
    for (const summary of decision.summaries) logger.warn(summary);
    if (decision.show)
      logger.warn(formatProblem(problem), { code: problem.code, ...problem.context });
    flushProblems([]);
  });
  return {
    drain: () => {
      clearTimeout(problemTimer);
      for (const summary of problemLog.drain()) logger.warn(summary);
    },
  };
}

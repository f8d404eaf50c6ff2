/**
 * What `follower-maze serve` does once its options are parsed (docs/protocol.md §8-9): listen, print a
 * startup line with the bound addresses and a banner, log problems (rate-limited per code),
 * print a stats line every `statsInterval` ms, shut down gracefully on SIGINT/SIGTERM, and
 * log SIGHUP and keep serving.
 *
 * Output contract (tests and scripts parse it):
 * - stdout: `follower-maze listening: events on HOST:PORT, clients on HOST:PORT` (an IPv6
 *   host in brackets), always the first line, then
 *   `stats key=value …` lines: every counter of `stats()`, then `time`, `uptimeSeconds`,
 *   `eventsPerSecond` and `notificationsPerSecond` (over the last period).
 * - stderr: the banner (`follower-maze VERSION pid N …` and `follower-maze limits: …`),
 *   `problem ERR_… [context]: message` (the first PROBLEMS_SHOWN_PER_CODE per code and
 *   interval, then `problem ERR_… xN in the last 10 s (not shown)`), and lifecycle lines.
 *   With a monitoring port, `follower-maze monitor: http://HOST:PORT` on stderr before the
 *   banner.
 * - A failing or stalled stdout/stderr never stops the server: see `line-writer.ts`.
 * - Exit codes: 0 after a graceful shutdown, 1 when a port (the monitoring port too) cannot be
 *   bound, 2 for an invalid
 *   option, 128 + signal number when a second signal cuts the shutdown short.
 */
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatWithOptions } from 'node:util';
import createDebug from 'debug';
import type { MazeStats } from '../adapter/maze.js';
import { ErrorCode, MazeError, type Problem } from '../core/errors.js';
import type { MonitorServer } from '../monitor/monitor-server.js';
import { listen, type MazeServer } from '../net/listen.js';
import { LineWriter } from './line-writer.js';
import { Logger } from './logger.js';
import { packageVersion } from './package-version.js';
import { ProblemLog } from './problem-log.js';
import { type ServeArgs, toListenOptions } from './serve-options.js';

const log = createDebug('follower-maze:cli');

/** Exit code when a port cannot be bound. */
export const EXIT_LISTEN_FAILED = 1;
/** Exit code for an invalid option. */
export const EXIT_USAGE = 2;

const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/** Where the CLI writes; the process by default. */
export interface ServeOutput {
  out(line: string): void;
  err(line: string): void;
}

let processLines: ServeOutput | undefined;

/**
 * The process's stdout and stderr through `LineWriter`s (made once, on first use): never
 * throws, never buffers without bound. `debug` output goes through the stderr writer too.
 */
export function processOutput(): ServeOutput {
  if (processLines === undefined) {
    const stdout = new LineWriter(process.stdout, 'stdout');
    const stderr = new LineWriter(process.stderr, 'stderr');
    createDebug.log = (...args: unknown[]) => {
      stderr.write(formatWithOptions({ colors: process.stderr.isTTY === true }, ...args));
    };
    processLines = { out: (line) => stdout.write(line), err: (line) => stderr.write(line) };
  }
  return processLines;
}

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
export async function startServeMonitor(
  server: MazeServer,
  options: ServeMonitorOptions | undefined,
  logger: Logger,
): Promise<MonitorServer | undefined> {
  if (options === undefined) return undefined;
  // Loaded only when asked for: prom-client and its process metrics cost ~8 MB of RSS.
  const { serveMonitorSources, startMonitor } = await import('../monitor/index.js');
  const monitor = await startMonitor({ ...options, sources: serveMonitorSources(server) });
  logger.info(`follower-maze monitor: http://${formatAddress(monitor.address)}`);
  return monitor;
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
  const logger = new Logger(output.err, { level: args.logLevel, format: args.logFormat });
  let monitor: MonitorServer | undefined;
  try {
    monitor = await startServeMonitor(
      server,
      args.monitorPort === undefined
        ? undefined
        : { host: args.monitorHost, port: args.monitorPort },
      logger,
    );
  } catch (error) {
    await server.close();
    return failedToStart(error, output);
  }

  const { maze, eventAddress, clientAddress } = server;
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
  maze.on('problem', (problem) => {
    const decision = problemLog.offer(problem.code);
    for (const summary of decision.summaries) logger.warn(summary);
    if (decision.show)
      logger.warn(formatProblem(problem), { code: problem.code, ...problem.context });
    flushProblems([]);
  });
  logConnections(maze, logger);

  let statsTimer: NodeJS.Timeout | undefined;
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn(`follower-maze: ${signal} again, exiting now`);
      process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
    }
    stopping = true;
    logger.info(`follower-maze: ${signal} received, shutting down`);
    if (statsTimer !== undefined) clearInterval(statsTimer);
    clearTimeout(problemTimer);
    for (const summary of problemLog.drain()) logger.warn(summary);
    // The monitor answers 503 while the server closes, and goes last.
    server
      .close()
      .then(() => monitor?.close())
      .then(
        () => {
          log('shutdown complete');
          logger.info('follower-maze: stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error(`follower-maze: shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
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

  output.out(
    `follower-maze listening: events on ${formatAddress(eventAddress)}, clients on ${formatAddress(clientAddress)}`,
  );
  logger.info(
    `follower-maze ${packageVersion()} pid ${process.pid} node ${process.version}:` +
      ` events on ${formatAddress(eventAddress)}, clients on ${formatAddress(clientAddress)}`,
  );
  logger.info(`follower-maze limits: ${formatFields(maze.options)}`);

  if (args.statsInterval > 0) {
    const rates = new StatsRates(performance.now());
    statsTimer = setInterval(() => {
      const stats = maze.stats();
      output.out(formatStats(stats, rates.next(stats, performance.now())));
    }, args.statsInterval);
  }

  return server;
}

// Event sources are few and matter: info. Clients can be thousands a second: debug.
function logConnections(maze: MazeServer['maze'], logger: Logger): void {
  maze.on('eventSourceAttached', ({ connection, remoteAddress }) =>
    logger.info(`${connection} connected from ${remoteAddress ?? 'a stream'}`, {
      connection,
      remoteAddress: remoteAddress ?? undefined,
    }),
  );
  maze.on('eventSourceEnded', ({ connection, lineCount }) =>
    logger.info(`${connection} disconnected after ${lineCount} line(s)`, { connection, lineCount }),
  );
  if (!logger.enabled('debug')) return;
  maze.on('clientIdentified', ({ connection, userId, remoteAddress }) =>
    logger.debug(`${connection} connected from ${remoteAddress ?? 'a stream'} as user ${userId}`, {
      connection,
      userId,
      remoteAddress: remoteAddress ?? undefined,
    }),
  );
  maze.on('clientClosed', ({ connection, userId, remoteAddress }) =>
    logger.debug(`${connection} disconnected${userId === undefined ? '' : ` (user ${userId})`}`, {
      connection,
      userId,
      remoteAddress: remoteAddress ?? undefined,
    }),
  );
}

// A MazeError at startup is one line and an exit code; anything else is a bug: thrown.
function failedToStart(error: unknown, output: ServeOutput): undefined {
  if (!(error instanceof MazeError)) throw error;
  output.err(`follower-maze: ${error.message}`);
  process.exitCode = error.code === ErrorCode.InvalidOption ? EXIT_USAGE : EXIT_LISTEN_FAILED;
  return undefined;
}

/** `127.0.0.1:9090`, or `[::1]:9090` for IPv6. */
export function formatAddress(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${host}:${address.port}`;
}

/** `problem ERR_X [client#3 line 4 seq 17 user 5]: message` */
export function formatProblem(problem: Problem): string {
  const context = problem.context;
  const where: string[] = [];
  if (context.connection !== undefined) where.push(context.connection);
  if (context.lineNumber !== undefined) where.push(`line ${context.lineNumber}`);
  if (context.sequence !== undefined) where.push(`seq ${context.sequence}`);
  if (context.userId !== undefined) where.push(`user ${context.userId}`);
  const at = where.length === 0 ? '' : ` [${where.join(' ')}]`;
  return `problem ${problem.code}${at}: ${problem.message}`;
}

/** `stats eventsReceived=… eventsApplied=… …`: every counter, `key=value`, then `extra`. */
export function formatStats(
  stats: MazeStats,
  extra: Readonly<Record<string, string | number>> = {},
): string {
  return `stats ${formatFields({ ...stats, ...extra })}`;
}

/** `key=value key=value …` */
function formatFields(fields: object): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
}

/**
 * The fields a stats line adds to the counters: the wall-clock time, seconds since the
 * server started, and events received and notifications sent per second since the last line.
 */
export class StatsRates {
  readonly #startedAt: number;
  #lastAt: number;
  #lastEvents = 0;
  #lastNotifications = 0;

  /** @param startedAt a monotonic time in ms (`performance.now()`) */
  constructor(startedAt: number) {
    this.#startedAt = startedAt;
    this.#lastAt = startedAt;
  }

  /** The fields for `stats` taken at monotonic time `now` (ms), `date` the wall clock. */
  next(stats: MazeStats, now: number, date: Date = new Date()): Record<string, string | number> {
    const seconds = Math.max(0.001, (now - this.#lastAt) / 1000);
    const fields = {
      time: date.toISOString(),
      uptimeSeconds: ((now - this.#startedAt) / 1000).toFixed(1),
      eventsPerSecond: Math.round((stats.eventsReceived - this.#lastEvents) / seconds),
      notificationsPerSecond: Math.round(
        (stats.notificationsSent - this.#lastNotifications) / seconds,
      ),
    };
    this.#lastAt = now;
    this.#lastEvents = stats.eventsReceived;
    this.#lastNotifications = stats.notificationsSent;
    return fields;
  }
}

/**
 * The life of every server command (`serve`, `ingest`, `gateway`) as a process
 * (docs/protocol.md §8-9), from the first step of startup on: signals, problem lines
 * (rate-limited per code), the monitoring port, the startup line and banner, stats lines,
 * and the exit.
 *
 * Startup is a series of steps (connect to NATS, replay the log, bind a port …); each one
 * registers how to undo it (`onClose`), so whatever ends the process (a signal at any time,
 * a failed step, a half that stops by itself) closes exactly what was opened, newest first.
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
 * - Exit codes: 0 after a graceful shutdown (a signal, even during startup), 1 when a step
 *   of startup fails (a port in use, NATS unreachable), when the process stops by itself
 *   (an ingest that finds another writer, a gateway that cannot follow the log) or when
 *   shutting down fails, 2 for an invalid option, 128 + signal number when a second signal
 *   cuts the shutdown short. A failed startup sets `process.exitCode` and returns, so an
 *   in-process caller is not killed.
 */
import { performance } from 'node:perf_hooks';
import createDebug from 'debug';
import { descriptorLimit } from '../adapter/descriptor-limit.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import type { MonitorServer } from '../monitor/monitor-server.js';
import { readMonitorTokenFile } from '../monitor/monitor-token.js';
import type { MonitorSources } from '../monitor/sources.js';
import type { ServerTls } from '../net/tls.js';
import type { CommonArgs } from './command-options.js';
import { withFlagNames } from './flag-names.js';
import { formatAddress, formatFields, formatProblem, formatStats, StatsRates } from './format.js';
import { Logger } from './logger.js';
import { packageVersion } from './package-version.js';
import { ProblemLog } from './problem-log.js';
import type { ServeOutput } from './serve-output.js';
import { openTls, reloadTls, withTlsStats } from './tls-files.js';

const log = createDebug('follower-maze:cli');

/** Exit code when startup fails, the process stops by itself, or shutting down fails. */
const EXIT_FAILED = 1;
/** Exit code for an invalid option. */
export const EXIT_USAGE = 2;

const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/** What reports problems and may stop by itself: a maze, an ingest, a gateway. */
export interface WatchedServer {
  on(event: 'problem', listener: (problem: Problem) => void): unknown;
}

/** What may stop by itself (an ingest, a gateway): the process then exits 1. */
export interface StoppingServer extends WatchedServer {
  readonly stopped: boolean;
  once(event: 'stopped', listener: (problem: Problem) => void): unknown;
}

/** What the startup line, the banner and the stats lines show once the server listens. */
export interface ListeningServer {
  /** What the startup line says after `listening: `. */
  readonly addresses: string;
  /** The settings in force, for the banner's `limits` line. */
  readonly limits: object;
  /** Counters for the stats lines (`eventsReceived` and `notificationsSent` make the rates). */
  stats(): object;
  /**
   * `maxClients` as given and as used, for a server that takes clients: a warning follows the
   * banner when the descriptor limit lowered it.
   */
  readonly maxClients?: { readonly given: number; readonly used: number };
}

/**
 * Starts the monitoring port (when `options` is given) and prints
 * `follower-maze monitor: http(s)://HOST:PORT`. Rejects like `startMonitor()`, and with
 * `ERR_INVALID_OPTION` for a token file that cannot be read or holds no token.
 */
export async function startMonitorFor(
  sources: () => Promise<MonitorSources>,
  options:
    | {
        readonly host?: string;
        readonly port: number;
        readonly tls?: ServerTls;
        readonly tokenFile?: string;
      }
    | undefined,
  logger: Logger,
): Promise<MonitorServer | undefined> {
  if (options === undefined) return undefined;
  const { tokenFile, ...where } = options;
  const token = tokenFile === undefined ? undefined : readMonitorTokenFile(tokenFile);
  // Loaded only when asked for: prom-client and its process metrics cost ~8 MB of RSS.
  const { startMonitor } = await import('../monitor/monitor-server.js');
  const monitor = await startMonitor({ ...where, token, sources: await sources() });
  const scheme = options.tls === undefined ? 'http' : 'https';
  logger.info(`follower-maze monitor: ${scheme}://${formatAddress(monitor.address)}`);
  return monitor;
}

export class ServerProcess {
  readonly logger: Logger;
  readonly #args: CommonArgs;
  readonly #output: ServeOutput;
  /** What to close at the end, newest first. */
  readonly #closers: (() => Promise<unknown>)[] = [];
  readonly #problems: ProblemLog = new ProblemLog(() => performance.now());
  #problemTimer: NodeJS.Timeout | undefined;
  #statsTimer: NodeJS.Timeout | undefined;
  /** Aborted once the shutdown begins (a signal, a failed start, a half that stopped). */
  readonly #shutdown = new AbortController();
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#shutdown.signal.aborted) {
      this.logger.warn(`follower-maze: ${signal} again, exiting now`);
      process.exit(SIGNAL_EXIT_CODES[signal] ?? EXIT_FAILED);
    }
    this.#shutDown(`${signal} received`, 0);
  };
  #tls: ServerTls | undefined;
  // SIGHUP (the terminal closed, or a reload request): the TLS files are read again, if any;
  // otherwise it is logged and the server keeps serving. Without a handler it would die silently.
  readonly #onHangup = (): void => {
    const tls = this.#tls;
    if (tls === undefined) {
      this.logger.info(
        'follower-maze: SIGHUP received, ignored (nothing to reload); still serving',
      );
      return;
    }
    try {
      reloadTls(tls, this.#args);
    } catch (error) {
      if (!(error instanceof MazeError)) throw error;
      this.#logProblem({
        code: error.code,
        message: `SIGHUP: ${error.message}; the TLS certificate, key and CAs in force are kept`,
        context: {},
      });
      return;
    }
    this.logger.info(
      'follower-maze: SIGHUP received, TLS certificate, key and CAs reloaded: new connections get them, open ones keep theirs',
    );
  };

  /** Installs the signal handlers: from now on a signal shuts down what is open. */
  constructor(args: CommonArgs, output: ServeOutput) {
    this.#args = args;
    this.#output = output;
    this.logger = new Logger(output.err, { level: args.logLevel, format: args.logFormat });
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
    process.on('SIGHUP', this.#onHangup);
    if (args.unusedSettings.length > 0) {
      this.logger.info(
        `follower-maze: settings of other commands, not used here: ${args.unusedSettings.join(', ')}`,
      );
    }
  }

  /**
   * Reads the TLS files (`--tls-cert` …), which SIGHUP then reloads, and returns the ports'
   * `ServerTls`; `undefined` without TLS. Throws `MazeError(ERR_INVALID_OPTION)`.
   */
  startTls(): ServerTls | undefined {
    this.#tls = openTls(this.#args);
    return this.#tls;
  }

  /** Aborted when the shutdown begins: a startup step that waits (for NATS) stops waiting. */
  get signal(): AbortSignal {
    return this.#shutdown.signal;
  }

  /** Logs a problem of a startup step, rate-limited per code like the server's. */
  report(problem: Problem): void {
    this.#logProblem(problem);
  }

  /** Registers how to undo a startup step; closers run newest first. */
  onClose(close: () => Promise<unknown>): void {
    this.#closers.push(close);
  }

  /** Logs `server`'s problems, rate-limited per code. */
  watch(server: WatchedServer): void {
    server.on('problem', (problem) => this.#logProblem(problem));
  }

  /** As `watch()`, and the process exits 1 once `server` stops by itself. */
  watchStopping(server: StoppingServer): void {
    this.watch(server);
    const stop = (problem: Problem | undefined): void => {
      if (!this.#shutdown.signal.aborted) {
        this.#shutDown(`stopped (${problem?.code ?? 'ERR_LOG_FAILED'})`, EXIT_FAILED);
      }
    };
    if (server.stopped) stop(undefined);
    else server.once('stopped', stop);
  }

  /**
   * Starts the monitoring port if `--monitor-port` is given; it closes last. Rejects like
   * `startMonitor()`. A command that starts slowly passes `StartingSources` first.
   */
  async startMonitor(sources: () => Promise<MonitorSources>): Promise<void> {
    const args = this.#args;
    const tls = this.#tls;
    const monitor = await startMonitorFor(
      tls === undefined ? sources : async () => withTlsStats(await sources(), tls),
      args.monitorPort === undefined
        ? undefined
        : {
            host: args.monitorHost,
            port: args.monitorPort,
            tokenFile: args.monitorTokenFile,
            ...(args.monitorTls && tls !== undefined && { tls }),
          },
      this.logger,
    );
    // First in line, so closed last: it answers 503 while the rest closes.
    if (monitor !== undefined) this.#closers.unshift(() => monitor.close());
  }

  /** Prints the startup line and the banner, and starts the stats lines. */
  listening(server: ListeningServer): void {
    this.#output.out(`follower-maze listening: ${server.addresses}`);
    this.logger.info(
      `follower-maze ${packageVersion()} pid ${process.pid} node ${process.version}: ${server.addresses}`,
    );
    this.logger.info(`follower-maze limits: ${formatFields(server.limits)}`);
    const maxClients = server.maxClients;
    if (maxClients !== undefined && maxClients.given > maxClients.used) {
      this.logger.warn(
        withFlagNames(
          `follower-maze: maxClients ${maxClients.given} is more than the descriptor limit of ${descriptorLimit()} allows; using ${maxClients.used}, which keeps a reserve for the event source and the server`,
        ),
      );
    }
    if (this.#args.statsInterval > 0) {
      const rates = new StatsRates(performance.now());
      const tls = this.#tls;
      this.#statsTimer = setInterval(() => {
        const stats = tls === undefined ? server.stats() : { ...server.stats(), ...tls.stats() };
        this.#output.out(formatStats(stats, rates.next(stats, performance.now())));
      }, this.#args.statsInterval);
    }
  }

  /**
   * A startup step failed: one line (the library's option names followed by their flags),
   * everything opened so far closed, the signal handlers removed, `process.exitCode` set (2
   * for an invalid option, 1 otherwise). A failure after a shutdown began is that shutdown's. Anything but a `MazeError` is a bug: thrown.
   */
  async failed(error: unknown): Promise<undefined> {
    if (this.#shutdown.signal.aborted) return undefined;
    if (!(error instanceof MazeError)) throw error;
    this.#shutdown.abort();
    this.#output.err(`follower-maze: ${withFlagNames(error.message)}`);
    process.exitCode = error.code === ErrorCode.InvalidOption ? EXIT_USAGE : EXIT_FAILED;
    this.#removeHandlers();
    await this.#closeAll().catch((closeError: unknown) =>
      log('closing after a failed start: %O', closeError),
    );
    return undefined;
  }

  #shutDown(why: string, exitCode: number): void {
    this.#shutdown.abort();
    this.logger.info(`follower-maze: ${why}, shutting down`);
    this.#closeAll().then(
      () => {
        log('shutdown complete');
        this.logger.info('follower-maze: stopped');
        process.exit(exitCode);
      },
      (error: unknown) => {
        this.logger.error(`follower-maze: shutdown failed: ${String(error)}`);
        process.exit(EXIT_FAILED);
      },
    );
  }

  // The summaries of hidden problems come last: closing may report more (what it dropped).
  async #closeAll(): Promise<void> {
    clearInterval(this.#statsTimer);
    try {
      for (const close of this.#closers.splice(0).reverse()) await close();
    } finally {
      clearTimeout(this.#problemTimer);
      for (const summary of this.#problems.drain()) this.logger.warn(summary);
    }
  }

  #removeHandlers(): void {
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    process.off('SIGHUP', this.#onHangup);
  }

  #logProblem(problem: Problem): void {
    const decision = this.#problems.offer(problem.code);
    for (const summary of decision.summaries) this.logger.warn(summary);
    if (decision.show) {
      this.logger.warn(formatProblem(problem), { code: problem.code, ...problem.context });
    }
    this.#flushProblemsLater();
  }

  // One timer for the open interval, so its summary comes even if no problem follows.
  #flushProblemsLater(): void {
    const endsAt = this.#problems.endsAt;
    if (this.#problemTimer !== undefined || endsAt === undefined) return;
    this.#problemTimer = setTimeout(
      () => {
        this.#problemTimer = undefined;
        for (const summary of this.#problems.flush()) this.logger.warn(summary);
        this.#flushProblemsLater();
      },
      Math.max(1, Math.ceil(endsAt - performance.now())),
    );
    this.#problemTimer.unref();
  }
}

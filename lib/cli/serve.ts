/**
 * What `follower-maze serve` does once its options are parsed (SPEC 8-9): listen, print a
 * startup line with the bound addresses, log each problem on one line, print a stats line
 * every `statsInterval` ms, and shut down gracefully on SIGINT/SIGTERM.
 *
 * Output contract (tests and scripts parse it):
 * - stdout: `follower-maze listening: events on HOST:PORT, clients on HOST:PORT` (an IPv6
 *   host in brackets), then
 *   `stats key=value …` lines.
 * - stderr: `problem ERR_… [context]: message`, and lifecycle lines.
 * - Exit codes: 0 after a graceful shutdown, 1 when a port cannot be bound, 2 for an invalid
 *   option, 128 + signal number when a second signal cuts the shutdown short.
 */
import type { AddressInfo } from 'node:net';
import createDebug from 'debug';
import type { MazeStats } from '../adapter/maze.js';
import { ErrorCode, MazeError, type Problem } from '../core/errors.js';
import { listen, type MazeServer } from '../net/listen.js';
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

const processOutput: ServeOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs the server until SIGINT/SIGTERM. Resolves once it is listening (the process then
 * lives on its sockets); on a bind failure or a bad option it prints one line and sets the
 * exit code instead of throwing.
 */
export async function runServe(
  args: ServeArgs,
  output: ServeOutput = processOutput,
): Promise<MazeServer | undefined> {
  let server: MazeServer;
  try {
    server = await listen(toListenOptions(args));
  } catch (error) {
    if (error instanceof MazeError) {
      output.err(`follower-maze: ${error.message}`);
      process.exitCode = error.code === ErrorCode.InvalidOption ? EXIT_USAGE : EXIT_LISTEN_FAILED;
      return undefined;
    }
    throw error;
  }

  const { maze, eventAddress, clientAddress } = server;
  maze.on('problem', (problem) => output.err(formatProblem(problem)));
  output.out(
    `follower-maze listening: events on ${formatAddress(eventAddress)}, clients on ${formatAddress(clientAddress)}`,
  );

  let statsTimer: NodeJS.Timeout | undefined;
  if (args.statsInterval > 0) {
    statsTimer = setInterval(() => output.out(formatStats(maze.stats())), args.statsInterval);
  }

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      output.err(`follower-maze: ${signal} again, exiting now`);
      process.exit(SIGNAL_EXIT_CODES[signal] ?? 1);
    }
    stopping = true;
    output.err(`follower-maze: ${signal} received, shutting down`);
    if (statsTimer !== undefined) clearInterval(statsTimer);
    server.close().then(
      () => {
        log('shutdown complete');
        output.err('follower-maze: stopped');
        process.exit(0);
      },
      (error: unknown) => {
        output.err(`follower-maze: shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return server;
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

/** `stats eventsReceived=… eventsApplied=… …`: every counter, `key=value`, one line. */
export function formatStats(stats: MazeStats): string {
  const fields = Object.entries(stats).map(([key, value]) => `${key}=${String(value)}`);
  return `stats ${fields.join(' ')}`;
}

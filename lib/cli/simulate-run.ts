/**
 * `follower-maze simulate` in process: turns parsed flags and environment variables into
 * options, prints progress and the summary, and returns the exit code: 0 verified, 1 the
 * server broke the protocol, 2 usage or connection error, 130 interrupted (the first SIGINT
 * stops the run and prints the partial summary; a second one kills the process as usual).
 * The yargs command module around
 * it is `lib/cli/simulate-command.ts`, so the public declarations never need yargs' types.
 *
 * Output: progress on stderr (one line redrawn in place on a TTY, plain periodic lines
 * otherwise); the summary and `ALL NOTIFICATIONS RECEIVED` on stdout, or with `--json` a
 * single JSON line on stdout and nothing else there.
 */
import type { Writable } from 'node:stream';
import { MazeError } from '../errors.js';
import { resolveSimulateOptions } from '../simulate/options.js';
import { exitCodeOf, formatJson, formatProgress, formatSummary } from '../simulate/result.js';
import { runSimulation } from '../simulate/simulate.js';
import { processSources, readGivenSettings } from './command-options.js';
import { withFlagNames } from './flag-names.js';
import { flagOf } from './options.js';

/** Where the command writes and what it reads; `process` in the CLI, fakes in tests. */
export interface SimulateCommandIo {
  readonly stdout: Writable & { readonly isTTY?: boolean };
  readonly stderr: Writable & { readonly isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The command line as typed, to name a flag as it was spelled (see `SettingSources`). */
  readonly typed?: readonly string[];
  /** Where SIGINT comes from; `process` when absent. */
  readonly signals?: Pick<NodeJS.EventEmitter, 'once' | 'off'>;
}

const USAGE_ERROR = 2;

/**
 * Runs the command with parsed flags (`args`, as yargs gives them: text, or typed values) and
 * the environment's `FOLLOWER_MAZE_*` variables (and the original program's bare ones), and
 * returns its exit code.
 */
export async function runSimulateCommand(
  args: Readonly<Record<string, unknown>>,
  io: SimulateCommandIo,
): Promise<number> {
  const live = io.stderr.isTTY === true;
  let json: boolean;
  let options: ReturnType<typeof resolveSimulateOptions>;
  try {
    const given = readGivenSettings('simulate', args, {
      ...processSources,
      env: io.env,
      typed: io.typed,
    });
    const { json: jsonGiven, ...values } = given.values;
    json = jsonGiven === true;
    options = resolveSimulateOptions(
      values,
      (name) => given.labels[name] ?? `--${flagOf({ name })}`,
    );
  } catch (error) {
    if (!(error instanceof MazeError)) throw error;
    io.stderr.write(`follower-maze simulate: ${error.message}\n`);
    return USAGE_ERROR;
  }

  if (!json) {
    io.stdout.write(
      `simulating ${options.totalEvents} events from ${options.numberOfUsers} users to` +
        ` ${options.concurrencyLevel} clients at ${options.host}` +
        ` (events :${options.eventPort}, clients :${options.clientPorts.join(',')}),` +
        ` seed ${options.randomSeed}\n`,
    );
  }
  let progressShown = false;
  const interrupted = new AbortController();
  const onInterrupt = (): void => interrupted.abort();
  // `once`: a second Ctrl-C finds no listener and ends the process at once.
  const signals = io.signals ?? process;
  signals.once('SIGINT', onInterrupt);
  let result: Awaited<ReturnType<typeof runSimulation>>;
  try {
    result = await runSimulation(
      {
        ...options,
        onProgress: (progress) => {
          const line = formatProgress(progress);
          io.stderr.write(live ? `\r${line}\x1b[K` : `${line}\n`);
          progressShown = true;
        },
      },
      { signal: interrupted.signal },
    );
  } catch (error) {
    // A key file that cannot be used is found before anything connects.
    if (!(error instanceof MazeError)) throw error;
    io.stderr.write(`follower-maze simulate: ${withFlagNames(error.message)}\n`);
    return USAGE_ERROR;
  } finally {
    signals.off('SIGINT', onInterrupt);
  }
  if (live && progressShown) io.stderr.write('\n');

  if (json) {
    io.stdout.write(`${formatJson(result)}\n`);
  } else {
    for (const line of formatSummary(result)) {
      (line.startsWith('FAILED') ? io.stderr : io.stdout).write(`${line}\n`);
    }
  }
  return exitCodeOf(result);
}

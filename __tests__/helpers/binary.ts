/**
 * Every child process of a test starts here (nats-server aside: `nats.ts` starts it as the
 * scripts do, per suite): the built binary (`dist/bin/follower-maze.js`; `npm test` builds
 * first), a Node script or any other command, with its output split in lines and kept whole,
 * its exit code, bounded waits for a line or for its end. Every child is killed in
 * `afterEach` if it still runs; a child started in its own process group is killed with its
 * whole group, so nothing it started outlives a failed test either.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { afterEach } from '@jest/globals';
import { waitUntil, withTimeout } from './sockets.js';

const ROOT = new URL('../..', import.meta.url).pathname;
/** The built binary, `dist/bin/follower-maze.js` of the package's root. */
export const BINARY = `${ROOT}dist/bin/follower-maze.js`;
/**
 * After the child exits, how long its output may still take to close: a process it left
 * behind may hold it open, and the test then sees what was written until here.
 */
const OUTPUT_AFTER_EXIT_MS = 1_000;

/** How a child ended, and everything it wrote. */
export interface Finished {
  /** The exit code; `null` when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /** stderr as written (log records with their time and level). */
  readonly stderr: string;
}

/** On a timeout of `finished()`: a signal to send first, and how long to wait after it. */
export interface GentleStop {
  readonly signal: NodeJS.Signals;
  readonly graceMs: number;
}

export interface RunningBinary {
  readonly child: ChildProcess;
  readonly stdout: string[];
  /** stderr lines, each log record's message without its time and level (see `rawStderr`). */
  readonly stderr: string[];
  /** stderr lines as written. */
  readonly rawStderr: string[];
  /** Settles with the exit code (or 128 + signal number). */
  readonly exited: Promise<number>;
  waitForLine(stream: 'stdout' | 'stderr', pattern: RegExp, ms?: number): Promise<string>;
  /**
   * Settles once the child has exited and its output is read, within `ms`. Past `ms` the
   * child is stopped (`stop.signal` first when given, then SIGKILL to it, or to its group)
   * and the promise rejects with what it wrote.
   */
  finished(ms: number, stop?: GentleStop): Promise<Finished>;
}

export interface ChildOptions {
  /** Its environment besides PATH, the only variable it inherits. */
  readonly env?: Record<string, string>;
  /** Starts it in its own process group, which cleanup and a timeout kill whole. */
  readonly group?: boolean;
}

const children: { child: ChildProcess; group: boolean }[] = [];

afterEach(() => {
  for (const { child, group } of children.splice(0)) kill(child, group, 'SIGKILL');
});

/**
 * Runs the binary with `args`; with `descriptorLimit`, under `ulimit -n` (soft and hard, so
 * Node cannot raise it) set by a shell that then becomes the binary.
 */
export function run(
  args: string[],
  env: Record<string, string> = {},
  descriptorLimit?: number,
): RunningBinary {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`npm run build\` first`);
  const command = [process.execPath, BINARY, ...args];
  const [file, ...argv] =
    descriptorLimit === undefined
      ? command
      : ['bash', '-c', 'ulimit -n "$0" && exec "$@"', String(descriptorLimit), ...command];
  return runCommand(file as string, argv, { env });
}

/** Runs `node` with `args` (Node options, then a script or `-e`) in the package's root. */
export function runNode(args: string[], env: Record<string, string> = {}): RunningBinary {
  return runCommand(process.execPath, args, { env });
}

/** Runs `file` (found on the PATH unless a path) with `args` in the package's root. */
export function runCommand(
  file: string,
  args: string[],
  options: ChildOptions = {},
): RunningBinary {
  const group = options.group ?? false;
  const child = spawn(file, args, {
    cwd: ROOT,
    detached: group,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push({ child, group });
  const output = { stdout: [] as string[], stderr: [] as string[] };
  const rawStderr: string[] = [];
  const text = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[name]?.setEncoding('utf8');
    child[name]?.on('data', (chunk: string) => {
      text[name] += chunk;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      if (name === 'stderr') rawStderr.push(...parts);
      output[name].push(...(name === 'stderr' ? parts.map(withoutTimeAndLevel) : parts));
    });
  }
  // A child that cannot start (no such file) emits 'error' and may never exit.
  const ended = new Promise<Pick<Finished, 'code' | 'signal'>>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  ended.catch(() => {});
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exited = ended.then(
    ({ code, signal }) => code ?? 128 + constants.signals[signal ?? 'SIGKILL'],
  );
  exited.catch(() => {});

  async function stop(gentle: GentleStop | undefined): Promise<void> {
    if (gentle !== undefined) {
      child.kill(gentle.signal);
      await withTimeout(ended, gentle.graceMs, 'the exit').catch(() => {});
    }
    kill(child, group, 'SIGKILL');
  }

  return {
    child,
    ...output,
    rawStderr,
    exited,
    waitForLine: async (stream, pattern, ms = 10_000) => {
      await waitUntil(
        () => output[stream].some((line) => pattern.test(line)),
        `a ${stream} line matching ${pattern}`,
        ms,
      );
      return output[stream].find((line) => pattern.test(line)) as string;
    },
    finished: async (ms, gentle) => {
      let end: Pick<Finished, 'code' | 'signal'>;
      try {
        end = await withTimeout(ended, ms, `${file} to exit`);
      } catch (error) {
        await stop(gentle);
        throw new Error(
          `${(error as Error).message}\n--- stdout:\n${text.stdout}\n--- stderr:\n${text.stderr}`,
        );
      }
      await withTimeout(closed, OUTPUT_AFTER_EXIT_MS, 'its output to close').catch(() => {});
      return { ...end, stdout: text.stdout, stderr: text.stderr };
    },
  };
}

/** Sends `signal` to `child` if it still runs, or to its whole process group. */
function kill(child: ChildProcess, group: boolean, signal: NodeJS.Signals): void {
  if (!group) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return;
  }
  if (child.pid === undefined) return;
  try {
    // The group may outlive its leader: what the leader started is still in it.
    process.kill(-child.pid, signal);
  } catch {
    // No process left in the group.
  }
}

/** A text log record's message: `2026-11-30T06:10:00.123Z WARN  problem …` → `problem …`. */
function withoutTimeAndLevel(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN |INFO |DEBUG) /, '');
}

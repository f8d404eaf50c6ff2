/**
 * The built binary (`dist/bin/follower-maze.js`; `npm test` builds first), or any Node
 * script, as a child process of a test: its output split in lines, its exit code, bounded
 * waits for a line. Every child started by `run()` or `runNode()` is killed in `afterEach`
 * if it still runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, beforeAll } from '@jest/globals';
import { waitUntil } from './sockets.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const BINARY = `${ROOT}dist/bin/follower-maze.js`;

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
}

const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run \`npm run build\` first`);
});

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
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
  const command = [process.execPath, BINARY, ...args];
  const [file, ...argv] =
    descriptorLimit === undefined
      ? command
      : ['bash', '-c', 'ulimit -n "$0" && exec "$@"', String(descriptorLimit), ...command];
  return start(file as string, argv, env);
}

/** Runs `node` with `args` (Node options, then a script or `-e`) in the package's root. */
export function runNode(args: string[], env: Record<string, string> = {}): RunningBinary {
  return start(process.execPath, args, env, ROOT);
}

function start(
  file: string,
  argv: string[],
  env: Record<string, string>,
  cwd?: string,
): RunningBinary {
  const child = spawn(file, argv, {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output = { stdout: [] as string[], stderr: [] as string[] };
  const rawStderr: string[] = [];
  for (const name of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[name]?.setEncoding('utf8');
    child[name]?.on('data', (text: string) => {
      const parts = (partial + text).split('\n');
      partial = parts.pop() ?? '';
      if (name === 'stderr') rawStderr.push(...parts);
      output[name].push(...(name === 'stderr' ? parts.map(withoutTimeAndLevel) : parts));
    });
  }
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) =>
      resolve(code ?? (signal === 'SIGKILL' ? 137 : signal === 'SIGTERM' ? 143 : 130)),
    );
  });
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
  };
}

/** A text log record's message: `2026-11-30T06:10:00.123Z WARN  problem …` → `problem …`. */
function withoutTimeAndLevel(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN |INFO |DEBUG) /, '');
}

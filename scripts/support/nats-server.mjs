/**
 * A real `nats-server` as a child process, for the scripts that run a cluster (the bench's
 * `--profile cluster`) and for the tests (`__tests__/helpers/nats.ts` builds its restartable
 * server on it): where the binary is, how to start it on a loopback port, and when it is ready.
 *
 * Invariants: only 127.0.0.1 (`-a 127.0.0.1`; port -1, the default, lets the server pick a
 * free one, read back from its stderr); with a store directory JetStream is on with file
 * storage there (`-js -sd`);
 * stderr is read all along, so the pipe never fills and a failure can quote it; the wait for
 * readiness is bounded; nothing here signals a server that started: the caller owns its
 * lifetime (SIGINT stops it gracefully) and its store directory.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Longest wait for a `nats-server` to say it is ready. */
const NATS_START_MS = 10_000;
/** Where Debian's package puts it, off the PATH of a non-root user. */
export const DEBIAN_NATS_SERVER = '/usr/sbin/nats-server';

const LISTENING = /Listening for client connections on 127\.0\.0\.1:(\d+)/;
const READY = /Server is ready/;
/** Lines of stderr kept, to quote when the server fails. */
const KEPT_LINES = 40;

/** The `nats-server` executable: on PATH, else Debian's; `undefined` if neither exists. */
export function natsServerPath() {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const candidate of [...dirs.map((dir) => join(dir, 'nats-server')), DEBIAN_NATS_SERVER]) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/**
 * A started `nats-server`: the child, its last lines of stderr, and, once it is ready, its
 * URL and port.
 * @typedef {{ child: import('node:child_process').ChildProcess, log(): string,
 *   ready: Promise<{ url: string, port: number }> }} NatsServerProcess
 */

/**
 * Starts `nats-server [-c <config>] -a 127.0.0.1 -p <port> [-js -sd <storeDir>]` (the flags win
 * over the file), with `env` added to its environment (a config file may read passwords
 * from it). `ready` resolves once it
 * says which port it listens on and that it is ready; it rejects if it fails to start, exits
 * first, or is not ready within `NATS_START_MS` (the child is then left running: the caller
 * kills it).
 * @param {{ storeDir?: string, port?: number, path?: string, config?: string,
 *   env?: Record<string, string> }} options
 * @returns {NatsServerProcess}
 */
export function startNatsServer({ storeDir, port = -1, path = natsServerPath(), config, env }) {
  if (path === undefined) {
    throw new Error(`nats-server is neither on PATH nor at ${DEBIAN_NATS_SERVER}`);
  }
  const args = [
    ...(config === undefined ? [] : ['-c', config]),
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
  ];
  if (storeDir !== undefined) args.push('-js', '-sd', storeDir);
  const child = spawn(path, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  /** @type {string[]} */
  const lines = [];
  const log = () => lines.join('\n');
  const ready = new Promise((resolve, reject) => {
    /** @type {number | undefined} */
    let listening;
    let partial = '';
    let settled = false;
    const settle = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const fail = (why) =>
      settle(() =>
        reject(new Error(`nats-server ${args.join(' ')} ${why}; its stderr:\n${log()}`)),
      );
    const timer = setTimeout(() => fail(`was not ready within ${NATS_START_MS} ms`), NATS_START_MS);
    child.once('error', (error) => fail(`could not start (${error.message})`));
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
        const match = LISTENING.exec(line);
        if (match !== null) listening = Number(match[1]);
        if (READY.test(line) && listening !== undefined) {
          const found = listening;
          settle(() => resolve({ url: `nats://127.0.0.1:${found}`, port: found }));
        }
      }
    });
  });
  return { child, log, ready };
}

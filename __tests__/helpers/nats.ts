/**
 * A real `nats-server` per suite, for the cluster integration tests.
 *
 * `startNatsServer()` runs `nats-server -a 127.0.0.1 -p -1 [-js -sd <temp dir>]`, reads its
 * stderr until it says which port it listens on and that it is ready, and returns a handle:
 * `restart()` stops it and starts it again on the same port with the same store (what a
 * NATS restart looks like to a client), `stop()` stops it by PID with SIGINT, SIGKILL after a
 * bounded wait, and deletes its temp dir.
 *
 * `describeWithNats()` runs a suite only where `nats-server` is on PATH. Without it the suite
 * is skipped with one line on stderr saying how to install it, unless
 * `FOLLOWER_MAZE_REQUIRE_NATS=1` (set by `.ci/run`), where a missing binary fails the suite.
 *
 * Nothing outlives the suite: every server started here is stopped in `afterAll`, and killed
 * at process exit if a suite ended without it. Every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';

/** Longest wait for a `nats-server` to say it is ready, or to exit after a signal. */
export const NATS_START_MS = 10_000;
export const NATS_STOP_MS = 5_000;

/** `.ci/run` sets it: a missing `nats-server` fails the cluster suites instead of skipping them. */
export const NATS_REQUIRED = process.env.FOLLOWER_MAZE_REQUIRE_NATS === '1';

const LISTENING = /Listening for client connections on 127\.0\.0\.1:(\d+)/;
const READY = /Server is ready/;
/** Lines of stderr kept per server, for the message of a failed start. */
const KEPT_LINES = 40;

/** The `nats-server` executable on PATH, or `undefined`. */
export function natsServerPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'nats-server');
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/**
 * `describe(name, body)` where `nats-server` is on PATH; otherwise skipped with one line on
 * stderr, or failed under `FOLLOWER_MAZE_REQUIRE_NATS=1`.
 */
export function describeWithNats(name: string, body: () => void): void {
  if (natsServerPath() !== undefined) {
    describe(name, body);
    return;
  }
  if (NATS_REQUIRED) {
    describe(name, () => {
      it('finds nats-server on PATH (FOLLOWER_MAZE_REQUIRE_NATS=1)', () => {
        throw new Error(
          'nats-server is not on PATH and FOLLOWER_MAZE_REQUIRE_NATS=1: install it (apt-get install nats-server)',
        );
      });
    });
    return;
  }
  process.stderr.write(
    `skipping "${name}": nats-server is not on PATH (install it with: apt-get install nats-server)\n`,
  );
  describe.skip(name, body);
}

/** A running `nats-server`. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Its JetStream store (kept across `restart()`); `undefined` without JetStream. */
  readonly storeDir: string | undefined;
  /** PID of the current process. */
  readonly pid: number;
  /**
   * Stops it (SIGINT) and starts it again on the same port with the same store, after
   * `downForMs` (default 0) without it.
   */
  restart(downForMs?: number): Promise<void>;
  /** Stops it and deletes its store. Idempotent. */
  stop(): Promise<void>;
}

/** Options of `startNatsServer()`. */
export interface NatsServerOptions {
  /** Run JetStream (`-js`) with a temp store; default true. */
  readonly jetstream?: boolean;
  /** The port; default any free one. */
  readonly port?: number;
}

const running = new Set<ChildProcess>();
const servers = new Set<NatsServer>();

// A suite that ended without afterAll (a crash, a timeout) must not leave servers behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
afterAll(async () => {
  await Promise.all([...servers].map((server) => server.stop()));
});

/** Starts a `nats-server` on a free loopback port; stopped after the suite at the latest. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const path = natsServerPath();
  if (path === undefined) throw new Error('nats-server is not on PATH');
  const storeDir =
    options.jetstream === false ? undefined : mkdtempSync(join(tmpdir(), 'follower-maze-nats-'));
  let current = await spawnServer(path, options.port ?? -1, storeDir);
  let stopped = false;
  const server: NatsServer = {
    get url() {
      return `nats://127.0.0.1:${current.port}`;
    },
    get port() {
      return current.port;
    },
    storeDir,
    get pid() {
      return current.child.pid as number;
    },
    async restart(downForMs = 0) {
      await stopChild(current.child);
      await delay(downForMs);
      current = await spawnServer(path, current.port, storeDir);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      servers.delete(server);
      await stopChild(current.child);
      if (storeDir !== undefined) rmSync(storeDir, { recursive: true, force: true });
    },
  };
  servers.add(server);
  return server;
}

interface Spawned {
  readonly child: ChildProcess;
  readonly port: number;
}

function spawnServer(path: string, port: number, storeDir: string | undefined): Promise<Spawned> {
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (storeDir !== undefined) args.push('-js', '-sd', storeDir);
  const child = spawn(path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const lines: string[] = [];
  return new Promise<Spawned>((resolve, reject) => {
    let listening: number | undefined;
    let partial = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`nats-server ${args.join(' ')} ${why}; its stderr:\n${lines.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`was not ready within ${NATS_START_MS} ms`), NATS_START_MS);
    child.once('error', (error) => fail(`could not start (${error.message})`));
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`));
    // Read stderr for the whole life of the server: a full pipe would block its logging.
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
        const match = LISTENING.exec(line);
        if (match !== null) listening = Number(match[1]);
        if (READY.test(line) && listening !== undefined) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.once('exit', () => running.delete(child));
          resolve({ child, port: listening });
        }
      }
    });
  });
}

/** SIGINT, then SIGKILL if it has not exited within `NATS_STOP_MS`. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  const timedOut = await Promise.race([
    exited.then(() => false),
    delay(NATS_STOP_MS).then(() => true),
  ]);
  if (timedOut) {
    child.kill('SIGKILL');
    await Promise.race([exited, delay(NATS_STOP_MS)]);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

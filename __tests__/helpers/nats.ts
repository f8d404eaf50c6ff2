/**
 * A real `nats-server` per suite, for the cluster integration tests.
 *
 * `startNatsServer()` runs `nats-server -a 127.0.0.1 -p -1 [-js -sd <temp dir>]` (started as
 * the scripts start it: scripts/support/nats-server.mjs) and returns a handle:
 * `restart()` stops it and starts it again on the same port with the same store (what a
 * NATS restart looks like to a client), `reload(config)` has it reload a new configuration
 * (SIGHUP), `stop()` stops it by PID with SIGINT, SIGKILL after a bounded wait, and deletes
 * its temp dir.
 *
 * `describeWithNats()` runs a suite only where `nats-server` is (on PATH, or Debian's in
 * /usr/sbin). Without it the suite
 * is skipped with one line on stderr saying how to install it, unless
 * `FOLLOWER_MAZE_REQUIRE_NATS=1` (set by `.ci/run`), where a missing binary fails the suite.
 *
 * Nothing outlives the suite: every server started here is stopped in `afterAll`, and killed
 * at process exit if a suite ended without it. Every wait is bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from '@jest/globals';
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  natsServerPath,
  startNatsServer as startNatsProcess,
} from '../../scripts/support/nats-server.mjs';

/** Longest wait for a `nats-server` to exit after a signal, or to reload its configuration. */
const NATS_STOP_MS = 5_000;

/** `.ci/run` sets it: a missing `nats-server` fails the cluster suites instead of skipping them. */
const NATS_REQUIRED = process.env.FOLLOWER_MAZE_REQUIRE_NATS === '1';

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
      it('finds nats-server (FOLLOWER_MAZE_REQUIRE_NATS=1)', () => {
        throw new Error(
          'nats-server is neither on PATH nor in /usr/sbin and FOLLOWER_MAZE_REQUIRE_NATS=1: install it (apt-get install nats-server)',
        );
      });
    });
    return;
  }
  process.stderr.write(
    `skipping "${name}": nats-server is neither on PATH nor in /usr/sbin (install it with: apt-get install nats-server)\n`,
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
  /**
   * Writes `config` over its configuration file and has it reload it (SIGHUP), as an
   * operator changing users or tokens would; resolves once it says so. Only for a server
   * started with a `config`.
   */
  reload(config: string): Promise<void>;
  /** Stops it and deletes its store. Idempotent. */
  stop(): Promise<void>;
}

/** Options of `startNatsServer()`. */
export interface NatsServerOptions {
  /** Run JetStream (`-js`) with a temp store; default true. */
  readonly jetstream?: boolean;
  /** The port; default any free one. */
  readonly port?: number;
  /** A configuration file's text (`-c`; the helper's flags win over it), e.g. users. */
  readonly config?: string;
  /** Added to its environment: a configuration may read passwords from it (`$NAME`). */
  readonly env?: Record<string, string>;
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
  if (path === undefined) throw new Error('nats-server is neither on PATH nor in /usr/sbin');
  const storeDir =
    options.jetstream === false ? undefined : mkdtempSync(join(tmpdir(), 'follower-maze-nats-'));
  const configDir =
    options.config === undefined
      ? undefined
      : mkdtempSync(join(tmpdir(), 'follower-maze-nats-conf-'));
  const setup: Setup = { path, storeDir, env: options.env };
  if (configDir !== undefined) {
    setup.config = join(configDir, 'nats-server.conf');
    writeFileSync(setup.config, options.config as string);
  }
  let current = await spawnServer(setup, options.port ?? -1);
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
      current = await spawnServer(setup, current.port);
    },
    async reload(config) {
      if (setup.config === undefined)
        throw new Error('reload() needs a server started with a config');
      writeFileSync(setup.config, config);
      const reloaded = stderrLine(current.child, /Reloaded server configuration/);
      current.child.kill('SIGHUP');
      await reloaded;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      servers.delete(server);
      await stopChild(current.child);
      for (const dir of [storeDir, configDir]) {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  servers.add(server);
  return server;
}

/** The info of JetStream stream `stream` on `nats`, through a connection of its own. */
export async function streamInfo(nats: NatsServer, stream: string): Promise<StreamInfo> {
  const admin = await connect({ servers: nats.url });
  try {
    return await (await jetstreamManager(admin)).streams.info(stream);
  } finally {
    await admin.close();
  }
}

interface Spawned {
  readonly child: ChildProcess;
  readonly port: number;
}

/** How every start of one server runs it. */
interface Setup {
  readonly path: string;
  readonly storeDir: string | undefined;
  readonly env: Record<string, string> | undefined;
  config?: string;
}

async function spawnServer(setup: Setup, port: number): Promise<Spawned> {
  const started = startNatsProcess({ ...setup, port });
  running.add(started.child);
  started.child.once('exit', () => running.delete(started.child));
  try {
    return { child: started.child, port: (await started.ready).port };
  } catch (error) {
    started.child.kill('SIGKILL');
    throw error;
  }
}

/** Resolves when `child` writes a line matching `pattern` on stderr, within `NATS_STOP_MS`. */
function stderrLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.stderr?.off('data', onData);
      reject(new Error(`nats-server did not say ${pattern} within ${NATS_STOP_MS} ms`));
    }, NATS_STOP_MS);
    // The last bytes seen, so that a line split between two chunks is still found.
    let seen = '';
    function onData(chunk: string | Buffer): void {
      seen = `${seen}${String(chunk)}`.slice(-1_000);
      if (!pattern.test(seen)) return;
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      resolve();
    }
    child.stderr?.on('data', onData);
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

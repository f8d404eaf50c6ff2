/**
 * The BUILT server as a child process, for the scripts that drive it over loopback (the
 * bench, `demo.mjs`, and the memory scripts `stalled-client-rss.mjs`, `idle-readers-rss.mjs`
 * and `reorder-memory.mjs`; the ones that need verified clients run the built
 * `follower-maze simulate` against it): where the build is, how to start `serve` — or a
 * cluster's `ingest` and `gateway` — on free ports, the ports in its startup line, a rolling
 * view of its stdout, its stats lines (`--stats-interval`), and figures from
 * `/proc/<pid>/status`.
 *
 * Invariants: a server is always started on port 0 (`--event-port 0 --client-port 0` for
 * `serve`, the one port of its role for `ingest` and `gateway`; the kernel picks free ports,
 * read back from the startup line); its stdout is read all along, so the pipe never fills;
 * nothing here kills the child: each script owns its server's lifetime.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package's own build of the CLI. */
export const DEFAULT_SERVER_BIN = fileURLToPath(
  new URL('../../dist/bin/follower-maze.js', import.meta.url),
);

/** The startup line, `follower-maze listening: events on H:P, clients on H:P`: both ports. */
export const LISTENING_LINE = /events on [^\s,]+:(\d+), clients on [^\s,]+:(\d+)/;

/**
 * The startup line of each cluster command, `follower-maze listening: events on H:P` (ingest)
 * or `… clients on H:P` (gateway): its one port, and the flag that asks for it.
 */
const CLUSTER_ROLES = {
  ingest: { portFlag: '--event-port', line: /listening: events on [^\s,]+:(\d+)/ },
  gateway: { portFlag: '--client-port', line: /listening: clients on [^\s,]+:(\d+)/ },
};

/**
 * A rolling view of a child's stdout.
 * @typedef {{ text(): string,
 *   waitFor(pattern: RegExp): Promise<RegExpExecArray> }} OutputWatch
 */

/**
 * A started server: the child, its stdout (when piped), and the ports it listens on.
 * @typedef {{ child: import('node:child_process').ChildProcess, stdout: OutputWatch,
 *   ports: Promise<{ eventPort: number, clientPort: number }> }} ServerProcess
 */

/**
 * Starts `node [nodeArgs] bin --event-port 0 --client-port 0 [serverArgs]`. stdout must be
 * piped: it carries the startup line. `ports` rejects if the server fails to start or exits
 * before printing it.
 * @param {{ bin?: string, nodeArgs?: string[], serverArgs?: string[], keepChars?: number,
 *   stdio: import('node:child_process').StdioOptions }} options
 * @returns {ServerProcess}
 */
export function startServer({
  bin = DEFAULT_SERVER_BIN,
  nodeArgs = [],
  serverArgs = [],
  keepChars = 4096,
  stdio,
}) {
  const { child, stdout, startupLine } = startCli(
    [...nodeArgs, bin, '--event-port', '0', '--client-port', '0', ...serverArgs],
    stdio,
    keepChars,
    LISTENING_LINE,
  );
  const ports = startupLine.then(([, eventPort, clientPort]) => ({
    eventPort: Number(eventPort),
    clientPort: Number(clientPort),
  }));
  return { child, stdout, ports };
}

/**
 * A started `ingest` or `gateway`: the child, its stdout, and the port it listens on.
 * @typedef {{ child: import('node:child_process').ChildProcess, stdout: OutputWatch,
 *   port: Promise<number> }} ClusterProcess
 */

/**
 * Starts `node [nodeArgs] bin <role> <its port flag> 0 [serverArgs]` (`serverArgs` carry the
 * `--nats-*` settings). stdout must be piped: it carries the startup line. `port` rejects if
 * the process fails to start or exits before printing it.
 * @param {{ role: keyof typeof CLUSTER_ROLES, bin?: string, nodeArgs?: string[],
 *   serverArgs?: string[], keepChars?: number,
 *   stdio: import('node:child_process').StdioOptions }} options
 * @returns {ClusterProcess}
 */
export function startClusterProcess({
  role,
  bin = DEFAULT_SERVER_BIN,
  nodeArgs = [],
  serverArgs = [],
  keepChars = 4096,
  stdio,
}) {
  const { portFlag, line } = CLUSTER_ROLES[role];
  const { child, stdout, startupLine } = startCli(
    [...nodeArgs, bin, role, portFlag, '0', ...serverArgs],
    stdio,
    keepChars,
    line,
  );
  return { child, stdout, port: startupLine.then(([, port]) => Number(port)) };
}

/**
 * Spawns `node args` and resolves `startupLine` with the match of `pattern` on its stdout;
 * rejects if it fails to start or exits first.
 * @param {string[]} args
 * @param {import('node:child_process').StdioOptions} stdio
 * @param {number} keepChars
 * @param {RegExp} pattern
 */
function startCli(args, stdio, keepChars, pattern) {
  const child = spawn(process.execPath, args, { stdio });
  const stdout = watchOutput(
    /** @type {import('node:stream').Readable} */ (child.stdout),
    keepChars,
  );
  /** @type {Promise<RegExpExecArray>} */
  const startupLine = new Promise((resolve, reject) => {
    const exitedEarly = (code, signal) =>
      reject(new Error(`the server exited before listening (${code ?? signal})`));
    child.once('error', reject);
    child.once('exit', exitedEarly);
    stdout.waitFor(pattern).then((match) => {
      child.off('error', reject);
      child.off('exit', exitedEarly);
      resolve(match);
    });
  });
  return { child, stdout, startupLine };
}

/**
 * Keeps the last `keepChars` characters of `stream` and resolves `waitFor(pattern)` with the
 * first match of `pattern` in them, now or after a later chunk.
 * @param {import('node:stream').Readable} stream
 * @param {number} keepChars
 * @returns {OutputWatch}
 */
export function watchOutput(stream, keepChars) {
  let text = '';
  /** @type {Set<() => void>} */
  const waiting = new Set();
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    text = (text + chunk).slice(-keepChars);
    for (const check of [...waiting]) check();
  });
  return {
    text: () => text,
    waitFor(pattern) {
      return new Promise((resolve) => {
        const check = () => {
          const match = pattern.exec(text);
          if (match === null) return;
          waiting.delete(check);
          resolve(match);
        };
        waiting.add(check);
        check();
      });
    },
  };
}

/**
 * A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, …) in KiB; `undefined` if absent.
 * Linux only: throws where there is no such file.
 * @param {number} pid
 * @param {string} field
 */
export function procStatusKiB(pid, field) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const value = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  return value === undefined ? undefined : Number(value);
}

/** A stats line, `stats key=value key=value …` (`--stats-interval`). */
const STATS_LINE = /^stats (.+)$/;

/**
 * The fields of a stats line, as strings; `undefined` for any other line.
 * @param {string} line
 * @returns {Record<string, string> | undefined}
 */
export function parseStatsLine(line) {
  const match = STATS_LINE.exec(line.trim());
  if (match === null) return undefined;
  /** @type {Record<string, string>} */
  const fields = {};
  for (const pair of (match[1] ?? '').split(' ')) {
    const equals = pair.indexOf('=');
    if (equals > 0) fields[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return fields;
}

/**
 * The stats lines of a server started with `--stats-interval` (stdout, already decoded as
 * UTF-8 by `watchOutput`).
 * @typedef {{ next(after?: number): Promise<Record<string, string>> }} StatsWatch
 */

/**
 * Watches `stream` for stats lines: `next(after)` resolves with the fields of the first one
 * that arrives from now on and was taken at or after `after` (ms since the epoch, compared
 * with its `time=`: a line written before `after` but read since is skipped).
 * @param {import('node:stream').Readable} stream
 * @returns {StatsWatch}
 */
export function watchStatsLines(stream) {
  let partial = '';
  /** @type {Set<(fields: Record<string, string>) => boolean>} */
  const waiting = new Set();
  stream.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const fields = parseStatsLine(line);
      if (fields === undefined) continue;
      for (const offer of [...waiting]) if (offer(fields)) waiting.delete(offer);
    }
  });
  return {
    next(after = 0) {
      return new Promise((resolve) => {
        waiting.add((fields) => {
          if (Date.parse(fields.time ?? '') < after) return false;
          resolve(fields);
          return true;
        });
      });
    },
  };
}

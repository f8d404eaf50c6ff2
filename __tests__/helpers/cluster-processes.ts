/**
 * Processes of the built binary for the end-to-end tests: a server, an ingest or a gateway
 * started on free ports (read back from its startup line), the flags of one event log
 * stream, the fields of a process's last stats line, a graceful stop and a kill, and a
 * `simulate --json` run with its summary. Every wait is bounded; `run()`
 * (helpers/binary.ts) kills what a test left running.
 */

import type { ReconnectSummary } from '../../lib/simulate/index.js';
import { parseStatsLine } from '../../scripts/support/server-process.mjs';
import { type RunningBinary, run } from './binary.js';
import type { NatsServer } from './nats.js';
import { type TcpPeer, type TcpPeers, waitUntil, withTimeout, writeAll } from './sockets.js';

const STARTUP_MS = 15_000;
const STOP_MS = 15_000;

/** A cluster process and the port of its startup line. */
export interface Started extends RunningBinary {
  readonly port: number;
}

/** Waits for the startup line of `binary`; rejects with its stderr if it exits first. */
async function startupLine(binary: RunningBinary, ms: number): Promise<string> {
  const exitedEarly = binary.exited.then((code) => {
    throw new Error(`exited with ${code} before listening`);
  });
  const line = await Promise.race([
    binary.waitForLine('stdout', /^follower-maze listening:/, ms),
    exitedEarly,
  ]).catch((error: unknown) => {
    throw new Error(`${String(error)}\nits stderr:\n${binary.rawStderr.join('\n')}`);
  });
  exitedEarly.catch(() => {});
  return line;
}

/** Runs `args` and waits for its startup line; rejects with its stderr if it exits first. */
async function start(args: string[], role: 'events' | 'clients'): Promise<Started> {
  const binary = run(args);
  const line = await startupLine(binary, STARTUP_MS);
  const match = new RegExp(`${role} on 127\\.0\\.0\\.1:(\\d+)`).exec(line);
  if (match === null) throw new Error(`unexpected startup line: ${line}`);
  return { ...binary, port: Number(match[1]) };
}

/** A serving process (`follower-maze [serve]`) and the ports of its startup line. */
interface Serving extends RunningBinary {
  readonly eventPort: number;
  readonly clientPort: number;
}

/** Options of `serve()`. */
interface ServeOptions {
  readonly env?: Record<string, string>;
  /** `ulimit -n` of the process (see `run()`). */
  readonly descriptorLimit?: number;
  /** Bound on the wait for the startup line; default 10 s. */
  readonly ms?: number;
}

/**
 * Serves on free ports (`--event-port 0 --client-port 0`, then `args`) and reads them from
 * the startup line; rejects with its stderr if it exits first.
 */
export async function serve(args: string[] = [], options: ServeOptions = {}): Promise<Serving> {
  const binary = run(
    ['--event-port', '0', '--client-port', '0', ...args],
    options.env,
    options.descriptorLimit,
  );
  const line = await startupLine(binary, options.ms ?? 10_000);
  const match = /events on 127\.0\.0\.1:(\d+), clients on 127\.0\.0\.1:(\d+)/.exec(line);
  if (match === null) throw new Error(`unexpected startup line: ${line}`);
  return { ...binary, eventPort: Number(match[1]), clientPort: Number(match[2]) };
}

/** The flags of the event log `stream` (each with a subject of its own) on `nats`. */
export function logFlags(nats: NatsServer, stream: string): string[] {
  return ['--nats-url', nats.url, '--nats-stream', stream, '--nats-subject', `e2e.${stream}`];
}

export function ingest(nats: NatsServer, stream: string, extra: string[] = []): Promise<Started> {
  return start(['ingest', ...logFlags(nats, stream), '--event-port', '0', ...extra], 'events');
}

export function gateway(nats: NatsServer, stream: string, extra: string[] = []): Promise<Started> {
  return start(['gateway', ...logFlags(nats, stream), '--client-port', '0', ...extra], 'clients');
}

/**
 * Connects a client of each user `1..users` to `server` (through `peers`) and waits, up to
 * `ms`, until its stats line counts them all connected (it runs with `--stats-interval`).
 */
export async function clientsOn(
  server: Started,
  users: number,
  peers: TcpPeers,
  ms: number,
): Promise<TcpPeer[]> {
  const clients: TcpPeer[] = [];
  for (let user = 1; user <= users; user++) {
    const client = await peers.connect(server.port);
    client.socket.write(`${user}\n`);
    clients.push(client);
  }
  await waitUntil(
    () => lastStats(server).clientsConnected === String(users),
    'every client identified',
    ms,
  );
  return clients;
}

/** The fields of the last stats line a process printed (`--stats-interval`). */
export function lastStats(process: RunningBinary): Record<string, string> {
  for (let at = process.stdout.length - 1; at >= 0; at--) {
    const fields = parseStatsLine(process.stdout[at] as string);
    if (fields !== undefined) return fields;
  }
  return {};
}

/** SIGTERM, then the exit code, bounded. */
export async function stop(process: RunningBinary): Promise<number> {
  process.child.kill('SIGTERM');
  return withTimeout(process.exited, STOP_MS, 'a graceful exit');
}

/** SIGKILL, then the exit code (137), bounded. */
export async function kill(process: RunningBinary): Promise<number> {
  process.child.kill('SIGKILL');
  return withTimeout(process.exited, STOP_MS, 'the exit after SIGKILL');
}

/**
 * Writes `text` to `source`, an event source of the ingest `events` (run with
 * `--stats-interval`), and waits, up to `ms`, until its stats line counts `count` events
 * appended.
 */
export async function sendThrough(
  events: RunningBinary,
  source: TcpPeer,
  text: string,
  count: number,
  ms: number,
): Promise<void> {
  await writeAll(source.socket, text, ms);
  await waitUntil(
    () => lastStats(events).eventsAppended === String(count),
    `the ingest to append ${count} events`,
    ms,
  );
}

/** The summary `follower-maze simulate --json` prints last. */
interface SimulationSummary {
  readonly ok?: boolean;
  readonly notifications?: number;
  readonly digest?: string;
  readonly failure?: unknown;
  readonly reconnects?: ReconnectSummary | null;
}

/** Runs `follower-maze simulate <args> --json` to its exit, bounded by `ms`. */
export async function simulate(
  args: string[],
  ms: number,
): Promise<{ code: number; summary: SimulationSummary }> {
  const simulation = run(['simulate', ...args, '--json']);
  const code = await withTimeout(simulation.exited, ms, 'the simulation');
  return { code, summary: JSON.parse(simulation.stdout.at(-1) ?? '{}') as SimulationSummary };
}

/**
 * Cluster processes of the built binary for the end-to-end tests: an ingest or a gateway
 * started on a free port (read back from its startup line), the flags of one event log
 * stream, the fields of a process's last stats line, and a graceful stop. Every wait is
 * bounded; `run()` (helpers/binary.ts) kills what a test left running.
 */
import { type RunningBinary, run } from './binary.js';
import type { NatsServer } from './nats.js';
import { withTimeout } from './sockets.js';

const STARTUP_MS = 15_000;
const STOP_MS = 15_000;

/** A cluster process and the port of its startup line. */
export interface Started extends RunningBinary {
  readonly port: number;
}

/** Runs `args` and waits for its startup line; rejects with its stderr if it exits first. */
export async function start(args: string[], role: 'events' | 'clients'): Promise<Started> {
  const binary = run(args);
  const exitedEarly = binary.exited.then((code) => {
    throw new Error(`exited with ${code} before listening`);
  });
  const line = await Promise.race([
    binary.waitForLine('stdout', /^follower-maze listening:/, STARTUP_MS),
    exitedEarly,
  ]).catch((error: unknown) => {
    throw new Error(`${String(error)}\nits stderr:\n${binary.rawStderr.join('\n')}`);
  });
  exitedEarly.catch(() => {});
  const match = new RegExp(`${role} on 127\\.0\\.0\\.1:(\\d+)`).exec(line);
  if (match === null) throw new Error(`unexpected startup line: ${line}`);
  return { ...binary, port: Number(match[1]) };
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

/** The fields of the last stats line a process printed (`--stats-interval`). */
export function lastStats(process: RunningBinary): Record<string, string> {
  const line = [...process.stdout].reverse().find((text) => text.startsWith('stats ')) ?? '';
  return Object.fromEntries(
    line
      .split(' ')
      .slice(1)
      .map((field) => field.split('=') as [string, string]),
  );
}

/** SIGTERM, then the exit code, bounded. */
export async function stop(process: RunningBinary): Promise<number> {
  process.child.kill('SIGTERM');
  return withTimeout(process.exited, STOP_MS, 'a graceful exit');
}

/**
 * What `ingest` and `gateway` share once their half is ready: one port in front of it, the
 * event log behind it, and the lifecycle of every server command (run-server.ts). Closing
 * stops the port from accepting, closes the half (the ingest appends what it holds, the
 * gateway flushes its clients), then the log and its NATS connection.
 */
import type { EventLog } from '../cluster/event-log.js';
import type { Problem } from '../core/errors.js';
import type { MonitorSources } from '../monitor/sources.js';
import type { OpenPort } from '../net/ports.js';
import type { CommonArgs } from './command-options.js';
import type { Logger } from './logger.js';
import { runServer } from './run-server.js';
import type { ServeOutput } from './serve-output.js';

/** An ingest or a gateway, as the command line runs it. */
export interface ClusterHalf {
  on(event: 'problem', listener: (problem: Problem) => void): unknown;
  once(event: 'stopped', listener: (problem: Problem) => void): unknown;
  stats(): object;
  close(): Promise<void>;
}

export interface ClusterProcess {
  readonly half: ClusterHalf;
  readonly port: OpenPort;
  readonly log: EventLog;
  /** What the startup line says after `listening: `. */
  readonly addresses: string;
  readonly limits: object;
  monitorSources(): Promise<MonitorSources>;
}

/** Runs `process` as run-server.ts says; rejects like `runServer()`. */
export function runClusterProcess(
  process: ClusterProcess,
  args: CommonArgs,
  output: ServeOutput,
  logger: Logger,
): Promise<void> {
  const { half, port, log } = process;
  return runServer(
    {
      addresses: process.addresses,
      limits: process.limits,
      onProblem: (listener) => half.on('problem', listener),
      onStopped: (listener) => half.once('stopped', listener),
      stats: () => ({ ...half.stats() }) as Readonly<Record<string, number | boolean>>,
      monitorSources: () => process.monitorSources(),
      close: async () => {
        const portClosed = port.close();
        await half.close();
        await portClosed;
        await log.close();
      },
    },
    args,
    output,
    logger,
  );
}

/**
 * `follower-maze serve --nats-url …`: one process whose state survives restarts. The ingest,
 * its snapshot writer and one gateway run together over the event log on NATS JetStream
 * (docs/protocol.md §11): the event source's port feeds the ingest, the client port is the
 * gateway's. A restarted `serve` loads the newest snapshot, replays the log after it and
 * goes on from the sequence number after the last event in the log, so follows survive and
 * a source that resends old numbers finds them stale. More gateways may join it on the same
 * stream.
 */
import type { EventLog } from '../cluster/event-log.js';
import type { Gateway } from '../cluster/gateway.js';
import { ErrorCode, MazeError } from '../errors.js';
import {
  GATEWAY_STAT_METRICS,
  gatewayMonitorSources,
  INGEST_PROCESS_STAT_METRICS,
  ingestMonitorSources,
} from '../monitor/cluster-sources.js';
import type { MonitorSources } from '../monitor/sources.js';
import { openEventPort } from '../net/ports.js';
import { loadClientAuth } from './client-auth-options.js';
import { closePortAndServer } from './close-port.js';
import { toIngestOptions, toSnapshotWriterOptions } from './cluster-options.js';
import { logEventSources } from './connection-log.js';
import { formatAddress } from './format.js';
import { startGateway } from './gateway.js';
import { startIngest } from './ingest.js';
import { openLog } from './nats-connection.js';
import type { ServeArgs } from './serve-options.js';
import type { ServeOutput } from './serve-output.js';
import { ServerProcess } from './server-process.js';

/** Runs `serve` on the event log until a signal or until a half stops; `undefined` if it could not start. */
export async function runServeOnLog(
  args: ServeArgs,
  output: ServeOutput,
): Promise<Gateway | undefined> {
  const lifecycle = new ServerProcess(args, output);
  try {
    if (args.resetOnDisconnect) {
      throw new MazeError(
        ErrorCode.InvalidOption,
        '--reset-on-disconnect cannot be used with --nats-url: the event log keeps every event',
      );
    }
    // Checked before NATS is: a bad key file stops startup at once.
    const authenticate = await loadClientAuth(args);
    const tls = lifecycle.startTls();
    const { eventLog, monitor } = await openLog(
      lifecycle,
      args,
      { ...GATEWAY_STAT_METRICS, ...INGEST_PROCESS_STAT_METRICS },
      true,
    );
    monitor.waitingFor('loading the newest snapshot and replaying the event log');
    const snapshots = await eventLog.openSnapshots();
    const { ingest, writer } = await startIngest(lifecycle, eventLog, snapshots, args);
    logEventSources(ingest, lifecycle.logger);
    const { gateway, clients } = await startGateway(
      lifecycle,
      eventLog,
      snapshots,
      args,
      authenticate,
      (started) =>
        monitor.attach(
          bothHalves(
            ingestMonitorSources(ingest, writer, eventLog),
            gatewayMonitorSources(started, eventLog),
          ),
        ),
      tls,
    );
    // Closers run newest first: both ports stop accepting, the ingest reads its source to the
    // end and appends it all, the gateway applies it and delivers it, then the clients are
    // closed (the client port's close() resolves once they are gone).
    lifecycle.onClose(() => appliedToTheEnd(gateway, eventLog, args.shutdownTimeout));
    const events = await openEventPort(ingest, args.host, args.eventPort, tls);
    lifecycle.onClose(() => {
      void clients.close();
      return closePortAndServer(events, ingest);
    });
    lifecycle.listening({
      addresses: `events on ${formatAddress(events.address)}, clients on ${formatAddress(clients.address)}`,
      limits: {
        ...toIngestOptions(args),
        ...gateway.options,
        ...toSnapshotWriterOptions(args),
        natsStream: args.natsStream,
      },
      stats: () => bothStats({ ...ingest.stats() }, { ...gateway.stats() }, writer.stats()),
      maxClients: { given: args.maxClients, used: gateway.options.maxClients },
    });
    return gateway;
  } catch (error) {
    return lifecycle.failed(error);
  }
}

/**
 * The counters of both halves as one: the ingest's for the input side (events received,
 * pending, the sequence), the gateway's for the clients, and the sum of what both count
 * (problems, no-ops, discarded lines).
 */
function bothStats(
  ingest: Readonly<Record<string, number | boolean>>,
  gateway: Readonly<Record<string, number | boolean>>,
  writer: object = {},
): Record<string, number | boolean> {
  const sum = (key: string): number => Number(ingest[key] ?? 0) + Number(gateway[key] ?? 0);
  return {
    ...gateway,
    ...ingest,
    ...writer,
    eventsNoop: sum('eventsNoop'),
    eventsDiscarded: sum('eventsDiscarded'),
    problems: sum('problems'),
  };
}

/** Waits, at most `ms`, until `gateway` has applied the log up to its tail. */
async function appliedToTheEnd(gateway: Gateway, log: EventLog, ms: number): Promise<void> {
  const end = (await log.tail().catch(() => undefined))?.position ?? 0;
  if (gateway.stats().logPosition >= end || gateway.closed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    const onApplied = (position: number): void => {
      if (position >= end) done();
    };
    gateway.on('applied', onApplied);
    function done(): void {
      clearTimeout(timer);
      gateway.off('applied', onApplied);
      resolve();
    }
  });
}

/**
 * One process's view of both halves: ready when both are, the ingest's counters for the input
 * side (events received, discarded, pending) over the gateway's of the same name, and the
 * gateway's clients.
 */
function bothHalves(ingest: MonitorSources, gateway: MonitorSources): MonitorSources {
  return {
    health: () => {
      const input = ingest.health();
      return input.ready ? gateway.health() : input;
    },
    stats: () => bothStats(ingest.stats(), gateway.stats()),
    statMetrics: { ...gateway.statMetrics, ...ingest.statMetrics },
    clients: (page) => gateway.clients?.(page) ?? { total: 0, items: [] },
    ...(gateway.watchResumes !== undefined && { watchResumes: gateway.watchResumes }),
    report: (problem) => gateway.report?.(problem),
  };
}

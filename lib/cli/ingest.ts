/**
 * What `follower-maze ingest` does once its options are parsed (docs/protocol.md §11):
 * connect to NATS JetStream (trying again, with a report each time, while it is
 * unavailable), resume the event log from its tail, start the snapshot writer
 * beside it (snapshots of the follow graph for late gateways), take the event source on its
 * port, and live as every server command does (server-process.ts). It exits 1 when
 * another ingest is found writing the log (`ERR_LOG_FENCED`): two would interleave it. A
 * snapshot writer that cannot restore the graph is reported, and the ingest appends without
 * it: appending needs no graph.
 */
import type { EventLog } from '../cluster/event-log.js';
import { createIngest, type Ingest } from '../cluster/ingest.js';
import type { SnapshotStore } from '../cluster/snapshot-store.js';
import {
  createSnapshotWriter,
  type SnapshotWriter,
  type SnapshotWriterStats,
} from '../cluster/snapshot-writer.js';
import { ErrorCode, MazeError } from '../errors.js';
import { INGEST_PROCESS_STAT_METRICS, ingestMonitorSources } from '../monitor/cluster-sources.js';
import { openEventPort } from '../net/ports.js';
import { closePortAndServer } from './close-port.js';
import {
  type IngestArgs,
  type NatsArgs,
  toIngestOptions,
  toSnapshotWriterOptions,
} from './cluster-options.js';
import { logEventSources } from './connection-log.js';
import { formatAddress } from './format.js';
import { openLog } from './nats-connection.js';
import { processOutput, type ServeOutput } from './serve-output.js';
import { ServerProcess } from './server-process.js';

/** Runs the ingest until a signal or until it stops; `undefined` if it could not start. */
export async function runIngest(
  args: IngestArgs,
  output: ServeOutput = processOutput(),
): Promise<Ingest | undefined> {
  const lifecycle = new ServerProcess(args, output);
  try {
    const tls = lifecycle.startTls();
    const { eventLog, monitor } = await openLog(
      lifecycle,
      args,
      INGEST_PROCESS_STAT_METRICS,
      false,
    );
    monitor.waitingFor('reading the event log tail and the newest snapshot');
    const { ingest, writer } = await startIngest(
      lifecycle,
      eventLog,
      await eventLog.openSnapshots(),
      args,
    );
    logEventSources(ingest, lifecycle.logger);
    monitor.attach(ingestMonitorSources(ingest, writer, eventLog));
    const port = await openEventPort(ingest, args.host, args.eventPort, tls);
    lifecycle.onClose(() => closePortAndServer(port, ingest));
    lifecycle.listening({
      addresses: `events on ${formatAddress(port.address)}`,
      limits: {
        ...toIngestOptions(args),
        ...toSnapshotWriterOptions(args),
        natsStream: args.natsStream,
      },
      stats: () => ({ ...ingest.stats(), ...writer.stats() }),
    });
    return ingest;
  } catch (error) {
    return lifecycle.failed(error);
  }
}

/** The stats of a snapshot writer that could not start: stopped, nothing saved. */
const NO_WRITER_STATS: SnapshotWriterStats = {
  snapshotsSaved: 0,
  snapshotFailures: 0,
  snapshotPosition: 0,
  snapshotBytes: 0,
  snapshotLogPosition: 0,
  snapshotsRefused: 0,
  snapshotWriterStopped: true,
};

/**
 * The ingest and its snapshot writer on `eventLog` (for `ingest`, and `serve --nats-url`):
 * each closed at shutdown and its problems logged; the process exits 1 if the ingest stops.
 * A writer that cannot restore the graph (`ERR_SNAPSHOT_BAD`, `ERR_LOG_CONFIG`) is reported
 * and left out: its stats then say it stopped.
 */
export async function startIngest(
  lifecycle: ServerProcess,
  eventLog: EventLog,
  store: SnapshotStore,
  args: Omit<IngestArgs, keyof NatsArgs>,
): Promise<{ readonly ingest: Ingest; readonly writer: Pick<SnapshotWriter, 'stats'> }> {
  const ingest = await createIngest({ log: eventLog, ...toIngestOptions(args) });
  lifecycle.onClose(() => ingest.close());
  lifecycle.watchStopping(ingest);
  let writer: SnapshotWriter;
  try {
    writer = await createSnapshotWriter({
      log: eventLog,
      store,
      ...toSnapshotWriterOptions(args),
    });
  } catch (error) {
    if (
      !(error instanceof MazeError) ||
      (error.code !== ErrorCode.SnapshotBad && error.code !== ErrorCode.LogConfig)
    ) {
      throw error;
    }
    lifecycle.report({
      code: error.code,
      message: `the snapshot writer cannot start: ${error.message}; the ingest appends without it, and takes no snapshot`,
      context: {},
    });
    return { ingest, writer: { stats: () => NO_WRITER_STATS } };
  }
  lifecycle.onClose(() => writer.close());
  lifecycle.watch(writer);
  return { ingest, writer };
}

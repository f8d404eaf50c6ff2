/**
 * What `follower-maze ingest` does once its options are parsed (docs/protocol.md §11):
 * connect to NATS JetStream, resume the event log from its tail, take the event source on
 * its port, then run as every server command does (run-server.ts). It exits 1 when another
 * ingest is found writing the log (`ERR_LOG_FENCED`): two would interleave it.
 */
import { connectEventLog } from '../cluster/connect.js';
import type { EventLog } from '../cluster/event-log.js';
import { createIngest, type Ingest } from '../cluster/ingest.js';
import { openEventPort } from '../net/ports.js';
import { type IngestArgs, toIngestOptions, toNatsSettings } from './cluster-options.js';
import { runClusterProcess } from './cluster-process.js';
import { logEventSources } from './connection-log.js';
import { formatAddress } from './format.js';
import { loggerFor } from './run-server.js';
import { failedToStart } from './serve.js';
import { processOutput, type ServeOutput } from './serve-output.js';

/** Runs the ingest until a signal or until it stops; `undefined` if it could not start. */
export async function runIngest(
  args: IngestArgs,
  output: ServeOutput = processOutput(),
): Promise<Ingest | undefined> {
  const logger = loggerFor(args, output);
  let eventLog: EventLog | undefined;
  let ingest: Ingest | undefined;
  try {
    eventLog = await connectEventLog(toNatsSettings(args));
    ingest = await createIngest({ log: eventLog, ...toIngestOptions(args) });
    const started = ingest;
    const port = await openEventPort(started, args.host, args.eventPort);
    logEventSources(started, logger);
    await runClusterProcess(
      {
        half: started,
        port,
        log: eventLog,
        addresses: `events on ${formatAddress(port.address)}`,
        limits: { ...toIngestOptions(args), natsStream: args.natsStream },
        monitorSources: async () => {
          const { ingestMonitorSources } = await import('../monitor/cluster-sources.js');
          return ingestMonitorSources(started);
        },
      },
      args,
      output,
      logger,
    );
    return started;
  } catch (error) {
    await ingest?.close();
    await eventLog?.close();
    return failedToStart(error, output);
  }
}

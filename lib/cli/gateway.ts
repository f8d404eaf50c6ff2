/**
 * What `follower-maze gateway` does once its options are parsed (docs/protocol.md §11):
 * connect to NATS JetStream, apply the event log up to its tail, then take clients on its
 * port and run as every server command does (run-server.ts). It exits 1 when it can no
 * longer follow the log (its clients are closed first, so they can reconnect elsewhere).
 */
import { connectEventLog } from '../cluster/connect.js';
import type { EventLog } from '../cluster/event-log.js';
import { createGateway, type Gateway } from '../cluster/gateway.js';
import { openClientPort } from '../net/ports.js';
import { type GatewayArgs, toGatewayOptions, toNatsSettings } from './cluster-options.js';
import { runClusterProcess } from './cluster-process.js';
import { logClients } from './connection-log.js';
import { formatAddress, formatProblem } from './format.js';
import { loggerFor } from './run-server.js';
import { failedToStart } from './serve.js';
import { processOutput, type ServeOutput } from './serve-output.js';

/** Runs the gateway until a signal or until it stops; `undefined` if it could not start. */
export async function runGateway(
  args: GatewayArgs,
  output: ServeOutput = processOutput(),
): Promise<Gateway | undefined> {
  const logger = loggerFor(args, output);
  let eventLog: EventLog | undefined;
  let gateway: Gateway | undefined;
  try {
    eventLog = await connectEventLog(toNatsSettings(args));
    gateway = await createGateway({ log: eventLog, ...toGatewayOptions(args) });
    const started = gateway;
    const { catchUpPosition } = started.stats();
    if (catchUpPosition > 0) {
      logger.info(`follower-maze: applying the event log up to position ${catchUpPosition}`);
      // Shown before run-server.ts's rate-limited log takes over: a failure here ends startup.
      started.on('problem', (problem) => logger.warn(formatProblem(problem)));
    }
    await started.ready;
    started.removeAllListeners('problem');
    const port = await openClientPort(started, args.host, args.clientPort);
    logClients(started, logger);
    await runClusterProcess(
      {
        half: started,
        port,
        log: eventLog,
        addresses: `clients on ${formatAddress(port.address)}`,
        limits: { ...started.options, natsStream: args.natsStream, logPosition: catchUpPosition },
        monitorSources: async () => {
          const { gatewayMonitorSources } = await import('../monitor/cluster-sources.js');
          return gatewayMonitorSources(started);
        },
      },
      args,
      output,
      logger,
    );
    return started;
  } catch (error) {
    await gateway?.close();
    await eventLog?.close();
    return failedToStart(error, output);
  }
}

/**
 * What `follower-maze gateway` does once its options are parsed (docs/protocol.md §11):
 * connect to NATS JetStream (trying again, with a report each time, while it is unavailable),
 * load the newest snapshot, apply the event log up to its tail (the monitoring port, when
 * asked for, is up from the start and says what it waits for), then take clients on its
 * port, and live as every server command does (server-process.ts). It exits 1 when it can
 * no longer follow the log (its clients are closed first, so they can reconnect elsewhere).
 */
import { createGateway, type Gateway } from '../cluster/gateway.js';
import { GATEWAY_STAT_METRICS, gatewayMonitorSources } from '../monitor/cluster-sources.js';
import { openClientPort } from '../net/ports.js';
import { closePortAndServer } from './close-port.js';
import { type GatewayArgs, toGatewayOptions } from './cluster-options.js';
import { logClients } from './connection-log.js';
import { formatAddress } from './format.js';
import { openLog } from './nats-connection.js';
import { processOutput, type ServeOutput } from './serve-output.js';
import { ServerProcess } from './server-process.js';

/** Runs the gateway until a signal or until it stops; `undefined` if it could not start. */
export async function runGateway(
  args: GatewayArgs,
  output: ServeOutput = processOutput(),
): Promise<Gateway | undefined> {
  const lifecycle = new ServerProcess(args, output);
  try {
    const { eventLog, monitor } = await openLog(lifecycle, args, GATEWAY_STAT_METRICS, true);
    monitor.waitingFor('loading the newest snapshot of the follow graph');
    const gateway = await createGateway({
      log: eventLog,
      snapshots: await eventLog.openSnapshots(),
      ...toGatewayOptions(args),
    });
    lifecycle.onClose(() => gateway.close());
    lifecycle.watchStopping(gateway);
    logClients(gateway, lifecycle.logger);
    monitor.attach(gatewayMonitorSources(gateway, eventLog));
    const { catchUpPosition, startSnapshotPosition: snapshotPosition } = gateway.stats();
    if (catchUpPosition > snapshotPosition) {
      lifecycle.logger.info(
        `follower-maze: applying the event log from position ${snapshotPosition + 1}${snapshotPosition === 0 ? '' : ' (after the newest snapshot)'} up to ${catchUpPosition} before taking clients`,
      );
    }
    await gateway.ready;
    const port = await openClientPort(gateway, args.host, args.clientPort);
    lifecycle.onClose(() => closePortAndServer(port, gateway));
    lifecycle.listening({
      addresses: `clients on ${formatAddress(port.address)}`,
      limits: { ...gateway.options, natsStream: args.natsStream, logPosition: catchUpPosition },
      stats: () => gateway.stats(),
    });
    return gateway;
  } catch (error) {
    return lifecycle.failed(error);
  }
}

/**
 * What `follower-maze gateway` does once its options are parsed (docs/protocol.md §11):
 * connect to NATS JetStream (trying again, with a report each time, while it is unavailable),
 * load the newest snapshot, apply the event log up to its tail (the monitoring port, when
 * asked for, is up from the start and says what it waits for), then take clients on its
 * port, and live as every server command does (server-process.ts). It exits 1 when it can
 * no longer follow the log (its clients are closed first, so they can reconnect elsewhere).
 */
import type { Authenticate } from '../adapter/client-auth.js';
import type { EventLog } from '../cluster/event-log.js';
import { createGateway, type Gateway } from '../cluster/gateway.js';
import type { SnapshotStore } from '../cluster/snapshot-store.js';
import { GATEWAY_STAT_METRICS, gatewayMonitorSources } from '../monitor/cluster-sources.js';
import { type OpenPort, openClientPort } from '../net/ports.js';
import type { ServerTls } from '../net/tls.js';
import { roomForClients } from '../net/tls-handshakes.js';
import { loadClientAuth } from './client-auth-options.js';
import { closePortAndServer } from './close-port.js';
import { type GatewayArgs, type NatsArgs, toGatewayOptions } from './cluster-options.js';
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
    // Checked before NATS is: a bad key file stops startup at once.
    const authenticate = await loadClientAuth(args);
    const tls = lifecycle.startTls();
    const { eventLog, monitor } = await openLog(lifecycle, args, GATEWAY_STAT_METRICS, true);
    monitor.waitingFor('loading the newest snapshot of the follow graph');
    const { gateway, clients, catchUpPosition } = await startGateway(
      lifecycle,
      eventLog,
      await eventLog.openSnapshots(),
      args,
      authenticate,
      (started) => monitor.attach(gatewayMonitorSources(started, eventLog)),
      tls,
    );
    lifecycle.listening({
      addresses: `clients on ${formatAddress(clients.address)}`,
      limits: { ...gateway.options, natsStream: args.natsStream, logPosition: catchUpPosition },
      stats: () => gateway.stats(),
      maxClients: { given: args.maxClients, used: gateway.options.maxClients },
    });
    return gateway;
  } catch (error) {
    return lifecycle.failed(error);
  }
}

/** A gateway started by `startGateway()`, taking clients. */
export interface StartedGateway {
  readonly gateway: Gateway;
  readonly clients: OpenPort;
  /** The log's tail when it started: the position it applied before taking clients. */
  readonly catchUpPosition: number;
}

/**
 * The gateway on `eventLog` (for `gateway`, and `serve --nats-url`): created from the newest
 * snapshot in `snapshots`, closed at shutdown (the process exits 1 if it stops), its clients
 * logged, clients authenticated by `authenticate` (when given), `attachMonitor` called with
 * it, then, once it has applied the log up to its tail, its client port opened, with `tls`
 * when given (and closed at shutdown).
 */
export async function startGateway(
  lifecycle: ServerProcess,
  eventLog: EventLog,
  snapshots: SnapshotStore,
  args: Omit<GatewayArgs, keyof NatsArgs>,
  authenticate: Authenticate | undefined,
  attachMonitor: (gateway: Gateway) => void,
  tls: ServerTls | undefined,
): Promise<StartedGateway> {
  const gateway = await createGateway({
    log: eventLog,
    snapshots,
    ...toGatewayOptions(args),
    authenticate,
  });
  lifecycle.onClose(() => gateway.close());
  lifecycle.watchStopping(gateway);
  logClients(gateway, lifecycle.logger);
  attachMonitor(gateway);
  const { catchUpPosition, startSnapshotPosition: snapshotPosition } = gateway.stats();
  if (catchUpPosition > snapshotPosition) {
    lifecycle.logger.info(
      `follower-maze: applying the event log from position ${snapshotPosition + 1}${snapshotPosition === 0 ? '' : ' (after the newest snapshot)'} up to ${catchUpPosition} before taking clients`,
    );
  }
  await gateway.ready;
  const clients = await openClientPort(
    gateway,
    args.host,
    args.clientPort,
    tls && {
      tls,
      identifyTimeout: gateway.options.identifyTimeout,
      roomForClients: () => roomForClients(gateway.options.maxClients, gateway.stats()),
    },
  );
  lifecycle.onClose(() => closePortAndServer(clients, gateway));
  return { gateway, clients, catchUpPosition };
}

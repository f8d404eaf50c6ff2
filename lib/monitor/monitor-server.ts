/**
 * The HTTP monitoring port (docs/protocol.md §9), like NATS's `-m`: `/healthz`, Prometheus `/metrics`,
 * `/stats` and `/clients` for whatever server its `MonitorSources` describe.
 *
 * Invariants:
 * - It binds loopback (`127.0.0.1`) unless told otherwise: `/clients` lists user
 *   ids and peer addresses. `startMonitor()` resolves with the port bound or rejects with
 *   `ERR_LISTEN` (`ERR_INVALID_OPTION` for a bad port or token) and leaves nothing open.
 * - Nothing here can crash the process: a failure after binding is reported as `ERR_MONITOR`
 *   through `sources.report`; what a request may cost is `MonitorRequests`' and
 *   `MonitorConnections`' to bound.
 * - `close()` ends keep-alive connections and waiting requests too, so it is bounded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import createDebug from 'debug';
import { NODE_HANDSHAKE_TIMEOUT } from '../net/handshake-deadline.js';
import { bind } from '../net/ports.js';
import type { ServerTls } from '../net/tls.js';
import { checkOptionValue } from '../options/option.js';
import { createMonitorMetrics } from './metrics.js';
import { MONITOR_HTTP_OPTIONS } from './monitor-connections.js';
import { MonitorHandshakes } from './monitor-handshakes.js';
import { MonitorRequests, reportMonitorProblem } from './monitor-requests.js';
import { MonitorToken } from './monitor-token.js';
import { MONITOR_OPTIONS } from './options.js';
import type { MonitorSources } from './sources.js';

/** Port of `startMonitor()` unless told otherwise: 0 picks a free one (the CLI's is off unless given). */
const DEFAULT_MONITOR_PORT = 0;

const log = createDebug('follower-maze:monitor');

/** Where the monitor listens and what it watches. */
export interface MonitorOptions {
  /** What to serve: health, stats, metric names and clients of the watched server. */
  readonly sources: MonitorSources;
  /** Host to bind. Default `127.0.0.1` (loopback). */
  readonly host?: string;
  /** Port; 0 picks a free one. Default `DEFAULT_MONITOR_PORT` (0). */
  readonly port?: number;
  /** HTTPS with this certificate and key (reloads included) instead of HTTP. */
  readonly tls?: ServerTls;
  /**
   * Bearer token every path but `/healthz` then needs (`Authorization: Bearer <token>`):
   * printable ASCII without spaces. Default: none, every path is open.
   */
  readonly token?: string;
}

/** A running monitoring port. */
export interface MonitorServer {
  /** The bound address. */
  readonly address: AddressInfo;
  /** Stops accepting, closes every connection (keep-alive ones too). Idempotent. */
  close(): Promise<void>;
}

/**
 * Binds the monitoring port and serves `/healthz`, `/metrics`, `/stats` and `/clients`.
 * Rejects with `MazeError(ERR_LISTEN)` if the port cannot be bound, `ERR_INVALID_OPTION` on
 * a bad port or token.
 */
export async function startMonitor(options: MonitorOptions): Promise<MonitorServer> {
  const host = options.host ?? MONITOR_OPTIONS.monitorHost.default;
  const port = checkOptionValue(
    MONITOR_OPTIONS.monitorPort,
    options.port ?? DEFAULT_MONITOR_PORT,
    'port',
  );
  const token = options.token === undefined ? undefined : new MonitorToken(options.token);
  const sources = options.sources;
  const metrics = createMonitorMetrics(sources);
  const requests = new MonitorRequests(sources, metrics, token);
  const handler = (request: IncomingMessage, response: ServerResponse): void =>
    requests.answer(request, response);
  const server: Server =
    options.tls === undefined
      ? createServer(MONITOR_HTTP_OPTIONS, handler)
      : createHttps(options.tls, handler);
  // Each connection is admitted on the socket its requests arrive on: the TLS one for HTTPS.
  server.on(options.tls === undefined ? 'connection' : 'secureConnection', (socket) =>
    requests.admit(socket),
  );
  server.on('clientError', (error, socket) => requests.clientError(error, socket));

  let address: AddressInfo;
  try {
    address = await bind(server, host, port, 'monitoring');
  } catch (error) {
    metrics.clear();
    throw error;
  }
  // After binding, an error is an accept failure: reported, never thrown.
  server.on('error', (error: Error) => {
    reportMonitorProblem(sources, `monitoring port failed: ${error.message}`);
  });
  log('listening on %s:%d', address.address, address.port);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    requests.close();
    closing ??= closeServer(server).then(() => {
      metrics.clear();
      log('closed');
    });
    return closing;
  };
  return { address, close };
}

// Reloads of `tls` reach it too. A connection is admitted once its handshake is done, so
// handshakes have their own deadlines and bound (`MonitorHandshakes`).
function createHttps(
  tls: ServerTls,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Server {
  const server = createHttpsServer(
    {
      ...tls.monitorOptions(),
      ...MONITOR_HTTP_OPTIONS,
      // The deadline is `MonitorHandshakes`': Node's would close a handshake whose last
      // flight arrived but was not read yet.
      handshakeTimeout: NODE_HANDSHAKE_TIMEOUT,
    },
    handler,
  );
  const handshakes = new MonitorHandshakes();
  // After Node's own listener, which starts the handshake on the same TCP socket.
  server.on('connection', (socket: Socket) => handshakes.begin(socket));
  server.on('secureConnection', (socket: TLSSocket) => handshakes.finish(socket));
  tls.followReloads(server);
  return server;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // close() waits for every connection; idle keep-alive ones would hold it forever.
    server.closeAllConnections();
  });
}

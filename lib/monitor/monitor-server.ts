/**
 * The HTTP monitoring port (docs/protocol.md §9), like NATS's `-m`: `/healthz`, Prometheus `/metrics`,
 * `/stats` and `/clients` for whatever server its `MonitorSources` describe.
 *
 * Invariants:
 * - It binds loopback (`127.0.0.1`) unless told otherwise: `/clients` lists user
 *   ids and peer addresses. `startMonitor()` resolves with the port bound or rejects with
 *   `ERR_LISTEN` (`ERR_INVALID_OPTION` for a bad port) and leaves nothing open.
 * - Nothing here can crash the process: a failure after binding, or a request that cannot be
 *   answered, is reported as `ERR_MONITOR` through `sources.report` (the request gets a 500).
 * - Only GET (405 otherwise, with `allow: GET`); an unknown path is 404. Every answer has a
 *   content type: the registry's for `/metrics`, `application/json` for the rest.
 * - At most `MONITOR_MAX_CONNECTIONS` connections, each request whole within
 *   `MONITOR_REQUEST_TIMEOUT_MS`; `close()` ends keep-alive connections too, so it is bounded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import createDebug from 'debug';
import { ErrorCode } from '../errors.js';
import { bind } from '../net/ports.js';
import type { ServerTls } from '../net/tls.js';
import { checkOptionValue } from '../options/option.js';
import { createMonitorMetrics, type MonitorMetrics } from './metrics.js';
import { MONITOR_OPTIONS } from './options.js';
import type { ClientPageRequest, MonitorSources } from './sources.js';

/** Port of `startMonitor()` unless told otherwise: 0 picks a free one (the CLI's is off unless given). */
const DEFAULT_MONITOR_PORT = 0;
/** Clients listed by the monitor's `/clients` page when no `limit` is given. */
const DEFAULT_MONITOR_PAGE_LIMIT = 100;
/** Most clients one `/clients` page may list: a page is built while the server waits. */
export const MAX_MONITOR_PAGE_LIMIT = 1_000;
/**
 * Open connections the monitoring port accepts at once. Each is a descriptor taken from the
 * reserve that `maxClients` leaves (`CLIENT_DESCRIPTOR_RESERVE`), so scrapers cannot starve it.
 */
const MONITOR_MAX_CONNECTIONS = 16;
/** Longest time a monitoring request may take to arrive whole; a stuck peer is cut off. */
const MONITOR_REQUEST_TIMEOUT_MS = 10_000;

const log = createDebug('follower-maze:monitor');

const JSON_TYPE = 'application/json; charset=utf-8';

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
 * a bad port.
 */
export async function startMonitor(options: MonitorOptions): Promise<MonitorServer> {
  const host = options.host ?? MONITOR_OPTIONS.monitorHost.default;
  const port = checkOptionValue(
    MONITOR_OPTIONS.monitorPort,
    options.port ?? DEFAULT_MONITOR_PORT,
    'port',
  );
  const sources = options.sources;
  const metrics = createMonitorMetrics(sources);
  const handler = (request: IncomingMessage, response: ServerResponse): void =>
    answer(request, response, sources, metrics);
  const server: Server =
    options.tls === undefined
      ? createServer({ requestTimeout: MONITOR_REQUEST_TIMEOUT_MS }, handler)
      : createHttps(options.tls, handler);
  server.maxConnections = MONITOR_MAX_CONNECTIONS;

  let address: AddressInfo;
  try {
    address = await bind(server, host, port, 'monitoring');
  } catch (error) {
    metrics.clear();
    throw error;
  }
  // After binding, an error is an accept failure: reported, never thrown.
  server.on('error', (error: Error) => {
    report(sources, `monitoring port failed: ${error.message}`);
  });
  log('listening on %s:%d', address.address, address.port);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= closeServer(server).then(() => {
      metrics.clear();
      log('closed');
    });
    return closing;
  };
  return { address, close };
}

// Reloads of `tls` reach it too; a handshake is bounded like a request.
function createHttps(
  tls: ServerTls,
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Server {
  const server = createHttpsServer(
    {
      ...tls.monitorOptions(),
      requestTimeout: MONITOR_REQUEST_TIMEOUT_MS,
      handshakeTimeout: MONITOR_REQUEST_TIMEOUT_MS,
    },
    handler,
  );
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

function answer(
  request: IncomingMessage,
  response: ServerResponse,
  sources: MonitorSources,
  metrics: MonitorMetrics,
): void {
  route(request, response, sources, metrics).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    report(sources, `monitoring request ${request.method} ${request.url} failed: ${reason}`);
    if (!response.headersSent) send(response, 500, JSON_TYPE, JSON.stringify({ error: reason }));
    else response.destroy();
  });
}

async function route(
  request: IncomingMessage,
  response: ServerResponse,
  sources: MonitorSources,
  metrics: MonitorMetrics,
): Promise<void> {
  // Only the path and query matter; the base is never used for anything else.
  const url = new URL(request.url ?? '/', 'http://monitor');
  const known = ['/healthz', '/metrics', '/stats', '/clients'];
  if (!known.includes(url.pathname) || (url.pathname === '/clients' && !sources.clients)) {
    sendJson(response, 404, { error: `no such path: ${url.pathname}`, paths: known });
    return;
  }
  if (request.method !== 'GET') {
    response.setHeader('allow', 'GET');
    sendJson(response, 405, { error: `method ${request.method} not allowed; use GET` });
    return;
  }
  switch (url.pathname) {
    case '/healthz': {
      const health = sources.health();
      if (health.ready) sendJson(response, 200, { status: 'ok' });
      else sendJson(response, 503, { status: 'unavailable', reason: health.reason ?? 'not ready' });
      return;
    }
    case '/metrics':
      send(response, 200, metrics.contentType, await metrics.expose());
      return;
    case '/stats':
      sendJson(response, 200, { ...sources.stats(), uptimeSeconds: process.uptime() });
      return;
    default: {
      const page = parsePage(url.searchParams);
      if (typeof page === 'string') {
        sendJson(response, 400, { error: page });
        return;
      }
      const clients = sources.clients?.(page) ?? { total: 0, items: [] };
      sendJson(response, 200, { total: clients.total, ...page, items: clients.items });
    }
  }
}

/**
 * Reads `offset` (default 0) and `limit` (default `DEFAULT_MONITOR_PAGE_LIMIT`, 1 to
 * `MAX_MONITOR_PAGE_LIMIT`) of a `/clients` query; returns what is wrong as a string.
 */
function parsePage(query: URLSearchParams): ClientPageRequest | string {
  const offset = parseCount(query.get('offset'), 0);
  const limit = parseCount(query.get('limit'), DEFAULT_MONITOR_PAGE_LIMIT);
  if (offset === undefined) return 'offset must be a whole number';
  if (limit === undefined || limit < 1 || limit > MAX_MONITOR_PAGE_LIMIT) {
    return `limit must be a whole number from 1 to ${MAX_MONITOR_PAGE_LIMIT}`;
  }
  return { offset, limit };
}

function parseCount(text: string | null, fallback: number): number | undefined {
  if (text === null) return fallback;
  if (!/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  send(response, status, JSON_TYPE, JSON.stringify(body));
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(body);
}

function report(sources: MonitorSources, message: string): void {
  log('%s', message);
  sources.report?.({
    code: ErrorCode.MonitorFailed,
    message,
    context: { connection: 'monitor-port' },
  });
}

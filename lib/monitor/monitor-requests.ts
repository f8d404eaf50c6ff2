/**
 * What the monitoring port answers (docs/operations.md#monitoring), and at what cost to the
 * server it watches: `/healthz`, `/metrics`, `/stats` and `/clients`.
 *
 * Invariants:
 * - The watched server pays a bounded share of its event loop, whatever the peers do:
 *   `/metrics` and `/stats` are computed at most once per `MONITOR_CACHE_MS` and served from
 *   cache; every request waits for its turn in one budget of `MONITOR_REQUESTS_PER_SECOND`
 *   (`RequestPacer`), where a `/clients` page counts one request per `CLIENTS_PER_REQUEST`
 *   clients listed (and per `SKIPPED_CLIENTS_PER_REQUEST` skipped by its offset); requests
 *   without the token wait in a small budget of their own; connections and what each leaves unanswered are bounded
 *   (`MonitorConnections`). `/healthz` goes first in the budget and has slots of its own.
 * - With a token, every path but `/healthz` needs `Authorization: Bearer <token>` (401 with
 *   `www-authenticate: Bearer` otherwise), before anything else is said about the request.
 * - Only GET (405 otherwise, with `allow: GET`); an unknown path is 404; a request target
 *   that is not a URL is the peer's 400. Every answer has a content type: the registry's for
 *   `/metrics`, `application/json` for the rest.
 * - Nothing here can crash the process: a request that cannot be answered because a source
 *   failed is reported as `ERR_MONITOR` through `sources.report` (the request gets a 500).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { ErrorCode } from '../errors.js';
import { CachedBody } from './cached-body.js';
import type { MonitorMetrics } from './metrics.js';
import { MonitorConnections, type Slot } from './monitor-connections.js';
import type { MonitorToken } from './monitor-token.js';
import { RequestPacer } from './request-pacer.js';
import type { ClientPageRequest, MonitorSources } from './sources.js';

/** Clients listed by the monitor's `/clients` page when no `limit` is given. */
const DEFAULT_MONITOR_PAGE_LIMIT = 100;
/** Most clients one `/clients` page may list: a page is built while the server waits. */
export const MAX_MONITOR_PAGE_LIMIT = 1_000;
/** Age after which `/metrics` and `/stats` are computed again: a scrape every second at most. */
const MONITOR_CACHE_MS = 1_000;
/**
 * Requests answered per second, all connections together: scrapers and probes ask a few times
 * a minute. A request costs the server about 1 ms of CPU under load with the kernel's share
 * (cached or not), so this rate keeps hammering peers to about 1% of a core (measured by
 * scripts/monitor-attack.mjs, docs/performance.md#the-monitor-under-attack).
 */
const MONITOR_REQUESTS_PER_SECOND = 10;
/** Requests answered at once before the rate applies: a dashboard opening its panels. */
const MONITOR_REQUEST_BURST = 10;
/**
 * Requests without the token answered per second (401), all connections together, from a
 * budget of their own: peers without the token cannot delay those with it.
 */
const MONITOR_UNAUTHORIZED_PER_SECOND = 5;
/** Clients of a `/clients` page that count as one request (building a page is ~1 µs each). */
const CLIENTS_PER_REQUEST = 100;
/** Clients skipped by a page's offset that count as one request (a walk of ~10 ns each). */
const SKIPPED_CLIENTS_PER_REQUEST = 10_000;

const PATHS = ['/healthz', '/metrics', '/stats', '/clients'];

const JSON_TYPE = 'application/json; charset=utf-8';

const log = createDebug('follower-maze:monitor');

/** The answers of one monitoring port. */
export class MonitorRequests {
  readonly #sources: MonitorSources;
  readonly #metrics: MonitorMetrics;
  readonly #token: MonitorToken | undefined;
  readonly #connections = new MonitorConnections();
  readonly #pacer = new RequestPacer(MONITOR_REQUESTS_PER_SECOND, MONITOR_REQUEST_BURST, () =>
    performance.now(),
  );
  readonly #unauthorizedPacer = new RequestPacer(
    MONITOR_UNAUTHORIZED_PER_SECOND,
    MONITOR_UNAUTHORIZED_PER_SECOND,
    () => performance.now(),
  );
  readonly #metricsBody: CachedBody;
  readonly #statsBody: CachedBody;

  constructor(sources: MonitorSources, metrics: MonitorMetrics, token: MonitorToken | undefined) {
    this.#sources = sources;
    this.#metrics = metrics;
    this.#token = token;
    const now = () => performance.now();
    this.#metricsBody = new CachedBody(() => metrics.expose(), MONITOR_CACHE_MS, now);
    this.#statsBody = new CachedBody(
      () => JSON.stringify({ ...sources.stats(), uptimeSeconds: process.uptime() }),
      MONITOR_CACHE_MS,
      now,
    );
  }

  /** A connection was accepted: it gets a slot or is closed. */
  admit(socket: Socket): void {
    this.#connections.admit(socket);
  }

  /** The HTTP server's `'clientError'`: a bad request is answered and closed (see `MonitorConnections`). */
  clientError(error: Error, socket: Duplex): void {
    this.#connections.clientError(error, socket);
  }

  /** A request came in: it is answered in its turn, or dropped with its connection. */
  answer(request: IncomingMessage, response: ServerResponse): void {
    const socket = request.socket;
    const url = targetOf(request.url);
    const probe = url?.pathname === '/healthz';
    const slot = this.#connections.request(socket, probe);
    if (slot === undefined) return;
    response.once('close', () => this.#connections.answered(socket));
    if (slot === 'health') {
      // A health slot is for one probe: the next one needs the slot free, so it is closed
      // after one answer. Anything but /healthz is a cheap 503, answered at once.
      response.setHeader('connection', 'close');
      if (url?.pathname !== '/healthz') {
        this.#respond(request, response, slot, url, undefined, false);
        return;
      }
    }
    // Checked before its turn: a 401 comes from a budget of its own and costs 1 there.
    const authorized = probe || this.#token?.admits(request.headers.authorization) !== false;
    const page =
      authorized && url?.pathname === '/clients' ? parsePage(url.searchParams) : undefined;
    (authorized ? this.#pacer : this.#unauthorizedPacer).schedule({
      cost: typeof page === 'object' ? costOf(page) : 1,
      urgent: probe,
      from: socket,
      wanted: () => this.#connections.answerable(socket),
      run: () => this.#respond(request, response, slot, url, page, authorized),
    });
  }

  /** Drops the requests waiting for their turn. */
  close(): void {
    this.#pacer.close();
    this.#unauthorizedPacer.close();
  }

  #respond(
    request: IncomingMessage,
    response: ServerResponse,
    slot: Slot,
    url: URL | undefined,
    page: ClientPageRequest | string | undefined,
    authorized: boolean,
  ): void {
    this.#route(request, response, slot, url, page, authorized).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error);
      reportMonitorProblem(
        this.#sources,
        `monitoring request ${request.method} ${url?.pathname ?? '?'} failed: ${reason}`,
      );
      if (!response.headersSent) sendJson(response, 500, { error: reason });
      else response.destroy();
    });
  }

  async #route(
    request: IncomingMessage,
    response: ServerResponse,
    slot: Slot,
    url: URL | undefined,
    page: ClientPageRequest | string | undefined,
    authorized: boolean,
  ): Promise<void> {
    const path = url?.pathname;
    if (url === undefined || path === undefined) {
      sendJson(response, 400, { error: 'the request target is not a path' });
      return;
    }
    if (slot === 'health' && path !== '/healthz') {
      response.setHeader('retry-after', '1');
      sendJson(response, 503, { error: 'every monitoring connection is taken; only /healthz' });
      return;
    }
    if (!authorized) {
      const invalid = request.headers.authorization === undefined ? '' : ', error="invalid_token"';
      response.setHeader('www-authenticate', `Bearer realm="follower-maze"${invalid}`);
      sendJson(response, 401, { error: 'this path needs Authorization: Bearer <token>' });
      return;
    }
    if (!PATHS.includes(path) || (path === '/clients' && !this.#sources.clients)) {
      sendJson(response, 404, { error: `no such path: ${path}`, paths: PATHS });
      return;
    }
    if (request.method !== 'GET') {
      response.setHeader('allow', 'GET');
      sendJson(response, 405, { error: `method ${request.method} not allowed; use GET` });
      return;
    }
    switch (path) {
      case '/healthz': {
        const health = this.#sources.health();
        if (health.ready) sendJson(response, 200, { status: 'ok' });
        else {
          sendJson(response, 503, { status: 'unavailable', reason: health.reason ?? 'not ready' });
        }
        return;
      }
      case '/metrics':
        send(response, 200, this.#metrics.contentType, await this.#metricsBody.get());
        return;
      case '/stats':
        send(response, 200, JSON_TYPE, await this.#statsBody.get());
        return;
      default: {
        if (typeof page !== 'object') {
          sendJson(response, 400, { error: page });
          return;
        }
        const clients = this.#sources.clients?.(page) ?? { total: 0, items: [] };
        sendJson(response, 200, { total: clients.total, ...page, items: clients.items });
      }
    }
  }
}

/** The path and query of a request target; `undefined` for one that is not a URL. */
function targetOf(target: string | undefined): URL | undefined {
  try {
    // Only the path and query matter; the base is never used for anything else.
    return new URL(target ?? '/', 'http://monitor');
  } catch {
    return undefined;
  }
}

/** What a `/clients` page takes of the budget: at least one request. */
function costOf(page: ClientPageRequest): number {
  return Math.max(
    1,
    Math.ceil(page.limit / CLIENTS_PER_REQUEST + page.offset / SKIPPED_CLIENTS_PER_REQUEST),
  );
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

/** Reports a failure of the monitoring port as `ERR_MONITOR` (and to `debug`). */
export function reportMonitorProblem(sources: MonitorSources, message: string): void {
  log('%s', message);
  sources.report?.({
    code: ErrorCode.MonitorFailed,
    message,
    context: { connection: 'monitor-port' },
  });
}

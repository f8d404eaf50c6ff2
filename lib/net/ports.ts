/**
 * One listening TCP port in front of whatever takes its connections: event sources (a
 * `Maze`, the cluster's `Ingest`) or user clients (a `Maze`, the cluster's `Gateway`).
 * `listen()` opens one of each; `ingest` and `gateway` one each.
 *
 * Invariants:
 * - `openEventPort()`/`openClientPort()` either resolve with the port bound or reject with
 *   `ERR_LISTEN` and leave nothing open.
 * - Every accepted event source socket has TCP keepalive on (`EVENT_SOURCE_KEEPALIVE_MS`), so a
 *   peer that vanished without closing releases the source slot (docs/protocol.md §7); every
 *   client socket has it on too (`CLIENT_KEEPALIVE_DELAY_MS`), since a half-closed client
 *   that vanishes is only noticed by a write or by keepalive. Clients are half-open
 *   (docs/protocol.md §5) and without Nagle.
 * - A connection that arrives once its taker is closed is destroyed at once.
 * - With TLS (tls.ts), a connection reaches its taker only after its handshake (and, on a
 *   port with a CA, its certificate check); keepalive is set on the TCP socket at accept. The
 *   one exception: a client connection with no room left is handed over destroyed, before
 *   any TLS work, so that the taker counts and reports it over `maxClients`.
 * - Once bound, a server error is an accept failure: it is reported through the taker as
 *   `ERR_ACCEPT` (which counts it), never thrown; the port keeps listening, and nothing
 *   already attached (the event source included) is closed for it.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { AttachClientOptions } from '../adapter/fan-out.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import type { ServerTls } from './tls.js';
import {
  EVENT_SOURCE_HANDSHAKE_TIMEOUT_MS,
  EVENT_SOURCE_MAX_HANDSHAKES,
} from './tls-handshakes.js';

/**
 * Idle time before TCP keepalive probes a client socket: the kernel then finds a peer that is
 * gone (its host down, or its closed socket dropped by its own system), which a half-closed
 * client, no longer read, is checked for (`FanOut`); otherwise only a write would tell
 * (docs/protocol.md §5).
 */
const CLIENT_KEEPALIVE_DELAY_MS = 30_000;
/**
 * Idle time before TCP keepalive probes an event source socket that `listen()` accepted
 * (docs/protocol.md §7): a peer that is gone without a FIN or RST (host down, cable cut) fails its probes
 * and the socket errors, which releases the source. Node probes every second, 10 times.
 */
export const EVENT_SOURCE_KEEPALIVE_MS = 5_000;

/** What both kinds of taker share. */
export interface Taker {
  /** Whether it takes no more connections. */
  readonly closed: boolean;
  /** Where accept failures go. */
  report(problem: Problem): void;
}

/** What takes event source connections: a `Maze`, or the cluster's `Ingest`. */
export interface EventSourceTaker extends Taker {
  attachEventSource(stream: Readable): string;
}

/** What takes user client connections: a `Maze`, or the cluster's `Gateway`. */
export interface ClientTaker extends Taker {
  attachClient(stream: Duplex, options?: AttachClientOptions): string;
}

/** A bound port. */
export interface OpenPort {
  readonly address: AddressInfo;
  /** Stops accepting; resolves once every connection it accepted is gone. Idempotent. */
  close(): Promise<void>;
}

/** Binds `host:port` for event sources of `taker`; TLS with `tls`. Rejects with `MazeError(ERR_LISTEN)`. */
export function openEventPort(
  taker: EventSourceTaker,
  host: string,
  port: number,
  tls?: ServerTls,
): Promise<OpenPort> {
  const keepAlive = (socket: Socket): void => {
    if (!socket.destroyed) socket.setKeepAlive(true, EVENT_SOURCE_KEEPALIVE_MS);
  };
  const attach = (socket: Socket): void => {
    if (taker.closed) {
      socket.destroy();
      return;
    }
    taker.attachEventSource(socket);
  };
  const server =
    tls === undefined
      ? createServer((socket) => {
          keepAlive(socket);
          attach(socket);
        })
      : tls.createPortServer(
          'event',
          {},
          EVENT_SOURCE_HANDSHAKE_TIMEOUT_MS,
          { admits: (handshaking) => handshaking < EVENT_SOURCE_MAX_HANDSHAKES },
          taker,
          attach,
        );
  if (tls !== undefined) server.on('connection', keepAlive);
  return open(server, taker, host, port, 'event source', 'event');
}

/** TLS for a client port: the material, and the client limits the handshakes count in. */
export interface ClientPortTls {
  readonly tls: ServerTls;
  /** The clients' identify timeout: it covers the handshake and the id line together. */
  readonly identifyTimeout: number;
  /**
   * How many client handshakes may run now (`maxClients` less the clients attached, plus a
   * few for half-closed clients that may give way, tls-handshakes.ts `roomForClients()`).
   */
  roomForClients(): number;
}

/** Binds `host:port` for user clients of `taker`; TLS with `secure`. Rejects with `MazeError(ERR_LISTEN)`. */
export function openClientPort(
  taker: ClientTaker,
  host: string,
  port: number,
  secure?: ClientPortTls,
): Promise<OpenPort> {
  const keepAlive = (socket: Socket): void => {
    if (!socket.destroyed) socket.setKeepAlive(true, CLIENT_KEEPALIVE_DELAY_MS);
  };
  const options = { noDelay: true, allowHalfOpen: true };
  if (secure === undefined) {
    const server = createServer(options, (socket) => {
      if (taker.closed) {
        socket.destroy();
        return;
      }
      keepAlive(socket);
      taker.attachClient(socket);
    });
    return open(server, taker, host, port, 'client', 'client');
  }
  const { tls, identifyTimeout } = secure;
  const server = tls.createPortServer(
    'client',
    options,
    identifyTimeout,
    {
      admits: (handshaking) => handshaking < secure.roomForClients(),
      // No room and no handshake to give way: every attached client is identifying or
      // identified and none is half-closed, so the taker refuses it (destroyed already)
      // and counts and reports it as over `maxClients`, as on a plain port.
      refuse: (socket) => taker.attachClient(socket),
    },
    taker,
    (socket, elapsedMs) => {
      if (taker.closed) {
        socket.destroy();
        return;
      }
      // What the handshake took is no longer the client's to identify in.
      taker.attachClient(socket, { identifyTimeout: Math.max(1, identifyTimeout - elapsedMs) });
    },
  );
  server.on('connection', keepAlive);
  return open(server, taker, host, port, 'client', 'client');
}

async function open(
  server: Server,
  taker: Taker,
  host: string,
  port: number,
  role: string,
  name: string,
): Promise<OpenPort> {
  const address = await bind(server, host, port, role);
  reportAcceptFailures(server, taker, name);
  let closing: Promise<void> | undefined;
  return {
    address,
    close: () => {
      closing ??= new Promise((resolve) => server.close(() => resolve()));
      return closing;
    },
  };
}

/**
 * Reports every `'error'` of the bound `server` to `taker` as an accept failure
 * (`ERR_ACCEPT`, connection `NAME-port`); the server goes on listening. Running out of
 * descriptors (EMFILE) mostly never gets here: libuv then accepts and closes the waiting
 * connections itself, silently, which is why takers bound their clients below the limit;
 * it is reported only once libuv cannot even do that.
 */
export function reportAcceptFailures(server: Server, taker: Taker, name: string): void {
  server.on('error', (error: NodeJS.ErrnoException) => {
    taker.report({
      code: ErrorCode.AcceptFailed,
      message: `${name} port failed to accept a connection: ${error.message}; still listening`,
      context: { connection: `${name}-port` },
    });
  });
}

/**
 * Connections the kernel may complete before the server accepts them. Under a connect storm
 * Node's default (511) overflowed, and each connection dropped then waits for a SYN
 * retransmit (1 s, then 3 s, …): 19,000 clients took 9-12 s to connect, with 763 overflows.
 * The kernel caps it at `net.core.somaxconn` (4096 by default since Linux 5.4).
 */
const LISTEN_BACKLOG = 4_096;

/**
 * Binds `server` (any `net.Server`, `http.Server` too) to `host:port`; rejects with
 * `MazeError(ERR_LISTEN)` naming `role` and the reason. Shared with the monitoring port.
 */
export function bind(
  server: Server,
  host: string,
  port: number,
  role: string,
): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason =
        error.code === 'EADDRINUSE'
          ? 'address already in use'
          : error.code === 'EACCES'
            ? 'permission denied'
            : error.message;
      const failure = new MazeError(
        ErrorCode.ListenFailed,
        `cannot listen for ${role} connections on ${host}:${port}: ${reason}${
          error.code === undefined ? '' : ` (${error.code})`
        }`,
      );
      failure.cause = error;
      reject(failure);
    };
    server.once('error', onError);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

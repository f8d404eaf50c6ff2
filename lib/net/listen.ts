/**
 * The TCP front of follower-maze (docs/protocol.md §1, 8): two listening sockets feeding one `Maze`.
 *
 * Invariants:
 * - Both ports bind to one host, `127.0.0.1` unless told otherwise; port 0 picks a free port
 *   and the bound addresses are returned.
 * - `listen()` either resolves with both ports bound or rejects with `ERR_LISTEN` and
 *   leaves nothing open.
 * - Every accepted event source socket has TCP keepalive on (`EVENT_SOURCE_KEEPALIVE_MS`): a
 *   peer that vanished without closing fails the probes, the socket errors and the source
 *   slot is released (docs/protocol.md §7). Streams attached to a maze directly get no keepalive.
 * - `close()` stops accepting first, then closes the maze (flush bounded by
 *   `shutdownTimeout`), then waits for both servers to be fully closed.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import createDebug from 'debug';
import { createMaze, type Maze } from '../adapter/maze.js';
import type { MazeOptions } from '../adapter/options.js';
import { CLIENT_KEEPALIVE_DELAY_MS, EVENT_SOURCE_KEEPALIVE_MS } from '../core/constants.js';
import { ErrorCode, MazeError } from '../core/errors.js';
import { checkOptionValue, serverOption } from '../core/option-table.js';

const log = createDebug('follower-maze:net');

/** Where to listen, plus every maze option. */
export interface ListenOptions extends MazeOptions {
  /** Host to bind both ports to. Default `DEFAULT_HOST` (loopback). */
  readonly host?: string;
  /** Event source port; 0 picks a free one. Default `DEFAULT_EVENT_PORT`. */
  readonly eventPort?: number;
  /** Client port; 0 picks a free one. Default `DEFAULT_CLIENT_PORT`. */
  readonly clientPort?: number;
}

/** A running server: the maze and where it listens. */
export interface MazeServer {
  readonly maze: Maze;
  /** The bound event source address. */
  readonly eventAddress: AddressInfo;
  /** The bound client address. */
  readonly clientAddress: AddressInfo;
  /** Stops accepting, closes every connection (flushing, bounded), closes the ports. Idempotent. */
  close(): Promise<void>;
}

/**
 * Binds the event and client ports and serves them with a new maze. Rejects with
 * `MazeError(ERR_LISTEN)` if a port cannot be bound, `ERR_INVALID_OPTION` on a bad option.
 */
export async function listen(options: ListenOptions = {}): Promise<MazeServer> {
  const { host, eventPort, clientPort } = resolveAddresses(options);
  const maze = createMaze(options);

  const eventServer = createServer((socket) => acceptEventSource(maze, socket));
  // Half-open: a client that ends its sending side after its id is still served (docs/protocol.md §5).
  const clientServer = createServer({ noDelay: true, allowHalfOpen: true }, (socket) =>
    acceptClient(maze, socket),
  );
  let eventAddress: AddressInfo;
  let clientAddress: AddressInfo;
  try {
    eventAddress = await bind(eventServer, host, eventPort, 'event source');
    reportAcceptFailures(eventServer, 'event', maze);
    clientAddress = await bind(clientServer, host, clientPort, 'client');
    reportAcceptFailures(clientServer, 'client', maze);
  } catch (error) {
    await Promise.all([closeServer(eventServer), closeServer(clientServer)]);
    await maze.close();
    throw error;
  }
  log(
    'listening: events on %s:%d, clients on %s:%d',
    eventAddress.address,
    eventAddress.port,
    clientAddress.address,
    clientAddress.port,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log('closing');
      // Stop accepting first; server.close() resolves once every connection is gone.
      const serversClosed = Promise.all([closeServer(eventServer), closeServer(clientServer)]);
      await maze.close();
      await serversClosed;
      log('closed');
    })();
    return closing;
  };
  return { maze, eventAddress, clientAddress, close };
}

function acceptEventSource(maze: Maze, socket: Socket): void {
  if (maze.closed) {
    socket.destroy();
    return;
  }
  log('event source connected from %s:%d', socket.remoteAddress, socket.remotePort);
  socket.setKeepAlive(true, EVENT_SOURCE_KEEPALIVE_MS);
  maze.attachEventSource(socket);
}

function acceptClient(maze: Maze, socket: Socket): void {
  if (maze.closed) {
    socket.destroy();
    return;
  }
  // A half-closed client that then vanishes is only noticed by a write or by keepalive.
  socket.setKeepAlive(true, CLIENT_KEEPALIVE_DELAY_MS);
  maze.attachClient(socket);
}

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
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

// Once bound, a server error is an accept failure: it must not crash the process. It is
// reported through the maze so it is counted like every other problem. Running out of
// descriptors (EMFILE) mostly never gets here — libuv then accepts and closes the connection
// itself, silently — which is why the maze bounds its clients below the descriptor limit.
// Installed right after binding, so a bind failure is only the rejection of `listen()`.
function reportAcceptFailures(server: Server, role: string, maze: Maze): void {
  server.on('error', (error: NodeJS.ErrnoException) => {
    maze.report({
      code: ErrorCode.StreamError,
      message: `${role} port failed: ${error.message}`,
      context: { connection: `${role}-port` },
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
  });
}

// By the option table's rules; one port for both roles would only fail later, as EADDRINUSE.
function resolveAddresses(options: ListenOptions): {
  host: string;
  eventPort: number;
  clientPort: number;
} {
  const [host, eventPort, clientPort] = (['host', 'eventPort', 'clientPort'] as const).map(
    (name) => {
      const spec = serverOption(name);
      return checkOptionValue(spec, options[name] ?? spec.default);
    },
  ) as [string, number, number];
  if (eventPort === clientPort && eventPort !== 0) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `eventPort and clientPort are both ${eventPort}: the event source and the clients need ports of their own`,
    );
  }
  return { host, eventPort, clientPort };
}

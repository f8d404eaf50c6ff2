/**
 * The TCP front of follower-maze (docs/protocol.md §1, 8): two listening ports (ports.ts)
 * feeding one `Maze`.
 *
 * Invariants:
 * - With `tls`, both ports speak TLS only (tls.ts); without it, plain TCP.
 * - Both ports bind to one host, `127.0.0.1` unless told otherwise; port 0 picks a free port
 *   and the bound addresses are returned.
 * - `listen()` either resolves with both ports bound or rejects with `ERR_LISTEN` and
 *   leaves nothing open.
 * - Sockets get keepalive as ports.ts says; streams attached to a maze directly get none.
 * - `close()` stops accepting on both ports first, then closes the maze (it reads the open
 *   event source to its end, then flushes, each bounded by `shutdownTimeout`), then waits
 *   for both servers to be fully closed.
 */
import type { AddressInfo } from 'node:net';
import createDebug from 'debug';
import { createMaze, type Maze } from '../adapter/maze.js';
import type { MazeOptions } from '../adapter/options.js';
import { ErrorCode, MazeError } from '../errors.js';
import { type GivenOf, resolveOptions } from '../options/option.js';
import { LISTEN_OPTIONS } from './options.js';
import { type OpenPort, openClientPort, openEventPort } from './ports.js';
import type { ServerTls } from './tls.js';
import { roomForClients } from './tls-handshakes.js';

const log = createDebug('follower-maze:net');

/** Where to listen, plus every maze option. */
export interface ListenOptions extends MazeOptions, GivenOf<typeof LISTEN_OPTIONS> {
  /** Host to bind both ports to. Default `127.0.0.1` (loopback). */
  readonly host?: string;
  /** Event source port; 0 picks a free one. Default 9090. */
  readonly eventPort?: number;
  /** Client port; 0 picks a free one. Default 9099. */
  readonly clientPort?: number;
  /**
   * TLS on both ports (docs/security.md): the certificate, key and CAs, reloadable with
   * `tls.reload()`. A client's `identifyTimeout` then covers its handshake too.
   */
  readonly tls?: ServerTls;
}

/** A running server: the maze and where it listens. */
export interface MazeServer {
  readonly maze: Maze;
  /** The bound event source address. */
  readonly eventAddress: AddressInfo;
  /** The bound client address. */
  readonly clientAddress: AddressInfo;
  /**
   * Stops accepting, reads the open event source to its end and closes every connection
   * (flushing), each step bounded by `shutdownTimeout`; closes the ports. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Binds the event and client ports and serves them with a new maze. Rejects with
 * `MazeError(ERR_LISTEN)` if a port cannot be bound, `ERR_INVALID_OPTION` on a bad option.
 */
export async function listen(options: ListenOptions = {}): Promise<MazeServer> {
  const { host, eventPort, clientPort } = resolveAddresses(options);
  const maze = createMaze(options);
  const ports: OpenPort[] = [];
  try {
    const tls = options.tls;
    ports.push(await openEventPort(maze, host, eventPort, tls));
    ports.push(
      await openClientPort(
        maze,
        host,
        clientPort,
        tls && {
          tls,
          identifyTimeout: maze.options.identifyTimeout,
          roomForClients: () => roomForClients(maze.options.maxClients, maze.stats()),
        },
      ),
    );
  } catch (error) {
    await Promise.all(ports.map((port) => port.close()));
    await maze.close();
    throw error;
  }
  const [events, clients] = ports as [OpenPort, OpenPort];
  log(
    'listening: events on %s:%d, clients on %s:%d',
    events.address.address,
    events.address.port,
    clients.address.address,
    clients.address.port,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log('closing');
      // Stop accepting first; a port's close() resolves once every connection is gone.
      const portsClosed = Promise.all([events.close(), clients.close()]);
      await maze.close();
      await portsClosed;
      log('closed');
    })();
    return closing;
  };
  return { maze, eventAddress: events.address, clientAddress: clients.address, close };
}

// By the rows' rules; one port for both roles would only fail later, as EADDRINUSE.
function resolveAddresses(options: ListenOptions): {
  host: string;
  eventPort: number;
  clientPort: number;
} {
  const { host, eventPort, clientPort } = resolveOptions(LISTEN_OPTIONS, options);
  if (eventPort === clientPort && eventPort !== 0) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `eventPort and clientPort are both ${eventPort}: the event source and the clients need ports of their own`,
    );
  }
  return { host, eventPort, clientPort };
}

/**
 * The stream adapter: a `MazeCore` driven by Node streams (SPEC 2, 5-9). It attaches to
 * any readable (event source) and any duplex (client), so TCP sockets, in-memory
 * `duplexPair()` ends and pipes all work the same.
 *
 * Invariants:
 * - One event source at a time; a second one is reported and closed before any of its
 *   lines is read (SPEC 7).
 * - Per input chunk: all lines are pushed to the core, each delivery is queued in the
 *   `pending` list of every connection of each recipient, and then every connection with
 *   output gets exactly one `write()` (STYLE 7). No write per notification.
 * - Backpressure (SPEC 6): while any client is over its buffer limit, the event source is
 *   paused; it resumes when the last one drains. A client still over its limit
 *   `slowClientTimeout` after it went over is dropped and reported; the others go on. One
 *   that is back under its limit by then, just not drained, is kept and no longer holds
 *   the source.
 * - A client registered with the core is exactly a client in `#clientsByUser`:
 *   `core.connect()` and `core.disconnect()` are called in pairs.
 * - Nothing here throws because of a peer: every problem is emitted as `'problem'` with
 *   its connection (`event-source#N`, `client#N`) and line number in the context.
 */
import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import createDebug from 'debug';
import { ErrorCode, MazeError, type Problem } from '../core/errors.js';
import type { UserId } from '../core/events.js';
import { type CoreStats, MazeCore } from '../core/maze-core.js';
import { ClientConnection, type ClientHost } from './client-connection.js';
import { closeStream } from './close-stream.js';
import { EventSourceConnection, type EventSourceHost } from './event-source.js';
import { type MazeOptions, type ResolvedMazeOptions, resolveMazeOptions } from './options.js';

const log = createDebug('follower-maze:maze');
const logClient = createDebug('follower-maze:client');
const logSource = createDebug('follower-maze:event-source');

/** Counters of a running maze (SPEC 9): the core's plus connections and output. */
export interface MazeStats extends CoreStats {
  /** Identified client connections. */
  readonly clientsConnected: number;
  /** Client connections that have not sent their id yet. */
  readonly clientsIdentifying: number;
  /** Clients closed for a bad id, an over-long id line or the identify timeout. */
  readonly clientsRejected: number;
  /** Notifications handed to client streams (one per event per connection). */
  readonly notificationsSent: number;
  /** Bytes handed to client streams. */
  readonly bytesOut: number;
  /** Clients dropped for staying over their buffer limit too long. */
  readonly slowClientDisconnects: number;
  /** Clients over their buffer limit right now. */
  readonly clientsOverLimit: number;
  /** Whether the event source is paused by backpressure right now. */
  readonly eventSourcePaused: boolean;
  /** Times the event source was paused by backpressure. */
  readonly eventSourcePauses: number;
  /** Whether an event source is attached right now. */
  readonly eventSourceConnected: boolean;
  /** Event sources accepted so far. */
  readonly eventSourcesAccepted: number;
  /** Event sources refused because one was already active. */
  readonly eventSourcesRefused: number;
  /** Event lines over the maximum length. */
  readonly linesTooLong: number;
  /** Problems reported so far. */
  readonly problems: number;
}

/** Who a client event is about. */
export interface ClientInfo {
  /** `client#N`. */
  readonly connection: string;
  /** The user id; `undefined` for a client closed before it identified. */
  readonly userId: UserId | undefined;
}

/** Events of a `Maze`. */
export interface MazeEventMap {
  /** Something a peer did wrong, or a stream failure. Never thrown. */
  problem: [problem: Problem];
  /** A client sent its id; it receives every event applied from now on. */
  clientIdentified: [client: ClientInfo];
  /** A client is gone (left, failed, rejected, dropped or closed). */
  clientClosed: [client: ClientInfo];
  /** An event source ended, failed or was closed; the next one may attach. */
  eventSourceEnded: [source: { readonly connection: string; readonly lineCount: number }];
}

/** Creates a maze with the given options; throws `ERR_INVALID_OPTION` on a bad one. */
export function createMaze(options: MazeOptions = {}): Maze {
  return new Maze(options);
}

export class Maze extends EventEmitter<MazeEventMap> {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedMazeOptions;
  readonly #core: MazeCore;
  readonly #clientsByUser = new Map<UserId, ClientConnection[]>();
  /** Every attached client not closed yet, identified or not. */
  readonly #clients = new Set<ClientConnection>();
  /** Connections with `pending` output in the current chunk. */
  readonly #withOutput: ClientConnection[] = [];
  /** Clients over their buffer limit, each with its slow-client timer. */
  readonly #overLimit = new Map<ClientConnection, NodeJS.Timeout>();
  #source: EventSourceConnection | undefined;
  #sourcePaused = false;
  #nextSourceNumber = 1;
  #nextClientNumber = 1;
  #closing: Promise<void> | undefined;

  #clientsConnected = 0;
  #clientsRejected = 0;
  #notificationsSent = 0;
  #bytesOut = 0;
  #slowClientDisconnects = 0;
  #eventSourcePauses = 0;
  #eventSourcesAccepted = 0;
  #eventSourcesRefused = 0;
  #linesTooLong = 0;
  #problems = 0;

  readonly #clientHost: ClientHost;
  readonly #sourceHost: EventSourceHost;

  constructor(options: MazeOptions = {}) {
    super();
    this.options = resolveMazeOptions(options);
    this.#core = new MazeCore({
      startSequence: this.options.startSequence,
      reorderCapacity: this.options.reorderCapacity,
      maxFollowEdges: this.options.maxFollowEdges,
    });
    this.#clientHost = {
      clientIdentified: (client) => this.#clientIdentified(client),
      clientDrained: (client) => this.#clientUnderLimit(client),
      clientClosed: (client) => this.#clientClosed(client),
      report: (problem) => this.#report(problem),
    };
    this.#sourceHost = {
      applyEventLine: (line, lineNumber, source) => this.#applyEventLine(line, lineNumber, source),
      flushOutput: () => this.#flushOutput(),
      eventSourceEnded: (source) => this.#eventSourceEnded(source),
      report: (problem) => this.#report(problem),
    };
  }

  /** The core state machine (for inspection; do not push to it directly). */
  get core(): MazeCore {
    return this.#core;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Attaches an event source. If one is already active, this one is reported
   * (`ERR_EVENT_SOURCE_BUSY`) and closed without reading a line. Returns its connection
   * name (`event-source#N`). Throws `ERR_INVALID_STATE` after `close()`.
   */
  attachEventSource(stream: Readable): string {
    this.#assertOpen();
    const name = `event-source#${this.#nextSourceNumber++}`;
    if (this.#source !== undefined) {
      this.#eventSourcesRefused++;
      this.#report({
        code: ErrorCode.EventSourceBusy,
        message: `an event source is already connected (${this.#source.name}); closed`,
        context: { connection: name },
      });
      stream.on('error', (error) => logSource('%s (refused): %s', name, error.message));
      // Never read: closeStream() discards its input while ending and destroying it.
      void closeStream(stream, this.options.shutdownTimeout);
      return name;
    }
    const source = new EventSourceConnection(name, stream, this.#sourceHost, this.options);
    this.#source = source;
    this.#eventSourcesAccepted++;
    logSource('%s attached', name);
    source.start(this.#sourcePaused);
    return name;
  }

  /**
   * Attaches a user client: it must send its id first, then receives notifications.
   * Returns its connection name (`client#N`). Throws `ERR_INVALID_STATE` after `close()`.
   */
  attachClient(stream: Duplex): string {
    this.#assertOpen();
    const name = `client#${this.#nextClientNumber++}`;
    const client = new ClientConnection(name, stream, this.#clientHost, this.options);
    this.#clients.add(client);
    logClient('%s attached', name);
    client.start();
    return name;
  }

  /**
   * Reports a problem found in front of the maze (e.g. by `listen()` when a listening port
   * fails): it is counted in `stats().problems` and emitted as `'problem'`, like the maze's own.
   */
  report(problem: Problem): void {
    this.#report(problem);
  }

  /** A snapshot of the counters. */
  stats(): MazeStats {
    return {
      ...this.#core.stats(),
      clientsConnected: this.#clientsConnected,
      clientsIdentifying: this.#clients.size - this.#clientsConnected,
      clientsRejected: this.#clientsRejected,
      notificationsSent: this.#notificationsSent,
      bytesOut: this.#bytesOut,
      slowClientDisconnects: this.#slowClientDisconnects,
      clientsOverLimit: this.#overLimit.size,
      eventSourcePaused: this.#sourcePaused,
      eventSourcePauses: this.#eventSourcePauses,
      eventSourceConnected: this.#source !== undefined,
      eventSourcesAccepted: this.#eventSourcesAccepted,
      eventSourcesRefused: this.#eventSourcesRefused,
      linesTooLong: this.#linesTooLong,
      problems: this.#problems,
    };
  }

  /**
   * Stops reading the event source and closes everything attached (SPEC 8): each stream
   * is ended so buffered output flushes, and whatever has not finished within
   * `shutdownTimeout` is destroyed. Idempotent; resolves when all are closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    log('closing: %d client(s), source %s', this.#clients.size, this.#source?.name ?? 'none');
    for (const timer of this.#overLimit.values()) clearTimeout(timer);
    const closing: Promise<void>[] = [];
    if (this.#source !== undefined) closing.push(this.#source.close());
    for (const client of [...this.#clients]) closing.push(client.close());
    await Promise.all(closing);
    log('closed');
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new MazeError(ErrorCode.InvalidState, 'the maze is closed');
    }
  }

  // The hot path: one call per event line.
  #applyEventLine(line: string, lineNumber: number, source: EventSourceConnection): void {
    const result = this.#core.push(line);
    if (result.problems.length !== 0) {
      for (const problem of result.problems) {
        this.#report({
          code: problem.code,
          message: problem.message,
          context: { ...problem.context, connection: source.name, lineNumber },
        });
      }
    }
    const deliveries = result.deliveries;
    const withOutput = this.#withOutput;
    const clientsByUser = this.#clientsByUser;
    for (let d = 0; d < deliveries.length; d++) {
      const delivery = deliveries[d];
      const payload = delivery.event.line;
      const recipients = delivery.recipients;
      for (let r = 0; r < recipients.length; r++) {
        const clients = clientsByUser.get(recipients[r]);
        if (clients === undefined) continue;
        for (let c = 0; c < clients.length; c++) {
          const client = clients[c];
          if (client.pending.length === 0) withOutput.push(client);
          client.pending.push(payload);
        }
        this.#notificationsSent += clients.length;
      }
    }
  }

  // End of an input chunk: one write per client with output, then check the limits.
  #flushOutput(): void {
    const withOutput = this.#withOutput;
    if (withOutput.length === 0) return;
    let bytes = 0;
    for (let i = 0; i < withOutput.length; i++) {
      const client = withOutput[i];
      bytes += client.flush();
      if (
        !this.#overLimit.has(client) &&
        client.state === 'identified' &&
        client.overLimitUntilDrain()
      ) {
        this.#clientOverLimit(client);
      }
    }
    withOutput.length = 0;
    this.#bytesOut += bytes;
  }

  #clientOverLimit(client: ClientConnection): void {
    const timer = setTimeout(() => this.#slowClientTimeout(client), this.options.slowClientTimeout);
    timer.unref();
    this.#overLimit.set(client, timer);
    logClient(
      '%s over its buffer limit (%d bytes queued)',
      client.name,
      client.stream.writableLength,
    );
    this.#updateSourceFlow();
  }

  // Called on every 'drain' and on close; only a client held over its limit has a timer.
  #clientUnderLimit(client: ClientConnection): void {
    const timer = this.#overLimit.get(client);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#overLimit.delete(client);
    this.#updateSourceFlow();
  }

  // The timeout is about staying *over* the limit (SPEC 6). A client still over it is stuck
  // and dropped. One that has read its way back under its limit, with its queue just not
  // empty yet, is reading: the source is no longer held for it, and if it goes over its
  // limit again, it gets a new timer.
  #slowClientTimeout(client: ClientConnection): void {
    if (client.stillOverLimit()) {
      this.#dropSlowClient(client);
      return;
    }
    logClient('%s back under its buffer limit, not drained yet', client.name);
    this.#clientUnderLimit(client);
  }

  #dropSlowClient(client: ClientConnection): void {
    this.#overLimit.delete(client);
    this.#slowClientDisconnects++;
    this.#report({
      code: ErrorCode.ClientSlow,
      message: `client stayed over its ${this.options.clientBufferLimit}-byte buffer limit for ${this.options.slowClientTimeout} ms; disconnected`,
      context: { connection: client.name, userId: client.userId },
    });
    client.destroy();
    this.#updateSourceFlow();
  }

  // Backpressure: the source reads only while no client is over its limit.
  #updateSourceFlow(): void {
    const shouldPause = this.#overLimit.size > 0;
    if (shouldPause === this.#sourcePaused) return;
    this.#sourcePaused = shouldPause;
    if (shouldPause) {
      this.#eventSourcePauses++;
      logSource('paused: %d client(s) over their buffer limit', this.#overLimit.size);
      this.#source?.pause();
    } else {
      logSource('resumed');
      if (this.#closing === undefined) this.#source?.resume();
    }
  }

  #clientIdentified(client: ClientConnection): void {
    const userId = client.userId as UserId;
    const clients = this.#clientsByUser.get(userId);
    if (clients === undefined) this.#clientsByUser.set(userId, [client]);
    else clients.push(client);
    this.#core.connect(userId);
    this.#clientsConnected++;
    logClient('%s identified as user %d', client.name, userId);
    this.emit('clientIdentified', { connection: client.name, userId });
  }

  #clientClosed(client: ClientConnection): void {
    if (!this.#clients.delete(client)) return;
    this.#clientUnderLimit(client);
    const userId = client.userId;
    if (userId !== undefined) {
      const clients = this.#clientsByUser.get(userId);
      const at = clients === undefined ? -1 : clients.indexOf(client);
      if (clients !== undefined && at !== -1) {
        if (clients.length === 1) this.#clientsByUser.delete(userId);
        else clients.splice(at, 1);
        this.#core.disconnect(userId);
        this.#clientsConnected--;
      }
    }
    logClient('%s closed', client.name);
    this.emit('clientClosed', { connection: client.name, userId });
  }

  #eventSourceEnded(source: EventSourceConnection): void {
    if (this.#source !== source) return;
    this.#source = undefined;
    logSource('%s ended after %d line(s)', source.name, source.lineCount);
    if (this.options.resetOnDisconnect) this.#core.reset();
    this.emit('eventSourceEnded', { connection: source.name, lineCount: source.lineCount });
  }

  #report(problem: Problem): void {
    this.#problems++;
    if (problem.code === ErrorCode.LineTooLong) this.#linesTooLong++;
    else if (problem.code === ErrorCode.ClientBadId || problem.code === ErrorCode.ClientIdTimeout) {
      this.#clientsRejected++;
    }
    log('problem %s %o', problem.code, problem.context);
    this.emit('problem', problem);
  }
}

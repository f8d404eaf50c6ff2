/**
 * The stream adapter: a `MazeCore` driven by Node streams (docs/protocol.md §2, 5-9). It attaches to
 * any readable (event source) and any duplex (client), so TCP sockets, in-memory
 * `duplexPair()` ends and pipes all work the same.
 *
 * Invariants:
 * - One event source at a time; a second one is reported and closed before any of its
 *   lines is read (docs/protocol.md §7) — unless the active one has sent nothing for longer than
 *   `sourceIdleTimeout` while being read: then the active one is reported and closed, and
 *   the new one takes over (a dead or hung holder must not keep the only slot forever).
 * - Per input chunk: all lines are pushed to the core, each delivery is queued on every
 *   connection of each recipient, and then every connection with output gets exactly one
 *   `write()` (STYLE 7). No write per notification. A chunk whose output passes
 *   `OUTPUT_FLUSH_BYTES` is flushed on the way, so flow control can pause the source inside
 *   it: otherwise one 64 KiB chunk of broadcasts queues 64 KiB for every client at once.
 * - Backpressure (docs/protocol.md §6) is `FlowControl`'s: the event source is paused exactly while it
 *   holds the source (a client over its own limit, or all clients over the total budget),
 *   and the clients it gives up on are dropped and reported as `ERR_CLIENT_SLOW`.
 * - At most `maxClients` clients (identifying or identified: each holds a descriptor) are
 *   attached; one more is destroyed at once, never read or written, and counted and reported
 *   (`ERR_CLIENT_LIMIT`, rate-limited) by `ClientLimit`. A slot is free again once a client
 *   is closed.
 * - A client registered with the core is exactly a client in `#clientsByUser`:
 *   `core.connect()` and `core.disconnect()` are called in pairs.
 * - Nothing here throws because of a peer: every problem is emitted as `'problem'` with
 *   its connection (`event-source#N`, `client#N`) and line number in the context.
 */
import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import createDebug from 'debug';
import { OUTPUT_FLUSH_BYTES } from '../core/constants.js';
import { ErrorCode, MazeError, type Problem } from '../core/errors.js';
import type { UserId } from '../core/events.js';
import { type CoreStats, MazeCore } from '../core/maze-core.js';
import { ClientConnection, type ClientHost, type ClientSummary } from './client-connection.js';
import { ClientLimit } from './client-limit.js';
import { closeStream } from './close-stream.js';
import { EventSourceConnection, type EventSourceHost } from './event-source.js';
import { FlowControl } from './flow-control.js';
import { type MazeOptions, type ResolvedMazeOptions, resolveMazeOptions } from './options.js';
import { remoteAddressOf } from './remote-address.js';

const log = createDebug('follower-maze:maze');
const logClient = createDebug('follower-maze:client');
const logSource = createDebug('follower-maze:event-source');

/** Counters of a running maze (docs/protocol.md §9): the core's plus connections and output. */
export interface MazeStats extends CoreStats {
  /** Identified client connections. */
  readonly clientsConnected: number;
  /** Client connections that have not sent their id yet. */
  readonly clientsIdentifying: number;
  /** Clients closed for a bad id, an over-long id line or the identify timeout. */
  readonly clientsRejected: number;
  /** Client connections closed at once because `maxClients` were attached (`ERR_CLIENT_LIMIT`). */
  readonly clientsRefused: number;
  /** Notifications handed to client streams (one per event per connection). */
  readonly notificationsSent: number;
  /** Bytes handed to client streams. */
  readonly bytesOut: number;
  /** Clients dropped for staying over their buffer limit too long. */
  readonly slowClientDisconnects: number;
  /** Clients over their buffer limit right now. */
  readonly clientsOverLimit: number;
  /** Upper bound of the bytes queued for all clients (exact while over the total budget). */
  readonly outputQueuedBytes: number;
  /** Whether the output queued for all clients is over the total budget right now. */
  readonly outputOverBudget: boolean;
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
  /** Idle event sources closed because a new one connected (`ERR_EVENT_SOURCE_IDLE`). */
  readonly eventSourceTakeovers: number;
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
  /** The peer's `host:port`; `null` for a stream that is not a TCP socket. */
  readonly remoteAddress: string | null;
}

/** One page of `Maze.clients()`. */
export interface ClientPage {
  /** Clients attached right now (identified or identifying). */
  readonly total: number;
  /** The requested page, oldest attached first. */
  readonly items: readonly ClientSummary[];
}

/** Events of a `Maze`. */
export interface MazeEventMap {
  /** Something a peer did wrong, or a stream failure. Never thrown. */
  problem: [problem: Problem];
  /** A client sent its id; it receives every event applied from now on. */
  clientIdentified: [client: ClientInfo];
  /** A client is gone (left, failed, rejected, dropped or closed). */
  clientClosed: [client: ClientInfo];
  /** An event source was accepted (it holds the source slot until it ends). */
  eventSourceAttached: [
    source: { readonly connection: string; readonly remoteAddress: string | null },
  ];
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
  /** Connections with queued output in the current chunk. */
  readonly #withOutput: ClientConnection[] = [];
  /** Bytes of the notifications queued on `#withOutput` since the last flush. */
  #bytesQueuedSinceFlush = 0;
  readonly #flow: FlowControl<ClientConnection>;
  readonly #clientLimit: ClientLimit;
  #source: EventSourceConnection | undefined;
  #nextSourceNumber = 1;
  #nextClientNumber = 1;
  #closing: Promise<void> | undefined;

  #clientsConnected = 0;
  #clientsRejected = 0;
  #notificationsSent = 0;
  #bytesOut = 0;
  #slowClientDisconnects = 0;
  #eventSourcesAccepted = 0;
  #eventSourcesRefused = 0;
  #eventSourceTakeovers = 0;
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
      reorderBytes: this.options.reorderBytes,
      maxFollowEdges: this.options.maxFollowEdges,
    });
    this.#flow = new FlowControl(this.options, {
      pauseSource: () => this.#pauseSource(),
      resumeSource: () => this.#resumeSource(),
      dropSlowClient: (client, reason) => this.#dropSlowClient(client, reason),
    });
    this.#clientLimit = new ClientLimit(this.options.maxClients, (problem) =>
      this.#report(problem),
    );
    this.#clientHost = {
      clientIdentified: (client) => this.#clientIdentified(client),
      clientDrained: (client) => this.#flow.drained(client),
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
   * Attaches an event source. If one is already active and has sent something within
   * `sourceIdleTimeout` (or is paused by backpressure), this one is reported
   * (`ERR_EVENT_SOURCE_BUSY`) and closed without reading a line. If the active one has been
   * idle longer, it is reported (`ERR_EVENT_SOURCE_IDLE`) and closed, and this one takes
   * over. Returns its connection name (`event-source#N`). Throws `ERR_INVALID_STATE` after
   * `close()`.
   */
  attachEventSource(stream: Readable): string {
    this.#assertOpen();
    const name = `event-source#${this.#nextSourceNumber++}`;
    if (this.#source !== undefined) this.#takeOverIfIdle(this.#source, name);
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
    this.emit('eventSourceAttached', { connection: name, remoteAddress: remoteAddressOf(stream) });
    source.start(this.#flow.sourceHeld);
    return name;
  }

  /**
   * Attaches a user client: it must send its id first, then receives notifications.
   * While `maxClients` clients are attached, the stream is destroyed at once instead, counted
   * in `stats().clientsRefused` and reported (`ERR_CLIENT_LIMIT`, at most once per
   * `CLIENT_LIMIT_REPORT_INTERVAL_MS`). Returns its connection name (`client#N`) either way.
   * Throws `ERR_INVALID_STATE` after `close()`.
   */
  attachClient(stream: Duplex): string {
    this.#assertOpen();
    const name = `client#${this.#nextClientNumber++}`;
    if (!this.#clientLimit.admits(this.#clients.size)) {
      // Destroyed before any read or write: its descriptor is released in this same turn.
      stream.on('error', (error) => logClient('%s (refused): %s', name, error.message));
      stream.destroy();
      this.#clientLimit.refuse(name);
      return name;
    }
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
      clientsRefused: this.#clientLimit.refused,
      notificationsSent: this.#notificationsSent,
      bytesOut: this.#bytesOut,
      slowClientDisconnects: this.#slowClientDisconnects,
      clientsOverLimit: this.#flow.clientsOverLimit,
      outputQueuedBytes: this.#flow.queuedBytes,
      outputOverBudget: this.#flow.overBudget,
      eventSourcePaused: this.#flow.sourceHeld,
      eventSourcePauses: this.#flow.pauses,
      eventSourceConnected: this.#source !== undefined,
      eventSourcesAccepted: this.#eventSourcesAccepted,
      eventSourcesRefused: this.#eventSourcesRefused,
      eventSourceTakeovers: this.#eventSourceTakeovers,
      linesTooLong: this.#linesTooLong,
      problems: this.#problems,
    };
  }

  /**
   * Lists attached clients (identified or identifying) in the order they were attached:
   * `limit` of them from `offset` on, as plain summaries. O(offset + limit).
   */
  clients(offset: number, limit: number): ClientPage {
    const items: ClientSummary[] = [];
    let index = 0;
    for (const client of this.#clients) {
      if (index >= offset + limit) break;
      if (index >= offset) items.push(client.summary());
      index++;
    }
    return { total: this.#clients.size, items };
  }

  /**
   * Stops reading the event source and closes everything attached (docs/protocol.md §8): each stream
   * is ended so buffered output flushes, and whatever has not finished within
   * `shutdownTimeout` is destroyed. Idempotent; resolves when all are closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    log('closing: %d client(s), source %s', this.#clients.size, this.#source?.name ?? 'none');
    this.#flow.close();
    this.#clientLimit.close();
    const closing: Promise<void>[] = [];
    if (this.#source !== undefined) closing.push(this.#source.close());
    for (const client of [...this.#clients]) closing.push(client.close());
    await Promise.all(closing);
    log('closed');
  }

  // Only a newcomer ends an idle holder: a quiet source nobody wants to replace stays.
  #takeOverIfIdle(holder: EventSourceConnection, newcomer: string): void {
    const timeout = this.options.sourceIdleTimeout;
    const idle = holder.idleFor();
    if (timeout === 0 || idle <= timeout) return;
    this.#eventSourceTakeovers++;
    this.#report({
      code: ErrorCode.EventSourceIdle,
      message: `event source sent nothing for ${Math.round(idle)} ms (idle timeout ${timeout} ms); closed, ${newcomer} takes over`,
      context: { connection: holder.name, lineNumber: holder.lineCount },
    });
    // Releases the holder at once (so `#source` is free); its stream closes in the background.
    void holder.endNow();
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
      let notifications = 0;
      for (let r = 0; r < recipients.length; r++) {
        const clients = clientsByUser.get(recipients[r]);
        if (clients === undefined) continue;
        for (let c = 0; c < clients.length; c++) {
          const client = clients[c];
          if (client.enqueue(payload)) withOutput.push(client);
        }
        notifications += clients.length;
      }
      this.#notificationsSent += notifications;
      this.#bytesQueuedSinceFlush += notifications * payload.length;
    }
    // Flow control must see a big chunk's output before all of it is queued.
    if (this.#bytesQueuedSinceFlush > OUTPUT_FLUSH_BYTES) this.#flushOutput();
  }

  // End of an input chunk (or of OUTPUT_FLUSH_BYTES of output): one write per client with
  // output, then check the limits.
  #flushOutput(): void {
    const withOutput = this.#withOutput;
    this.#bytesQueuedSinceFlush = 0;
    if (withOutput.length === 0) return;
    let bytes = 0;
    for (let i = 0; i < withOutput.length; i++) {
      const client = withOutput[i];
      const written = client.flush();
      if (written === 0) continue;
      bytes += written;
      this.#flow.wrote(client);
    }
    withOutput.length = 0;
    this.#bytesOut += bytes;
    this.#flow.flushed();
  }

  #dropSlowClient(client: ClientConnection, reason: string): void {
    this.#slowClientDisconnects++;
    logClient('%s %s (%d bytes queued)', client.name, reason, client.queuedBytes());
    this.#report({
      code: ErrorCode.ClientSlow,
      message: `client ${reason}; disconnected`,
      context: { connection: client.name, userId: client.userId },
    });
    client.destroy();
  }

  #pauseSource(): void {
    logSource(
      'paused: %d client(s) over their buffer limit, %d bytes queued in all',
      this.#flow.clientsOverLimit,
      this.#flow.queuedBytes,
    );
    this.#source?.pause();
  }

  #resumeSource(): void {
    logSource('resumed');
    if (this.#closing === undefined) this.#source?.resume();
  }

  #clientIdentified(client: ClientConnection): void {
    const userId = client.userId as UserId;
    const clients = this.#clientsByUser.get(userId);
    if (clients === undefined) this.#clientsByUser.set(userId, [client]);
    else clients.push(client);
    this.#core.connect(userId);
    this.#clientsConnected++;
    logClient('%s identified as user %d', client.name, userId);
    this.emit('clientIdentified', {
      connection: client.name,
      userId,
      remoteAddress: client.remoteAddress,
    });
  }

  #clientClosed(client: ClientConnection): void {
    if (!this.#clients.delete(client)) return;
    this.#flow.removed(client);
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
    this.emit('clientClosed', {
      connection: client.name,
      userId,
      remoteAddress: client.remoteAddress,
    });
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

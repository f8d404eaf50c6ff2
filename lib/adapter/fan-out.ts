/**
 * The output side of a maze (docs/protocol.md §5, §6): the client registry, delivery of
 * notifications with one write per client per flush, the client limit, and flow control.
 * It knows nothing of the event source: it asks its host to hold or release the input, so
 * a front end that only serves clients from a log (the cluster's gateway) uses it as `Maze`
 * does.
 *
 * Invariants:
 * - A client is registered under its user exactly from its id until it closes, and the core's
 *   count of connected users (`UserPresence`: `MazeCore.connect`/`disconnect`) follows the
 *   registry here, one call each way per identified client, so the two never disagree.
 *   So a broadcast, whose recipients are every connected user, goes to every registered
 *   client straight from a flat list, without a lookup per user.
 *   The host hears `clientIdentified` after the core, and `clientClosed` for every client.
 * - `deliver()` registers each line once (`OutputLines`: a range of the bytes read) and
 *   queues its index on every connection of each recipient; `flush()` gives every connection
 *   with output exactly one `write()`, the bytes of its lines copied into one buffer. Past
 *   `OUTPUT_FLUSH_BYTES` of queued output (and `OUTPUT_FLUSH_BYTES_PER_CLIENT` per client with
 *   output), `deliver()` flushes by itself, so flow control
 *   can hold the input inside a big chunk: otherwise one 64 KiB chunk of broadcasts queues
 *   64 KiB for every client at once.
 * - If flow control holds the input in the middle of one `deliver()` (one line can release
 *   the whole reorder buffer), the rest waits as the backlog and goes out before the input
 *   is released: the limits hold within one flush. A client that identifies meanwhile gets
 *   none of it: those events were applied before its id.
 * - Backpressure is `FlowControl`'s: the host holds the input exactly while flow control
 *   says so, and the clients it gives up on are dropped and reported as `ERR_CLIENT_SLOW`.
 * - At most `maxClients` clients (identifying or identified: each holds a descriptor) are
 *   attached. At the limit, a half-closed client with nothing queued (its peer sent EOF
 *   after its id, and all its output is written) gives way: the one half-closed the longest
 *   is ended and counted and reported (`ERR_CLIENT_EVICTED`), and the new one is attached.
 *   Half-closed clients sit in an insertion-ordered set; one found still being served goes
 *   to its back, and at most `HALF_CLOSED_CHECKS_PER_ACCEPT` are looked at per connection,
 *   so this is O(1) however many clients there are. With none to give way, the new client
 *   is destroyed at once, never read or written, and counted and reported
 *   (`ERR_CLIENT_LIMIT`). Both reports are rate-limited by `ClientLimit`. The evicted
 *   client's descriptor is released once its end is written (within the shutdown timeout),
 *   which the descriptor reserve covers.
 * - With an `authenticate` hook, clients identify with a credential (client-connection.ts,
 *   client-auth.ts); a client whose credential expires is closed then (`ERR_CLIENT_AUTH`,
 *   reason `expired`) unless it sent a fresh one before: one `ExpiryQueue` for all clients.
 * - While there are half-closed clients, every `HALF_CLOSED_SWEEP_INTERVAL_MS` the ones whose
 *   connection the kernel has closed are dropped (silently, like a reset after a peer's end),
 *   so the slot of a peer that is gone comes back without a write to it.
 */
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import { epochLine } from '../core/epoch.js';
import { EventType, type Sequence, type UserId } from '../core/events.js';
import type { Delivery } from '../core/maze-core.js';
import { gapLine, type ResumeOutcome } from '../core/resume-history.js';
import { ErrorCode, type Problem } from '../errors.js';
import { type Authenticate, Authenticator, type AuthStats, NO_AUTH_STATS } from './client-auth.js';
import { ClientConnection, type ClientHost, type ClientSummary } from './client-connection.js';
import { ClientLimit } from './client-limit.js';
import { ClientsByUser } from './clients-by-user.js';
import { ExpiryQueue } from './expiry-queue.js';
import { FlowControl } from './flow-control.js';
import type { ResumePoint } from './id-line.js';
import { OutputLines } from './output-lines.js';
import { ResumeQueue } from './resume-queue.js';

/**
 * Output queued since the last flush that makes the maze flush before the input chunk ends.
 * Limits are checked at flushes, so this bounds how far one chunk can carry the queues past
 * them (a 64 KiB chunk of 8-byte broadcasts owes every client 64 KiB; 4,500 clients, 288 MiB).
 * 1 MiB keeps a chunk of the default mix (~1.3 MiB of output for 100 clients) to two writes.
 */
export const OUTPUT_FLUSH_BYTES = 1024 * 1024;
/**
 * With many clients the early flush also waits for this much output per client with output,
 * so each write stays large enough to be cheap; the overshoot of a limit stays under it.
 */
const OUTPUT_FLUSH_BYTES_PER_CLIENT = 4 * 1024;
/**
 * Half-closed clients looked at, oldest first, for one to give way to a connection at the
 * client limit. Ones still being served go to the back, so the next connection looks at
 * others; the bound keeps a crowd of them from costing a scan per connection.
 */
const HALF_CLOSED_CHECKS_PER_ACCEPT = 16;
/**
 * How often half-closed clients are checked for a connection the kernel has closed (a reset,
 * or keepalive giving up): Node no longer reads them, so it would only notice at their next
 * notification, which may never come (docs/protocol.md §5). One getpeername(2) per
 * half-closed client each time: measured about 1 µs each, 17 ms for 19,000.
 */
const HALF_CLOSED_SWEEP_INTERVAL_MS = 5_000;

const log = createDebug('follower-maze:client');

export interface FanOutOptions {
  readonly maxIdLineLength: number;
  readonly identifyTimeout: number;
  readonly shutdownTimeout: number;
  readonly maxClients: number;
  readonly clientBufferLimit: number;
  readonly totalBufferLimit: number;
  readonly slowClientTimeout: number;
  /** Decides who a client is from the credential on its id line; without it, the id line is the user id. */
  readonly authenticate?: Authenticate | undefined;
}

/** How one client is attached. */
export interface AttachClientOptions {
  /**
   * Milliseconds it has left to identify, when part of `identifyTimeout` went before it was
   * attached (a TLS handshake); `identifyTimeout` otherwise.
   */
  readonly identifyTimeout?: number;
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

/** One page of `clients()`. */
export interface ClientPage {
  /** Clients attached right now (identified or identifying). */
  readonly total: number;
  /** The requested page, oldest attached first. */
  readonly items: readonly ClientSummary[];
}

/**
 * Who is connected, as the core routes by it, the stream's epoch, and what a resuming user
 * missed: `MazeCore` is one.
 */
export interface UserPresence {
  readonly epoch: string;
  /** The number of the last event applied: every later one is numbered above it. */
  readonly lastApplied: Sequence;
  connect(userId: UserId): void;
  disconnect(userId: UserId): void;
  resume(userId: UserId, lastSequence: Sequence, epoch: string): ResumeOutcome;
}

/** How a client's resume went (docs/protocol.md §12). */
export interface ResumeReport extends ClientInfo {
  /** The last sequence number the client said it received. */
  readonly after: Sequence;
  /** The epoch the client named: a gap line follows when it is not the stream's. */
  readonly epoch: string;
  /** Whether everything after it was replayed; otherwise the client was sent a gap line. */
  readonly exact: boolean;
  /** Notifications replayed (0 when not exact). */
  readonly notifications: number;
}

/** What the output side tells its owner. */
export interface FanOutHost {
  /** A client sent its id: it gets every notification delivered from now on. */
  clientIdentified(client: ClientInfo): void;
  /** A client that identified with a last sequence number was replayed what it missed, or told it cannot be. */
  clientResumed(report: ResumeReport): void;
  /** A client is gone (identified or not). */
  clientClosed(client: ClientInfo): void;
  /** Stop reading input until `resumeInput()`. */
  pauseInput(): void;
  resumeInput(): void;
  report(problem: Problem): void;
}

/** Counters of the output side. */
export interface FanOutStats extends AuthStats {
  /** Identified client connections. */
  readonly clientsConnected: number;
  /** Client connections that have not sent their id yet, or wait for their resume. */
  readonly clientsIdentifying: number;
  /** Clients closed for a bad id, an over-long id line or the identify timeout. */
  readonly clientsRejected: number;
  /** Client connections closed at once because `maxClients` were attached (`ERR_CLIENT_LIMIT`). */
  readonly clientsRefused: number;
  /** Half-closed clients with nothing queued, closed to make room under `maxClients` (`ERR_CLIENT_EVICTED`). */
  readonly clientsEvicted: number;
  /** Identified clients whose peer ended its sending side; still served. */
  readonly clientsHalfClosed: number;
  /** Notifications handed to client streams (one per event per connection). */
  readonly notificationsSent: number;
  /** Bytes handed to client streams. */
  readonly bytesOut: number;
  /** Clients dropped for staying over their buffer limit (or the total) too long. */
  readonly slowClientDisconnects: number;
  /** Clients over their buffer limit right now. */
  readonly clientsOverLimit: number;
  /** Upper bound of the bytes queued for all clients (exact while over the total budget). */
  readonly outputQueuedBytes: number;
  /** Whether the output queued for all clients is over the total budget right now. */
  readonly outputOverBudget: boolean;
  /** Resumes that replayed everything the client missed. */
  readonly clientsResumed: number;
  /**
   * Resumes answered with a gap line: another epoch, the history no longer held it, or the
   * number was ahead.
   */
  readonly resumesRefused: number;
  /** Notifications replayed to resuming clients (also counted in `notificationsSent`). */
  readonly resumeNotifications: number;
  /** Clients waiting for their resume. */
  readonly resumesWaiting: number;
  /** Whether the input is held by backpressure right now. */
  readonly eventSourcePaused: boolean;
  /** Times the input was held by backpressure. */
  readonly eventSourcePauses: number;
}

export class FanOut {
  readonly #options: FanOutOptions;
  readonly #users: UserPresence;
  readonly #host: FanOutHost;
  readonly #clientHost: ClientHost;
  readonly #flow: FlowControl<ClientConnection>;
  readonly #limit: ClientLimit;
  readonly #resumes: ResumeQueue<ClientConnection>;
  /** Runs the `authenticate` hook; `undefined` without one. */
  readonly #authenticator: Authenticator | undefined;
  /** When authenticated clients' credentials expire. */
  readonly #expiries = new ExpiryQueue<ClientConnection>((client) => client.expire());
  readonly #clientsByUser = new ClientsByUser<ClientConnection>();
  /** Where each identified client sits in its user's array (O(1) removal); its size is how many are identified. */
  readonly #positions = new Map<ClientConnection, number>();
  /** Every registered client, in no order: a broadcast's recipients. */
  readonly #registered: ClientConnection[] = [];
  /** Where each registered client sits in `#registered` (O(1) removal). */
  readonly #registeredAt = new Map<ClientConnection, number>();
  /** Every attached client not closed yet, identified or not, oldest first. */
  readonly #clients = new Set<ClientConnection>();
  /** Identified clients whose peer ended its sending side, the longest half-closed first. */
  readonly #halfClosed = new Set<ClientConnection>();
  /** Runs while `#halfClosed` is not empty. */
  #sweep: NodeJS.Timeout | undefined;
  /** The lines queued since the last flush; clients queue their indices. */
  readonly #lines = new OutputLines();
  /** Connections with queued output since the last flush. */
  readonly #withOutput: ClientConnection[] = [];
  /** Bytes of the notifications queued on `#withOutput` since the last flush. */
  #bytesQueuedSinceFlush = 0;
  /** Deliveries not queued yet because flow control held the input (see the header). */
  #backlog: { readonly deliveries: readonly Delivery[]; readonly next: number } | undefined;
  /** Clients identified while a backlog waits: its events were applied before them. */
  #lateClients: Set<ClientConnection> | undefined;
  #nextNumber = 1;
  #clientsRejected = 0;
  #notificationsSent = 0;
  #bytesOut = 0;
  #slowClientDisconnects = 0;
  #clientsResumed = 0;
  #resumesRefused = 0;
  #resumeNotifications = 0;

  constructor(options: FanOutOptions, users: UserPresence, host: FanOutHost) {
    this.#options = options;
    this.#users = users;
    this.#host = host;
    this.#flow = new FlowControl(options, {
      pauseSource: () => {
        log(
          'input held: %d over their limit, %d bytes queued',
          this.#flow.clientsOverLimit,
          this.#flow.queuedBytes,
        );
        host.pauseInput();
      },
      resumeSource: () => this.#resume(),
      dropSlowClient: (client, reason) => this.#dropSlowClient(client, reason),
    });
    this.#limit = new ClientLimit(options.maxClients, (problem) => host.report(problem));
    this.#resumes = new ResumeQueue(
      (client) => this.#serveResume(client),
      () => this.#flow.sourceHeld,
    );
    this.#authenticator =
      options.authenticate === undefined ? undefined : new Authenticator(options.authenticate);
    this.#clientHost = {
      clientIdentified: (client) => this.#identified(client),
      clientReauthenticated: (client) => this.#scheduleExpiry(client),
      clientDrained: (client) => this.#flow.drained(client),
      clientHalfClosed: (client) => this.#halfClosedClient(client),
      clientClosed: (client) => this.#closed(client),
      report: (problem) => this.#report(problem),
    };
  }

  /** Whether the input must not be read right now. */
  get inputHeld(): boolean {
    return this.#flow.sourceHeld;
  }

  /**
   * Attaches a user client: it must send its id first, then receives notifications. At
   * the client limit, a half-closed client with nothing queued gives way to it; with none,
   * it is refused instead (see the header). Returns its connection name (`client#N`) either way.
   */
  attach(stream: Duplex, options: AttachClientOptions = {}): string {
    const name = `client#${this.#nextNumber++}`;
    if (!this.#limit.admits(this.#clients.size) && !this.#makeRoom()) {
      // Destroyed before any read or write: its descriptor is released in this same turn.
      stream.on('error', (error) => log('%s (refused): %s', name, error.message));
      stream.destroy();
      this.#limit.refuse(name);
      return name;
    }
    const client = new ClientConnection(
      name,
      stream,
      this.#clientHost,
      options.identifyTimeout === undefined
        ? this.#options
        : { ...this.#options, identifyTimeout: options.identifyTimeout },
      this.#authenticator,
    );
    this.#clients.add(client);
    log('%s attached', name);
    client.start();
    return name;
  }

  /** Queues each delivery for every connection of its recipients. */
  deliver(deliveries: readonly Delivery[]): void {
    this.#deliverFrom(deliveries, 0);
  }

  // The hot path: once per applied event that notifies someone.
  #deliverFrom(deliveries: readonly Delivery[], first: number): void {
    const withOutput = this.#withOutput;
    const clientsByUser = this.#clientsByUser;
    const lines = this.#lines;
    for (let d = first; d < deliveries.length; d++) {
      const delivery = deliveries[d];
      const { bytes, start, end } = delivery.event;
      const length = end - start;
      const line = lines.add(bytes, start, end);
      const recipients = delivery.recipients;
      let notifications = 0;
      if (delivery.event.type === EventType.Broadcast) {
        // Every connected user: every registered client, without a lookup per user
        // (measured: the lookup was the costliest line of this loop; with 2,000 clients
        // nearly every notification is a broadcast).
        notifications = this.#enqueueOn(this.#registered, line, length);
      } else {
        for (let r = 0; r < recipients.length; r++) {
          const clients = clientsByUser.get(recipients[r]);
          if (clients !== undefined) notifications += this.#enqueueOn(clients, line, length);
        }
      }
      this.#notificationsSent += notifications;
      this.#bytesQueuedSinceFlush += notifications * length;
      // Past OUTPUT_FLUSH_BYTES, or OUTPUT_FLUSH_BYTES_PER_CLIENT for each client with output
      // when more: with thousands of clients, flushing every 1 MiB would mean writes of a few
      // hundred bytes each (measured: write calls a quarter of the CPU with 2,000 clients).
      if (
        this.#bytesQueuedSinceFlush > OUTPUT_FLUSH_BYTES &&
        this.#bytesQueuedSinceFlush > withOutput.length * OUTPUT_FLUSH_BYTES_PER_CLIENT
      ) {
        this.flush();
        if (this.#flow.sourceHeld && d + 1 < deliveries.length) {
          this.#backlog = { deliveries, next: d + 1 };
          this.#lateClients ??= new Set();
          return;
        }
      }
    }
  }

  // Queues line `line` on each of `clients` but the late ones; returns how many.
  #enqueueOn(clients: readonly ClientConnection[], line: number, length: number): number {
    const withOutput = this.#withOutput;
    const late = this.#lateClients;
    if (late === undefined) {
      for (let c = 0; c < clients.length; c++) {
        const client = clients[c] as ClientConnection;
        if (client.enqueue(line, length)) withOutput.push(client);
      }
      return clients.length;
    }
    let notifications = 0;
    for (let c = 0; c < clients.length; c++) {
      const client = clients[c] as ClientConnection;
      if (late.has(client)) continue;
      if (client.enqueue(line, length)) withOutput.push(client);
      notifications++;
    }
    return notifications;
  }

  // Flow control lets go: the backlog first; the input only once it is all out.
  #resume(): void {
    const backlog = this.#backlog;
    if (backlog !== undefined) {
      this.#backlog = undefined;
      this.#deliverFrom(backlog.deliveries, backlog.next);
      if (this.#backlog === undefined) this.#lateClients = undefined;
      this.flush();
      if (this.#backlog !== undefined || this.#flow.sourceHeld) return;
    }
    this.#host.resumeInput();
    this.#resumes.kick();
  }

  /** One write per client with queued output, then the limits are checked. */
  flush(): void {
    const withOutput = this.#withOutput;
    const lines = this.#lines;
    this.#bytesQueuedSinceFlush = 0;
    if (withOutput.length === 0) {
      lines.clear();
      return;
    }
    let bytes = 0;
    for (let i = 0; i < withOutput.length; i++) {
      const client = withOutput[i];
      const written = client.flush(lines);
      if (written === 0) continue;
      bytes += written;
      this.#flow.wrote(client);
    }
    withOutput.length = 0;
    lines.clear();
    this.#bytesOut += bytes;
    this.#flow.flushed();
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

  stats(): FanOutStats {
    return {
      clientsConnected: this.#positions.size,
      clientsIdentifying: this.#clients.size - this.#positions.size,
      clientsRejected: this.#clientsRejected,
      clientsRefused: this.#limit.refused,
      clientsEvicted: this.#limit.evicted,
      clientsHalfClosed: this.#halfClosed.size,
      notificationsSent: this.#notificationsSent,
      bytesOut: this.#bytesOut,
      slowClientDisconnects: this.#slowClientDisconnects,
      clientsResumed: this.#clientsResumed,
      resumesRefused: this.#resumesRefused,
      resumeNotifications: this.#resumeNotifications,
      resumesWaiting: this.#resumes.size,
      clientsOverLimit: this.#flow.clientsOverLimit,
      outputQueuedBytes: this.#flow.queuedBytes,
      outputOverBudget: this.#flow.overBudget,
      eventSourcePaused: this.#flow.sourceHeld,
      eventSourcePauses: this.#flow.pauses,
      ...(this.#authenticator?.stats() ?? NO_AUTH_STATS),
    };
  }

  /** Closes every client in two steps (flush, then destroy after the shutdown timeout). */
  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#flow.close();
    this.#limit.close();
    this.#resumes.close();
    this.#authenticator?.close();
    this.#expiries.close();
    await Promise.all([...this.#clients].map((client) => client.close()));
  }

  #identified(client: ClientConnection): void {
    this.#scheduleExpiry(client);
    const resume = client.resume;
    if (resume === undefined) {
      this.#register(client);
    } else if (resume.lastSequence === undefined) {
      // `USERID|-`: nothing to replay; the epoch line goes out before anything live and
      // names the last event applied before the client was registered.
      const head = epochLine(this.#users.epoch, this.#users.lastApplied);
      this.#register(client);
      this.#sent(client, client.send(head, '', 0));
    } else {
      this.#resumes.add(client);
    }
  }

  #scheduleExpiry(client: ClientConnection): void {
    if (client.expiresAt === undefined) this.#expiries.delete(client);
    else this.#expiries.set(client, client.expiresAt);
  }

  // Replays what the client missed (or tells it why not) after the epoch line and registers
  // it, in one turn: the events applied after the scan reach it live, exactly once. Returns
  // the entries scanned.
  #serveResume(client: ClientConnection): number {
    const userId = client.userId as UserId;
    const { lastSequence: after, epoch } = client.resume as ResumePoint;
    const outcome = this.#users.resume(userId, after, epoch);
    let output: string | Uint8Array;
    if (outcome.exact) {
      this.#clientsResumed++;
      this.#resumeNotifications += outcome.notifications;
      this.#notificationsSent += outcome.notifications;
      output = outcome.output;
    } else {
      this.#resumesRefused++;
      output = gapLine(outcome.reason, outcome.next);
    }
    this.#register(client);
    // The notifications start after LASTSEQ when replayed, else after the gap's next - 1.
    const head = epochLine(this.#users.epoch, outcome.exact ? after : outcome.next - 1);
    this.#sent(client, client.send(head, output, outcome.exact ? outcome.notifications : 0));
    log(
      '%s resumed after %d of epoch %s: %s',
      client.name,
      after,
      epoch,
      outcome.exact ? outcome.notifications : outcome.reason,
    );
    this.#host.clientResumed({
      ...infoOf(client),
      after,
      epoch,
      exact: outcome.exact,
      notifications: outcome.exact ? outcome.notifications : 0,
    });
    return outcome.exact ? outcome.scanned : 0;
  }

  // Output written outside the batching counts like a flush.
  #sent(client: ClientConnection, written: number): void {
    if (written === 0) return;
    this.#bytesOut += written;
    this.#flow.wrote(client);
    this.#flow.flushed();
  }

  #register(client: ClientConnection): void {
    const userId = client.userId as UserId;
    let clients = this.#clientsByUser.get(userId);
    if (clients === undefined) {
      clients = [];
      this.#clientsByUser.set(userId, clients);
    }
    this.#positions.set(client, clients.length);
    clients.push(client);
    this.#registeredAt.set(client, this.#registered.length);
    this.#registered.push(client);
    this.#lateClients?.add(client);
    log('%s identified as user %d', client.name, userId);
    this.#users.connect(userId);
    this.#host.clientIdentified(infoOf(client));
  }

  #halfClosedClient(client: ClientConnection): void {
    this.#halfClosed.add(client);
    if (this.#sweep !== undefined) return;
    this.#sweep = setInterval(() => this.#dropGoneClients(), HALF_CLOSED_SWEEP_INTERVAL_MS);
    this.#sweep.unref();
  }

  // O(half-closed clients); a dropped one leaves the set as it closes.
  #dropGoneClients(): void {
    for (const client of this.#halfClosed) {
      if (!client.connectionDropped()) continue;
      log('%s half-closed and its connection is gone: dropped', client.name);
      client.destroy();
    }
    if (this.#halfClosed.size > 0) return;
    clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  // Ends the half-closed client with nothing queued that half-closed the longest ago, if one
  // is among the first HALF_CLOSED_CHECKS_PER_ACCEPT; the ones passed over are still being
  // served and go to the back. Whether a slot was freed.
  #makeRoom(): boolean {
    // A backlog is owed to registered clients although nothing is queued for them yet.
    if (this.#backlog !== undefined) return false;
    const halfClosed = this.#halfClosed;
    const served: ClientConnection[] = [];
    let idle: ClientConnection | undefined;
    for (const client of halfClosed) {
      // One waiting for its resume is owed its replay.
      if (client.idle() && !this.#resumes.has(client)) {
        idle = client;
        break;
      }
      served.push(client);
      if (served.length === HALF_CLOSED_CHECKS_PER_ACCEPT) break;
    }
    for (const client of served) {
      halfClosed.delete(client);
      halfClosed.add(client);
    }
    if (idle === undefined) return false;
    log('%s half-closed with nothing queued: closed to make room', idle.name);
    // Unregistered in this turn (its slot is free); its end is written in the background.
    void idle.close();
    this.#limit.evict(idle.name);
    return true;
  }

  // Unregistered before flow control hears of it: releasing the input may deliver at once.
  #closed(client: ClientConnection): void {
    if (!this.#clients.delete(client)) return;
    this.#resumes.delete(client);
    this.#halfClosed.delete(client);
    this.#expiries.delete(client);
    const at = this.#positions.get(client);
    if (at !== undefined) {
      const userId = client.userId as UserId;
      const clients = this.#clientsByUser.get(userId) as ClientConnection[];
      // Order among one user's connections does not matter: the last one takes its place.
      const last = clients.pop() as ClientConnection;
      if (last !== client) {
        clients[at] = last;
        this.#positions.set(last, at);
      }
      if (clients.length === 0) this.#clientsByUser.delete(userId);
      this.#positions.delete(client);
      const slot = this.#registeredAt.get(client) as number;
      const moved = this.#registered.pop() as ClientConnection;
      if (moved !== client) {
        this.#registered[slot] = moved;
        this.#registeredAt.set(moved, slot);
      }
      this.#registeredAt.delete(client);
      this.#users.disconnect(userId);
    }
    this.#lateClients?.delete(client);
    log('%s closed', client.name);
    this.#host.clientClosed(infoOf(client));
    this.#flow.removed(client);
  }

  #dropSlowClient(client: ClientConnection, reason: string): void {
    this.#slowClientDisconnects++;
    log('%s %s (%d bytes queued)', client.name, reason, client.queuedBytes());
    this.#report({
      code: ErrorCode.ClientSlow,
      message: `client ${reason}; disconnected`,
      context: { connection: client.name, userId: client.userId },
    });
    client.destroy();
  }

  #report(problem: Problem): void {
    if (
      problem.code === ErrorCode.ClientBadId ||
      problem.code === ErrorCode.ClientBadResume ||
      problem.code === ErrorCode.ClientIdTimeout
    ) {
      this.#clientsRejected++;
    }
    this.#host.report(problem);
  }
}

function infoOf(client: ClientConnection): ClientInfo {
  return { connection: client.name, userId: client.userId, remoteAddress: client.remoteAddress };
}

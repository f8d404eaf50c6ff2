/**
 * The `EventLog` on a NATS JetStream stream: durable, shared by one ingest and many gateways.
 * This module ties together the stream's setup (jetstream-stream.ts), the appends
 * (jetstream-append.ts) and the reading (jetstream-reader.ts), and watches the connection.
 *
 * Invariants (besides `EventLog`'s):
 * - One stream holds the log, with exactly one subject; one batch is one message, so a log
 *   position is the message's stream sequence. `open()` creates the stream when it is missing
 *   and refuses one that has other subjects (`ERR_LOG_CONFIG`). The storage and replicas of
 *   an existing stream are left as they are; its retention (max age, max bytes) is set to
 *   what this log is opened with, so changing the setting and restarting changes the stream.
 * - `append()` is fenced and never retries by itself; an append still waiting when the
 *   connection is made again fails then, and after a reconnect every reader pulls afresh
 *   at once.
 * - Errors of the NATS client never escape as they are: each becomes a `MazeError` with an
 *   `ERR_LOG_…` code and a message that says what to do.
 */
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../errors.js';
import {
  type AppendResult,
  checkFromPosition,
  EVENT_LOG_REQUEST_TIMEOUT_MS,
  type EventBatch,
  type EventLog,
  type LogFence,
  type LogForeign,
  type LogIdentity,
  type LogReader,
  type LogSettings,
  type LogTail,
  type ReadOptions,
} from './event-log.js';
import { JetStreamAppender } from './jetstream-append.js';
import { JetStreamLogReader, readTail } from './jetstream-reader.js';
import { JetStreamSnapshotStore } from './jetstream-snapshot-store.js';
import {
  ensureStream,
  recordStreamSettings,
  storageType,
  streamIdentity,
} from './jetstream-stream.js';
import { type LogKey, type LogKeyInput, logKeyOf } from './log-key.js';
import { refusalOf } from './nats-auth.js';
import { messageOf } from './nats-error.js';
import { NATS_OPTIONS } from './options.js';

/**
 * Batches a log reader may fetch ahead of its consumer: the bound on what a gateway holds
 * while it does not pull (64 KiB batches: 1 MiB).
 */
const EVENT_LOG_READ_AHEAD = 16;

/**
 * The connection to NATS went down (`connected: false`) or came back, or NATS refused the
 * login while the client reconnects (`refused`, with `connected: false`).
 */
export interface ConnectionChange {
  readonly connected: boolean;
  /** The server it lost, reached, or that refused it. */
  readonly server: string;
  /** Why NATS refused the login (`Authorization Violation`, …); the client tries again. */
  readonly refused?: string;
}

/** The options with their defaults filled in; retention stays optional (see `maxAge`). */
type ResolvedOptions = Required<Omit<JetStreamEventLogOptions, 'maxAge' | 'maxBytes' | 'logKey'>> &
  Pick<JetStreamEventLogOptions, 'maxAge' | 'maxBytes'> & { readonly logKey: LogKey | undefined };

/** Where the log lives on JetStream, and how a stream created for it looks. */
export interface JetStreamEventLogOptions {
  /** Default `NATS_OPTIONS.natsStream.default`. */
  readonly stream?: string;
  /** Default `NATS_OPTIONS.natsSubject.default`. */
  readonly subject?: string;
  /** Storage of a stream created here; default `NATS_OPTIONS.natsStorage.default`. */
  readonly storage?: 'file' | 'memory';
  /** Replicas of a stream created here; default `NATS_OPTIONS.natsReplicas.default`. */
  readonly replicas?: number;
  /**
   * Seconds the stream keeps a batch, 0 for ever. Given (with `maxBytes`), it is set on the
   * stream, created or not: the writer's say (the ingest). Left out, an existing stream's
   * retention is left alone (a gateway), and a stream created here has none.
   */
  readonly maxAge?: number;
  /** Bytes the stream keeps, 0 without limit; see `maxAge`. */
  readonly maxBytes?: number;
  /** Longest wait for one JetStream answer; default `EVENT_LOG_REQUEST_TIMEOUT_MS`. */
  readonly requestTimeout?: number;
  /** Messages a reader pulls ahead of its caller; default `EVENT_LOG_READ_AHEAD`. */
  readonly readAhead?: number;
  /** `close()` closes the connection too (as `connectEventLog()` sets it). Default false. */
  readonly ownsConnection?: boolean;
  /**
   * The shared key of the log's batches: appends are signed with it, and a batch read without
   * its tag is a foreign message (docs/protocol.md §11). Default: none, nothing is signed or
   * checked.
   */
  readonly logKey?: LogKeyInput;
}

export class JetStreamEventLog implements EventLog {
  readonly #connection: NatsConnection;
  readonly #manager: JetStreamManager;
  readonly #client: JetStreamClient;
  readonly #stream: string;
  readonly #subject: string;
  readonly #storage: StorageType;
  readonly #replicas: number;
  readonly #readAhead: number;
  readonly #ownsConnection: boolean;
  readonly #readers = new Set<JetStreamLogReader>();
  readonly #connectionListeners: ((change: ConnectionChange) => void)[] = [];
  readonly #appender: JetStreamAppender;
  readonly #key: LogKey | undefined;
  #connected = true;
  #closed = false;

  private constructor(
    connection: NatsConnection,
    manager: JetStreamManager,
    options: ResolvedOptions,
  ) {
    this.#connection = connection;
    this.#manager = manager;
    this.#client = jetstream(connection, { timeout: options.requestTimeout });
    this.#stream = options.stream;
    this.#subject = options.subject;
    this.#storage = storageType(options.storage);
    this.#replicas = options.replicas;
    this.#readAhead = options.readAhead;
    this.#ownsConnection = options.ownsConnection;
    this.#key = options.logKey;
    this.#appender = new JetStreamAppender({
      connection,
      client: this.#client,
      stream: this.#stream,
      subject: this.#subject,
      requestTimeout: options.requestTimeout,
      key: this.#key,
    });
    void this.#watchStatus();
  }

  /**
   * The log on `connection`: checks that JetStream is enabled (`ERR_LOG_UNAVAILABLE`), then
   * finds or creates the stream (`ERR_LOG_CONFIG` if it has other subjects).
   */
  static async open(
    connection: NatsConnection,
    options: JetStreamEventLogOptions = {},
  ): Promise<JetStreamEventLog> {
    const resolved: ResolvedOptions = {
      stream: options.stream ?? NATS_OPTIONS.natsStream.default,
      subject: options.subject ?? NATS_OPTIONS.natsSubject.default,
      storage: options.storage ?? NATS_OPTIONS.natsStorage.default,
      replicas: options.replicas ?? NATS_OPTIONS.natsReplicas.default,
      maxAge: options.maxAge,
      maxBytes: options.maxBytes,
      requestTimeout: options.requestTimeout ?? EVENT_LOG_REQUEST_TIMEOUT_MS,
      readAhead: options.readAhead ?? EVENT_LOG_READ_AHEAD,
      ownsConnection: options.ownsConnection ?? false,
      logKey: options.logKey === undefined ? undefined : logKeyOf(options.logKey),
    };
    let manager: JetStreamManager;
    try {
      manager = await jetstreamManager(connection, { timeout: resolved.requestTimeout });
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogUnavailable,
        `NATS at ${connection.getServer()} does not offer JetStream (${messageOf(error)}): start nats-server with -js, or enable JetStream for this account`,
      );
    }
    await ensureStream(manager, resolved);
    return new JetStreamEventLog(connection, manager, resolved);
  }

  /** Whether the connection to NATS is up (it reconnects by itself when it is not). */
  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Calls `listener` each time the connection to NATS goes down or comes back (a NATS
   * restart, a network cut): the log pauses meanwhile, it does not fail.
   */
  watchConnection(listener: (change: ConnectionChange) => void): void {
    this.#connectionListeners.push(listener);
  }

  // For the life of the connection. After a reconnect every reader pulls afresh at once: the
  // pull request it had in flight died with the old server, and would only expire after
  // `EVENT_LOG_PULL_EXPIRES_MS` (measured: gateways resumed ~4 s after a NATS restart).
  async #watchStatus(): Promise<void> {
    for await (const status of this.#connection.status()) {
      if (status.type === 'error' && refusalOf(status.error) !== undefined) {
        const change = {
          connected: false,
          server: this.#connection.getServer(),
          refused: messageOf(status.error),
        };
        for (const listener of this.#connectionListeners) listener(change);
        continue;
      }
      if (status.type !== 'disconnect' && status.type !== 'reconnect') continue;
      this.#connected = status.type === 'reconnect';
      if (this.#connected) {
        for (const reader of this.#readers) reader.pullAfresh();
        this.#appender.abandonWaiting();
      }
      for (const listener of this.#connectionListeners) {
        listener({ connected: this.#connected, server: status.server });
      }
    }
  }

  /** The store of graph snapshots beside this log (bucket `<stream>_SNAPSHOTS`). */
  openSnapshots(): Promise<JetStreamSnapshotStore> {
    return JetStreamSnapshotStore.open(this.#connection, {
      stream: this.#stream,
      storage: this.#storage,
      replicas: this.#replicas,
    });
  }

  async append(batch: EventBatch, fence: LogFence): Promise<AppendResult> {
    this.#checkOpen();
    return this.#appender.append(batch, fence);
  }

  async tail(): Promise<LogTail | LogForeign | undefined> {
    this.#checkOpen();
    return readTail(this.#manager, this.#stream, this.#key);
  }

  async identity(): Promise<LogIdentity> {
    this.#checkOpen();
    return streamIdentity(this.#manager, this.#stream);
  }

  async recordSettings(settings: LogSettings, firstPosition: number): Promise<LogIdentity> {
    this.#checkOpen();
    return recordStreamSettings(this.#manager, this.#stream, settings, firstPosition);
  }

  read(fromPosition: number, options: ReadOptions = {}): LogReader {
    this.#checkOpen();
    checkFromPosition(fromPosition);
    const reader = new JetStreamLogReader({
      connection: this.#connection,
      client: this.#client,
      manager: this.#manager,
      stream: this.#stream,
      key: this.#key,
      epoch: options.epoch,
      fromPosition,
      readAhead: this.#readAhead,
      signal: options.signal,
      onClose: (closed) => this.#readers.delete(closed),
    });
    this.#readers.add(reader);
    return reader;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#readers].map((reader) => reader.close()));
    if (this.#ownsConnection) await this.#connection.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new MazeError(ErrorCode.InvalidState, 'the event log is closed');
  }
}

/**
 * The `EventLog` on a NATS JetStream stream: durable, shared by one ingest and many gateways.
 *
 * Invariants (besides `EventLog`'s):
 * - One stream holds the log, with exactly one subject; one batch is one message, so a log
 *   position is the message's stream sequence. `open()` creates the stream when it is missing
 *   and refuses one that has other subjects (`ERR_LOG_CONFIG`): a foreign message would be a
 *   hole in the log. The storage and replicas of an existing stream are left as they are; its
 *   retention (max age, max bytes) is set to what this log is opened with, so changing the
 *   setting and restarting changes the stream.
 * - `append()` publishes with `Nats-Msg-Id: seq-<first>` (dedupe, within the stream's
 *   duplicate window), `Nats-Expected-Last-Sequence` and, inside a pipelined window,
 *   `Nats-Expected-Last-Msg-Id` (fencing), and resolves with the
 *   server's acknowledgement; it never retries by itself, so a caller's window of pipelined
 *   appends stays in order. An append still waiting when the connection is made again fails
 *   then (`ERR_LOG_FAILED`) rather than at its timeout: the caller reads the tail to learn
 *   whether it landed.
 * - A reader is an ordered consumer from the asked position that pulls at most
 *   `readAhead` messages per request, and asks again only when its caller has taken them:
 *   no `next()`, no pulling. A message whose sequence is not the next position means the
 *   stream no longer holds that position (`ERR_LOG_TRUNCATED`). A failure that waiting
 *   cures (NATS restarting ends pull requests) is retried every `EVENT_LOG_READ_RETRY_MS`
 *   from the position owed; the stream being gone or a closed connection ends the reader
 *   with `ERR_LOG_FAILED`. After a reconnect every reader pulls afresh at once.
 * - Errors of the NATS client never escape as they are: each becomes a `MazeError` with an
 *   `ERR_LOG_…` code and a message that says what to do.
 */
import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  StorageType,
  type StoredMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../core/errors.js';
import { decodeBatch, encodeBatch } from './batch-codec.js';
import {
  EVENT_LOG_PULL_EXPIRES_MS,
  EVENT_LOG_READ_AHEAD,
  EVENT_LOG_READ_RETRY_MS,
  EVENT_LOG_REQUEST_TIMEOUT_MS,
  NATS_DUPLICATE_WINDOW_S,
} from './constants.js';
import {
  type AppendResult,
  checkFromPosition,
  type EventBatch,
  type EventLog,
  fenced,
  iterateReader,
  type LogBatch,
  type LogFence,
  type LogReader,
  type LogTail,
  messageIdOf,
  type ReadOptions,
  truncated,
} from './event-log.js';
import { JetStreamSnapshotStore } from './jetstream-snapshot-store.js';
import { NATS_OPTIONS } from './options.js';

/** JetStream's API error for a failed `Nats-Expected-Last-Msg-Id` (not in `JetStreamApiCodes`). */
const STREAM_WRONG_LAST_MSG_ID = 10_070;

/** The connection to NATS went down (`connected: false`) or came back. */
export interface ConnectionChange {
  readonly connected: boolean;
  /** The server it lost or reached. */
  readonly server: string;
}

/** The options with their defaults filled in; retention stays optional (see `maxAge`). */
type ResolvedOptions = Required<Omit<JetStreamEventLogOptions, 'maxAge' | 'maxBytes'>> &
  Pick<JetStreamEventLogOptions, 'maxAge' | 'maxBytes'>;

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
}

export class JetStreamEventLog implements EventLog {
  readonly #connection: NatsConnection;
  readonly #manager: JetStreamManager;
  readonly #client: JetStreamClient;
  readonly #stream: string;
  readonly #subject: string;
  readonly #storage: StorageType;
  readonly #replicas: number;
  readonly #requestTimeout: number;
  readonly #readAhead: number;
  readonly #ownsConnection: boolean;
  readonly #readers = new Set<JetStreamLogReader>();
  readonly #connectionListeners: ((change: ConnectionChange) => void)[] = [];
  #connected = true;
  /** Fail the appends waiting for their acknowledgement (at a reconnect). */
  readonly #awaitingAcks = new Set<() => void>();
  #closed = false;

  private constructor(
    connection: NatsConnection,
    manager: JetStreamManager,
    options: ResolvedOptions,
  ) {
    this.#connection = connection;
    this.#manager = manager;
    this.#client = jetstream(connection, { timeout: options.requestTimeout });
    void this.#watchStatus();
    this.#stream = options.stream;
    this.#subject = options.subject;
    this.#storage = storageType(options.storage);
    this.#replicas = options.replicas;
    this.#requestTimeout = options.requestTimeout;
    this.#readAhead = options.readAhead;
    this.#ownsConnection = options.ownsConnection;
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
      if (status.type !== 'disconnect' && status.type !== 'reconnect') continue;
      this.#connected = status.type === 'reconnect';
      if (this.#connected) {
        for (const reader of this.#readers) reader.pullAfresh();
        for (const abandon of this.#awaitingAcks) abandon();
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

  /** The stream and subject the log is on. */
  get where(): { readonly stream: string; readonly subject: string } {
    return { stream: this.#stream, subject: this.#subject };
  }

  async append(batch: EventBatch, fence: LogFence): Promise<AppendResult> {
    this.#checkOpen();
    const payload = encodeBatch(batch);
    const maxPayload = this.#connection.info?.max_payload;
    if (maxPayload !== undefined && payload.length > maxPayload) {
      throw new MazeError(
        ErrorCode.LogBadBatch,
        `a batch of ${payload.length} bytes is over the NATS server's max_payload (${maxPayload})`,
      );
    }
    // An acknowledgement due from a server that went away never comes: fail at the next
    // reconnect instead of at the timeout, and let the caller find out from the tail.
    let abandon: () => void = () => {};
    const lost = new Promise<never>((_, reject) => {
      abandon = () => reject(new Error(LOST_ACKNOWLEDGEMENT));
    });
    this.#awaitingAcks.add(abandon);
    try {
      const publishing = this.#client.publish(this.#subject, payload, {
        msgID: messageIdOf(batch),
        expect: {
          lastSequence: fence.position,
          streamName: this.#stream,
          ...(fence.firstSequence === undefined
            ? {}
            : { lastMsgID: messageIdOf({ firstSequence: fence.firstSequence }) }),
        },
        timeout: this.#requestTimeout,
      });
      const ack = await Promise.race([publishing, lost]);
      return { position: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      if (error instanceof JetStreamApiError) {
        if (error.code === JetStreamApiCodes.StreamWrongLastSequence) {
          const actual = /wrong last sequence: (\d+)/.exec(error.message)?.[1];
          throw fenced(fence, actual === undefined ? undefined : Number(actual));
        }
        if (error.code === STREAM_WRONG_LAST_MSG_ID) throw fenced(fence, 'another batch');
      }
      throw new MazeError(
        ErrorCode.LogFailed,
        `append of ${messageIdOf(batch)} to stream ${this.#stream} failed: ${messageOf(error)}`,
      );
    } finally {
      this.#awaitingAcks.delete(abandon);
    }
  }

  async tail(): Promise<LogTail | undefined> {
    this.#checkOpen();
    let last: StoredMsg | null;
    let position: number;
    try {
      position = (await this.#manager.streams.info(this.#stream)).state.last_seq;
      if (position === 0) return undefined;
      last = await this.#manager.streams.getMessage(this.#stream, { seq: position });
    } catch (error) {
      throw new MazeError(
        ErrorCode.LogFailed,
        `cannot read the tail of stream ${this.#stream}: ${messageOf(error)}`,
      );
    }
    if (last === null) {
      throw new MazeError(
        ErrorCode.LogTruncated,
        `the last batch of stream ${this.#stream} (position ${position}) is gone: its tail is unknown (its max age expired it while no event came: delete the stream, and prefer --nats-max-bytes)`,
      );
    }
    const batch = decoded(last.data, position, this.#stream);
    return { position, firstSequence: batch.firstSequence, lastSequence: batch.lastSequence };
  }

  read(fromPosition: number, options: ReadOptions = {}): LogReader {
    this.#checkOpen();
    checkFromPosition(fromPosition);
    const reader = new JetStreamLogReader({
      connection: this.#connection,
      client: this.#client,
      stream: this.#stream,
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

interface ReaderSetup {
  readonly connection: NatsConnection;
  readonly client: JetStreamClient;
  readonly stream: string;
  readonly fromPosition: number;
  readonly readAhead: number;
  readonly signal: AbortSignal | undefined;
  readonly onClose: (reader: JetStreamLogReader) => void;
}

class JetStreamLogReader implements LogReader {
  readonly #setup: ReaderSetup;
  /** The next position to hand out. */
  #position: number;
  #consumer: Promise<Consumer> | undefined;
  /** The pull request being taken from, while it lasts. */
  #messages: ConsumerMessages | undefined;
  #iterator: AsyncIterator<JsMsg> | undefined;
  /** Counts `pullAfresh()` calls: a pull made before the latest one is dropped. */
  #generation = 0;
  /** Ends the wait for a pull in progress (see `#pullUnlessAfresh()`). */
  #cutPull: (() => void) | undefined;
  #closed = false;
  readonly #onAbort = (): void => void this.close();

  constructor(setup: ReaderSetup) {
    this.#setup = setup;
    this.#position = setup.fromPosition;
    if (setup.signal?.aborted) this.#closed = true;
    setup.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  async next(): Promise<LogBatch | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      try {
        const iterator = this.#iterator ?? (await this.#pullUnlessAfresh());
        if (this.#closed) return undefined;
        // Cut short by a reconnect: the request went to a server that is gone.
        if (iterator === undefined) continue;
        const step = await iterator.next();
        if (step.done) {
          // The pull request expired or was stopped: ask again unless closed.
          this.#dropPull();
          continue;
        }
        const message = step.value;
        if (message.seq !== this.#position) throw truncated(this.#position, message.seq);
        const batch = decoded(message.data, message.seq, this.#setup.stream);
        this.#position += 1;
        return { position: message.seq, ...batch };
      } catch (error) {
        if (!(error instanceof MazeError) && this.#transient(error)) {
          // NATS restarting ends pull requests ("server shutdown"); the ordered consumer
          // starts again after the last position handed out once NATS is back.
          this.#dropPull();
          this.#consumer = undefined;
          await delay(EVENT_LOG_READ_RETRY_MS);
          continue;
        }
        await this.close();
        if (error instanceof MazeError) throw error;
        throw new MazeError(
          ErrorCode.LogFailed,
          `reading stream ${this.#setup.stream} at position ${this.#position} failed: ${messageOf(error)}`,
        );
      }
    }
  }

  /** Drops the pull request in flight and the consumer; the next pull starts at the position owed. */
  pullAfresh(): void {
    this.#generation++;
    this.#dropPull();
    this.#consumer = undefined;
    this.#cutPull?.();
  }

  async close(): Promise<void> {
    if (this.#closed && this.#messages === undefined) return;
    this.#closed = true;
    this.#setup.signal?.removeEventListener('abort', this.#onAbort);
    this.#dropPull();
    this.#setup.onClose(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<LogBatch> {
    return iterateReader(this);
  }

  /**
   * A failure that waiting cures: anything on an open connection but the stream being gone
   * (a consumer removed while its reader did not pull, for one, is made anew).
   */
  #transient(error: unknown): boolean {
    if (this.#setup.connection.isClosed()) return false;
    return !(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound);
  }

  #dropPull(): void {
    this.#messages?.stop();
    this.#messages = undefined;
    this.#iterator = undefined;
  }

  // `#pull()`, or `undefined` as soon as `pullAfresh()` is called meanwhile: a consumer or
  // pull request asked of a server that went away is answered only at its timeout. What the
  // abandoned pull makes is stopped when it comes.
  #pullUnlessAfresh(): Promise<AsyncIterator<JsMsg> | undefined> {
    const generation = this.#generation;
    const pulling = this.#pull(generation);
    const afresh = new Promise<undefined>((resolve) => {
      this.#cutPull = () => resolve(undefined);
    });
    return Promise.race([pulling, afresh]).finally(() => {
      this.#cutPull = undefined;
    });
  }

  async #pull(generation: number): Promise<AsyncIterator<JsMsg> | undefined> {
    const { client, stream, readAhead } = this.#setup;
    // An ordered consumer keeps its cursor across pull requests; after a failure a new one
    // starts at the next position this reader owes.
    this.#consumer ??= client.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#position,
    });
    const consumer = await this.#consumer;
    const messages = await consumer.fetch({
      max_messages: readAhead,
      expires: EVENT_LOG_PULL_EXPIRES_MS,
    });
    if (generation !== this.#generation) {
      messages.stop();
      return undefined;
    }
    this.#messages = messages;
    this.#iterator = messages[Symbol.asyncIterator]();
    if (this.#closed) messages.stop();
    return this.#iterator;
  }
}

/** Finds the stream or creates it; refuses a stream with other subjects. */
async function ensureStream(manager: JetStreamManager, options: ResolvedOptions): Promise<void> {
  const { stream, subject } = options;
  let subjects: readonly string[];
  try {
    subjects = (await streamSubjects(manager, stream)) ?? (await createStream(manager, options));
  } catch (error) {
    if (error instanceof MazeError) throw error;
    const message = messageOf(error);
    if (/subjects overlap/i.test(message)) {
      throw new MazeError(
        ErrorCode.LogConfig,
        `cannot create stream ${stream}: another stream already takes subject "${subject}"; give each stream its own subject (--nats-subject)`,
      );
    }
    throw new MazeError(ErrorCode.LogFailed, `cannot find or create stream ${stream}: ${message}`);
  }
  if (subjects.length !== 1 || subjects[0] !== subject) {
    throw new MazeError(
      ErrorCode.LogConfig,
      `stream ${stream} exists with subjects ${JSON.stringify(subjects)}, not just "${subject}": give another stream name, or this stream's subject`,
    );
  }
  if (options.maxAge !== undefined || options.maxBytes !== undefined) {
    await applyRetention(manager, options);
  }
}

const NANOS_PER_SECOND = 1e9;

/** The stream's limits as JetStream counts them: durations in nanoseconds, 0 or -1 for none. */
function retentionOf(options: ResolvedOptions) {
  const maxAge = options.maxAge ?? NATS_OPTIONS.natsMaxAge.default;
  const maxBytes = options.maxBytes ?? NATS_OPTIONS.natsMaxBytes.default;
  return {
    max_age: maxAge * NANOS_PER_SECOND,
    max_bytes: maxBytes === 0 ? -1 : maxBytes,
    // A stream may not remember message ids longer than it keeps its messages.
    duplicate_window:
      (maxAge === 0 ? NATS_DUPLICATE_WINDOW_S : Math.min(maxAge, NATS_DUPLICATE_WINDOW_S)) *
      NANOS_PER_SECOND,
  };
}

/** Sets the stream's retention to `options`' when it differs. */
async function applyRetention(manager: JetStreamManager, options: ResolvedOptions): Promise<void> {
  const wanted = retentionOf(options);
  try {
    const { config } = await manager.streams.info(options.stream);
    if (
      config.max_age === wanted.max_age &&
      config.max_bytes === wanted.max_bytes &&
      config.duplicate_window === wanted.duplicate_window
    ) {
      return;
    }
    await manager.streams.update(options.stream, wanted);
  } catch (error) {
    throw new MazeError(
      ErrorCode.LogConfig,
      `cannot set the retention of stream ${options.stream}: ${messageOf(error)}`,
    );
  }
}

/** The subjects of `stream`, or `undefined` if there is no such stream. */
async function streamSubjects(
  manager: JetStreamManager,
  stream: string,
): Promise<readonly string[] | undefined> {
  try {
    return (await manager.streams.info(stream)).config.subjects ?? [];
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      return undefined;
    }
    throw error;
  }
}

async function createStream(
  manager: JetStreamManager,
  options: ResolvedOptions,
): Promise<readonly string[]> {
  try {
    const info = await manager.streams.add({
      name: options.stream,
      subjects: [options.subject],
      storage: storageType(options.storage),
      num_replicas: options.replicas,
      ...retentionOf(options),
    });
    return info.config.subjects ?? [];
  } catch (error) {
    // Another process created it meanwhile (with another configuration): check that one.
    const subjects = await streamSubjects(manager, options.stream);
    if (subjects === undefined) throw error;
    return subjects;
  }
}

const LOST_ACKNOWLEDGEMENT =
  'the connection to NATS was lost and made again while the append waited for its acknowledgement';

function storageType(storage: 'file' | 'memory'): StorageType {
  return storage === 'memory' ? StorageType.Memory : StorageType.File;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function decoded(data: Uint8Array, position: number, stream: string): EventBatch {
  const result = decodeBatch(data);
  if (!result.ok) {
    throw new MazeError(
      ErrorCode.LogBadBatch,
      `stream ${stream} position ${position} is not a follower-maze batch: ${result.reason}`,
    );
  }
  return result.batch;
}

/** The message of a NATS client error, with its cause (which says "ECONNREFUSED" and such). */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/**
 * Reading a JetStream event log: its tail, and readers from a position.
 *
 * Invariants:
 * - A reader is an ordered consumer from the asked position that pulls at most `readAhead`
 *   messages per request, and asks again only when its caller has taken them: no `next()`,
 *   no pulling. A message whose sequence is not the next position means the stream no longer
 *   holds that position (`ERR_LOG_TRUNCATED`).
 * - A failure that waiting cures (NATS restarting ends pull requests) is retried every
 *   `EVENT_LOG_READ_RETRY_MS` from the position owed; the stream being gone or a closed
 *   connection ends the reader with `ERR_LOG_FAILED`. `pullAfresh()` (the log calls it after
 *   a reconnect) makes a reader pull anew at once.
 * - A message that is not a follower-maze batch is handed out as a `LogForeign` entry.
 * - Given an epoch, a reader reads the stream's creation time each time it makes its
 *   consumer (at first, after a failure, after a reconnect): a stream created again under it
 *   is `ERR_LOG_REPLACED`, before its consumer starts on the new stream's positions.
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
  type StoredMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../errors.js';
import { decodeBatch, logBatchOf } from './batch-codec.js';
import {
  checkLogEpoch,
  isForeign,
  iterateReader,
  type LogEntry,
  type LogForeign,
  type LogReader,
  type LogTail,
  tailOf,
  truncated,
} from './event-log.js';
import type { LogKey } from './log-key.js';
import { messageOf } from './nats-error.js';

/**
 * Lifetime of one pull request of a log reader: an idle reader asks again this often. It
 * bounds nothing a caller waits for (`next()` waits for the next batch, however long).
 */
export const EVENT_LOG_PULL_EXPIRES_MS = 5_000;
/** Pause before a log reader pulls again after a transient failure (NATS restarting). */
const EVENT_LOG_READ_RETRY_MS = 250;

/** The last batch of `stream`: see `EventLog.tail()`. */
export async function readTail(
  manager: JetStreamManager,
  stream: string,
  key: LogKey | undefined,
): Promise<LogTail | LogForeign | undefined> {
  let last: StoredMsg | null;
  let position: number;
  try {
    position = (await manager.streams.info(stream)).state.last_seq;
    if (position === 0) return undefined;
    last = await manager.streams.getMessage(stream, { seq: position });
  } catch (error) {
    throw new MazeError(
      ErrorCode.LogFailed,
      `cannot read the tail of stream ${stream}: ${messageOf(error)}`,
    );
  }
  if (last === null) {
    throw new MazeError(
      ErrorCode.LogTruncated,
      `the last batch of stream ${stream} (position ${position}) is gone: its tail is unknown (its max age expired it while no event came: delete the stream, and prefer natsMaxBytes to natsMaxAge)`,
    );
  }
  const entry = entryOf(last.data, position, key);
  return isForeign(entry) ? entry : tailOf(position, entry);
}

/** What a reader reads from, and whom it tells when it closes. */
export interface ReaderSetup {
  readonly connection: NatsConnection;
  readonly client: JetStreamClient;
  readonly manager: JetStreamManager;
  readonly stream: string;
  /** The log key batches must be signed with, if the log has one. */
  readonly key: LogKey | undefined;
  /** The epoch the caller started on (`ReadOptions.epoch`). */
  readonly epoch: string | undefined;
  readonly fromPosition: number;
  readonly readAhead: number;
  readonly signal: AbortSignal | undefined;
  readonly onClose: (reader: JetStreamLogReader) => void;
}

/** A reader of the log; see the module header. */
export class JetStreamLogReader implements LogReader {
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

  async next(): Promise<LogEntry | undefined> {
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
        this.#position += 1;
        return entryOf(message.data, message.seq, this.#setup.key);
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

  [Symbol.asyncIterator](): AsyncIterator<LogEntry> {
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
    const { readAhead } = this.#setup;
    // An ordered consumer keeps its cursor across pull requests; after a failure a new one
    // starts at the next position this reader owes.
    this.#consumer ??= this.#newConsumer();
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

  async #newConsumer(): Promise<Consumer> {
    const { client, manager, stream, epoch } = this.#setup;
    if (epoch !== undefined) {
      checkLogEpoch(epoch, (await manager.streams.info(stream)).created, 'the process');
    }
    return client.consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#position,
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function entryOf(data: Uint8Array, position: number, key: LogKey | undefined): LogEntry {
  const result = decodeBatch(data, key);
  return result.ok
    ? logBatchOf(position, result.batch)
    : { position, foreign: `not a follower-maze batch: ${result.reason}` };
}

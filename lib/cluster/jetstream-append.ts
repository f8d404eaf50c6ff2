/**
 * Appends to a JetStream event log: one batch is one message on the log's subject.
 *
 * Invariants:
 * - Each append publishes with `Nats-Msg-Id` the batch's message id (`messageIdOf()`: the
 *   writer's unguessable one; dedupe, within the stream's duplicate window), `Nats-Expected-Last-Sequence` and, inside a pipelined window,
 *   `Nats-Expected-Last-Msg-Id` (fencing), and resolves with the server's acknowledgement.
 *   It never retries by itself, so a caller's window of pipelined appends stays in order.
 * - An append still waiting when the connection is made again fails then (`ERR_LOG_FAILED`,
 *   see `abandonWaiting()`) rather than at its timeout: the caller reads the tail to learn
 *   whether it landed.
 * - A batch over the server's `max_payload` is refused before sending (`ERR_LOG_BAD_BATCH`);
 *   a failed fence is `ERR_LOG_FENCED`; any other failure `ERR_LOG_FAILED`.
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../errors.js';
import { encodeBatch } from './batch-codec.js';
import {
  type AppendResult,
  type EventBatch,
  fenced,
  fencedMessageId,
  type LogFence,
  messageIdOf,
} from './event-log.js';
import type { LogKey } from './log-key.js';
import { messageOf } from './nats-error.js';

/** JetStream's API error for a failed `Nats-Expected-Last-Msg-Id` (not in `JetStreamApiCodes`). */
const STREAM_WRONG_LAST_MSG_ID = 10_070;

const LOST_ACKNOWLEDGEMENT =
  'the connection to NATS was lost and made again while the append waited for its acknowledgement';

/** Where and how to append. */
export interface AppenderSetup {
  readonly connection: NatsConnection;
  readonly client: JetStreamClient;
  readonly stream: string;
  readonly subject: string;
  /** Longest wait for an acknowledgement. */
  readonly requestTimeout: number;
  /** Signs each batch, when given. */
  readonly key: LogKey | undefined;
}

/** The append side of a `JetStreamEventLog`. */
export class JetStreamAppender {
  readonly #setup: AppenderSetup;
  /** Fail the appends waiting for their acknowledgement (at a reconnect). */
  readonly #awaitingAcks = new Set<() => void>();

  constructor(setup: AppenderSetup) {
    this.#setup = setup;
  }

  /** Fails every append waiting for its acknowledgement: the connection was made again. */
  abandonWaiting(): void {
    for (const abandon of this.#awaitingAcks) abandon();
  }

  /** See `EventLog.append()`. */
  async append(batch: EventBatch, fence: LogFence): Promise<AppendResult> {
    const { connection, client, stream, subject, requestTimeout, key } = this.#setup;
    const payload = encodeBatch(batch, key);
    const maxPayload = connection.info?.max_payload;
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
    const lastMsgID = fencedMessageId(fence);
    try {
      const publishing = client.publish(subject, payload, {
        msgID: messageIdOf(batch),
        expect: {
          lastSequence: fence.position,
          streamName: stream,
          ...(lastMsgID === undefined ? {} : { lastMsgID }),
        },
        timeout: requestTimeout,
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
        `append of ${messageIdOf(batch)} to stream ${stream} failed: ${messageOf(error)}`,
      );
    } finally {
      this.#awaitingAcks.delete(abandon);
    }
  }
}

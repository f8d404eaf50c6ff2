/**
 * `connectEventLog()` as `follower-maze/cluster` exports it: the NATS client is loaded on the
 * first call, so a program that imports the subpath for `MemoryEventLog`, the ingest and the
 * gateway never loads it.
 */
import type { NatsSettings } from './connect.js';
import type { JetStreamEventLog } from './jetstream-event-log.js';

/**
 * Connects to NATS and opens the event log on its JetStream (creating the stream if missing).
 * Rejects with `ERR_INVALID_OPTION` (settings), `ERR_LOG_UNAVAILABLE` (unreachable, refused
 * login, JetStream disabled) or `ERR_LOG_CONFIG` (a stream with other subjects). The log owns
 * the connection: its `close()` closes it.
 */
export async function connectEventLog(settings: NatsSettings): Promise<JetStreamEventLog> {
  const connecting = await import('./connect.js');
  return connecting.connectEventLog(settings);
}

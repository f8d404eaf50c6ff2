/**
 * `follower-maze/cluster`: cluster mode in a program (docs/protocol.md §11). An ingest takes
 * the event source and appends to an `EventLog`; gateways read the log and serve clients.
 * `MemoryEventLog` keeps the log in memory, `connectEventLog()` opens it on NATS JetStream
 * (the NATS client is loaded on its first call);
 * `openEventPort()` and `openClientPort()` put an ingest and a gateway on TCP.
 */

export {
  type ClientTaker,
  type EventSourceTaker,
  type OpenPort,
  openClientPort,
  openEventPort,
} from '../net/ports.js';
export type { NatsSettings } from './connect.js';
export { connectEventLog } from './connect-on-demand.js';
export type {
  AppendResult,
  EventBatch,
  EventLog,
  LogBatch,
  LogEntry,
  LogFence,
  LogForeign,
  LogIdentity,
  LogReader,
  LogSettings,
  LogTail,
  ReadOptions,
} from './event-log.js';
export {
  createGateway,
  type Gateway,
  type GatewayEventMap,
  type GatewayOptions,
  type GatewayStats,
  type ResolvedGatewayOptions,
} from './gateway.js';
export {
  createIngest,
  type Ingest,
  type IngestEventMap,
  type IngestOptions,
  type IngestStats,
} from './ingest.js';
export type { ConnectionChange, JetStreamEventLog } from './jetstream-event-log.js';
export { MemoryEventLog, type MemoryEventLogOptions } from './memory-event-log.js';
export type { SnapshotStore, StoredSnapshot } from './snapshot-store.js';

/** Cluster mode (docs/protocol.md §11): the event log between an ingest and its gateways, the ingest and the gateway. */
export {
  BATCH_FORMAT_VERSION,
  checkBatch,
  type DecodedBatch,
  decodeBatch,
  encodeBatch,
  encodedSize,
} from './batch-codec.js';
export {
  connectEventLog,
  connectEventLogPatiently,
  type NatsSettings,
  natsConnectOptions,
  type PatientConnect,
  type ReadSettingFile,
} from './connect.js';
export {
  type AppendResult,
  type EventBatch,
  type EventLog,
  fenceAfter,
  type LogBatch,
  type LogFence,
  type LogReader,
  type LogTail,
  messageIdOf,
  type ReadOptions,
} from './event-log.js';
export {
  createGateway,
  Gateway,
  type GatewayEventMap,
  type GatewayOptions,
  type GatewayStats,
  type ResolvedGatewayOptions,
} from './gateway.js';
export {
  createIngest,
  Ingest,
  type IngestEventMap,
  type IngestOptions,
  type IngestStats,
} from './ingest.js';
export {
  type ConnectionChange,
  JetStreamEventLog,
  type JetStreamEventLogOptions,
} from './jetstream-event-log.js';
export {
  JetStreamSnapshotStore,
  type JetStreamSnapshotStoreOptions,
} from './jetstream-snapshot-store.js';
export { LogFollower, type LogFollowerHost } from './log-follower.js';
export { MemoryEventLog, type MemoryEventLogOptions } from './memory-event-log.js';
export { MemorySnapshotStore, restoreNewest, type SnapshotStore } from './snapshot-store.js';
export {
  createSnapshotWriter,
  SnapshotWriter,
  type SnapshotWriterEventMap,
  type SnapshotWriterOptions,
  type SnapshotWriterStats,
} from './snapshot-writer.js';

/**
 * The settings of cluster mode's commands, `follower-maze ingest` and `follower-maze
 * gateway`: the option table's rows each takes, and the library options they stand for.
 */

import type { NatsSettings } from '../cluster/connect.js';
import type { GatewayOptions } from '../cluster/gateway.js';
import type { IngestOptions } from '../cluster/ingest.js';
import type { SnapshotWriterOptions } from '../cluster/snapshot-writer.js';
import { serverOptionsOf } from '../core/option-table.js';
import {
  type CommonArgs,
  libraryOptionsOf,
  resolveCommandArgs,
  type SettingSources,
} from './command-options.js';

/** The connection to NATS JetStream, every setting decided. */
export interface NatsArgs {
  /** Required: `connectEventLog()` says so if it is missing. */
  readonly natsUrl: string | undefined;
  readonly natsCreds: string | undefined;
  readonly natsUser: string | undefined;
  readonly natsPassword: string | undefined;
  readonly natsToken: string | undefined;
  readonly natsTlsCa: string | undefined;
  readonly natsStream: string;
  readonly natsSubject: string;
  readonly natsStorage: 'file' | 'memory';
  readonly natsReplicas: number;
  readonly natsMaxAge: number;
  readonly natsMaxBytes: number;
}

/** The settings of the ingest command. */
export interface IngestArgs extends CommonArgs, NatsArgs {
  readonly eventPort: number;
  readonly maxLineLength: number;
  readonly reorderCapacity: number;
  readonly reorderBytes: number;
  readonly startSequence: number;
  readonly sourceIdleTimeout: number;
  /** The snapshot writer's. */
  readonly maxFollowEdges: number;
  readonly snapshotEvents: number;
  readonly snapshotInterval: number;
}

/** The settings of the gateway command. */
export interface GatewayArgs extends CommonArgs, NatsArgs {
  readonly clientPort: number;
  readonly maxIdLineLength: number;
  readonly identifyTimeout: number;
  readonly maxClients: number;
  readonly clientBufferLimit: number;
  readonly totalBufferLimit: number;
  readonly slowClientTimeout: number;
  readonly maxFollowEdges: number;
}

/** Decides every setting of `ingest` (see `resolveCommandArgs()`). */
export function resolveIngestArgs(
  argv: Readonly<Record<string, unknown>>,
  sources?: SettingSources,
): IngestArgs {
  return resolveCommandArgs('ingest', argv, sources) as unknown as IngestArgs;
}

/** Decides every setting of `gateway` (see `resolveCommandArgs()`). */
export function resolveGatewayArgs(
  argv: Readonly<Record<string, unknown>>,
  sources?: SettingSources,
): GatewayArgs {
  return resolveCommandArgs('gateway', argv, sources) as unknown as GatewayArgs;
}

/** `createIngest()`'s options, but the log; the port and host are the command's. */
export function toIngestOptions(args: IngestArgs): Omit<IngestOptions, 'log'> {
  const { eventPort, host, maxFollowEdges, ...options } = libraryOptionsOf(args);
  return options as Omit<IngestOptions, 'log'>;
}

/** `createSnapshotWriter()`'s options, but the log and the store. */
export function toSnapshotWriterOptions(
  args: IngestArgs,
): Omit<SnapshotWriterOptions, 'log' | 'store'> {
  const { snapshotEvents, snapshotInterval, maxFollowEdges } = args;
  return { snapshotEvents, snapshotInterval, maxFollowEdges };
}

/** `createGateway()`'s options, but the log; the port and host are the command's. */
export function toGatewayOptions(args: GatewayArgs): Omit<GatewayOptions, 'log'> {
  const { clientPort, host, ...options } = libraryOptionsOf(args);
  return options as Omit<GatewayOptions, 'log'>;
}

/** `connectEventLog()`'s settings. */
export function toNatsSettings(args: NatsArgs): NatsSettings {
  const settings: Record<string, unknown> = {};
  for (const spec of serverOptionsOf('cluster')) {
    settings[spec.name] = (args as unknown as Record<string, unknown>)[spec.name];
  }
  return settings as NatsSettings;
}

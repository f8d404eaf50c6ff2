/**
 * The settings of cluster mode's commands, `follower-maze ingest` and `follower-maze
 * gateway`: the option table's rows each takes, and the library options they stand for.
 */

import type { NatsSettings } from '../cluster/connect.js';
import { GATEWAY_OPTION_NAMES, type GatewayOptions } from '../cluster/gateway.js';
import { INGEST_OPTION_NAMES, type IngestOptions } from '../cluster/ingest.js';
import {
  SNAPSHOT_WRITER_OPTION_NAMES,
  type SnapshotWriterOptions,
} from '../cluster/snapshot-writer.js';
import { serverOptionsOf } from '../core/option-table.js';
import {
  type CommonArgs,
  resolveCommandArgs,
  type SettingSources,
  settingsNamed,
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
  /** The writer's (ingest, `serve`) only: a gateway leaves the stream's retention alone. */
  readonly natsMaxAge?: number;
  readonly natsMaxBytes?: number;
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

/** `createIngest()`'s options from the settings of `ingest` (or `serve`), but the log. */
export function toIngestOptions(args: object): Omit<IngestOptions, 'log'> {
  return settingsNamed(args, INGEST_OPTION_NAMES);
}

/** `createSnapshotWriter()`'s options from the settings, but the log and the store. */
export function toSnapshotWriterOptions(
  args: object,
): Omit<SnapshotWriterOptions, 'log' | 'store'> {
  return settingsNamed(args, SNAPSHOT_WRITER_OPTION_NAMES);
}

/** `createGateway()`'s options from the settings of `gateway` (or `serve`), but the log. */
export function toGatewayOptions(args: object): Omit<GatewayOptions, 'log'> {
  return settingsNamed(args, GATEWAY_OPTION_NAMES);
}

/** `connectEventLog()`'s settings. */
export function toNatsSettings(args: NatsArgs): NatsSettings {
  const names = serverOptionsOf('cluster').map((spec) => spec.name);
  return settingsNamed(args, names) as unknown as NatsSettings;
}

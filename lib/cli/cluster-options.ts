/**
 * The settings of cluster mode's commands, `follower-maze ingest` and `follower-maze
 * gateway`: the options each takes, and the library options they stand for.
 */

import type { NatsSettings } from '../cluster/connect.js';
import type { GatewayOptions } from '../cluster/gateway.js';
import type { IngestOptions } from '../cluster/ingest.js';
import {
  GATEWAY_OPTION_NAMES,
  INGEST_OPTION_NAMES,
  NATS_OPTIONS,
  SNAPSHOT_WRITER_OPTIONS,
} from '../cluster/options.js';
import type { SnapshotWriterOptions } from '../cluster/snapshot-writer.js';
import { namesOf, pickSettings } from '../options/option.js';
import { type CommandArgs, resolveCommandArgs, type SettingSources } from './command-options.js';

type NatsName = keyof typeof NATS_OPTIONS;
/** The writer's (ingest, `serve`) only: a gateway leaves the stream's retention alone. */
type RetentionName = 'natsMaxAge' | 'natsMaxBytes';

/** The connection to NATS JetStream, every setting decided. */
export type NatsArgs = Pick<CommandArgs<'gateway'>, Exclude<NatsName, RetentionName>> &
  Partial<Pick<CommandArgs<'ingest'>, RetentionName>>;

/** The settings of the ingest command. */
export type IngestArgs = CommandArgs<'ingest'>;

/** The settings of the gateway command. */
export type GatewayArgs = CommandArgs<'gateway'>;

/** Decides every setting of `ingest` (see `resolveCommandArgs()`). */
export function resolveIngestArgs(
  argv: Readonly<Record<string, unknown>>,
  sources?: SettingSources,
): IngestArgs {
  return resolveCommandArgs('ingest', argv, sources);
}

/** Decides every setting of `gateway` (see `resolveCommandArgs()`). */
export function resolveGatewayArgs(
  argv: Readonly<Record<string, unknown>>,
  sources?: SettingSources,
): GatewayArgs {
  return resolveCommandArgs('gateway', argv, sources);
}

/** `createIngest()`'s options from the settings of `ingest` (or `serve`), but the log. */
export function toIngestOptions(
  args: Pick<IngestArgs, (typeof INGEST_OPTION_NAMES)[number]>,
): Omit<IngestOptions, 'log'> {
  return pickSettings(args, INGEST_OPTION_NAMES);
}

const SNAPSHOT_WRITER_NAMES = namesOf(SNAPSHOT_WRITER_OPTIONS);

/** `createSnapshotWriter()`'s options from the settings, but the log and the store. */
export function toSnapshotWriterOptions(
  args: Pick<IngestArgs, (typeof SNAPSHOT_WRITER_NAMES)[number]>,
): Omit<SnapshotWriterOptions, 'log' | 'store'> {
  return pickSettings(args, SNAPSHOT_WRITER_NAMES);
}

/** `createGateway()`'s options from the settings of `gateway` (or `serve`), but the log. */
export function toGatewayOptions(
  args: Pick<GatewayArgs, (typeof GATEWAY_OPTION_NAMES)[number]>,
): Omit<GatewayOptions, 'log'> {
  return pickSettings(args, GATEWAY_OPTION_NAMES);
}

const NATS_NAMES = namesOf(NATS_OPTIONS);

/** `connectEventLog()`'s settings. */
export function toNatsSettings(args: NatsArgs): NatsSettings {
  return pickSettings(args, NATS_NAMES);
}

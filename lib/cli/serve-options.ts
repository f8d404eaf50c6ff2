/** The settings of `follower-maze serve`: the option table's rows that `serve` takes. */
import type { ListenOptions } from '../net/listen.js';
import type { NatsArgs } from './cluster-options.js';
import {
  type CommonArgs,
  libraryOptionsOf,
  resolveCommandArgs,
  type SettingSources,
} from './command-options.js';

/** The settings of the serve command, every one decided. */
export interface ServeArgs extends CommonArgs, NatsArgs {
  readonly eventPort: number;
  readonly clientPort: number;
  readonly maxLineLength: number;
  readonly maxIdLineLength: number;
  readonly identifyTimeout: number;
  readonly maxClients: number;
  readonly clientBufferLimit: number;
  readonly totalBufferLimit: number;
  readonly slowClientTimeout: number;
  readonly reorderCapacity: number;
  readonly reorderBytes: number;
  readonly startSequence: number;
  readonly maxFollowEdges: number;
  readonly resetOnDisconnect: boolean;
  readonly sourceIdleTimeout: number;
  /** With `natsUrl`: the snapshot writer's cadence. */
  readonly snapshotEvents: number;
  readonly snapshotInterval: number;
}

/** Decides every setting of `serve` (see `resolveCommandArgs()`). */
export function resolveServeArgs(
  argv: Readonly<Record<string, unknown>>,
  sources?: SettingSources,
): ServeArgs {
  return resolveCommandArgs('serve', argv, sources) as unknown as ServeArgs;
}

/** The `listen()` options the settings stand for. */
export function toListenOptions(args: ServeArgs): ListenOptions {
  return libraryOptionsOf(args) as ListenOptions;
}

/** The settings of `follower-maze serve`: the options `serve` takes, derived from their rows. */

import { MAZE_OPTIONS } from '../adapter/options.js';
import type { ListenOptions } from '../net/listen.js';
import { LISTEN_OPTIONS } from '../net/options.js';
import { namesOf, pickSettings } from '../options/option.js';
import { type CommandArgs, resolveCommandArgs, type SettingSources } from './command-options.js';

/** The settings of the serve command, every one decided. */
export type ServeArgs = CommandArgs<'serve'>;

/** Decides every setting of `serve` (see `resolveCommandArgs()`). */
export function resolveServeArgs(
  argv: Readonly<Record<string, unknown>>,
  sources?: SettingSources,
): ServeArgs {
  return resolveCommandArgs('serve', argv, sources);
}

const LISTEN_NAMES = [...namesOf(LISTEN_OPTIONS), ...namesOf(MAZE_OPTIONS)];

/** The `listen()` options the settings stand for: the net's, the adapter's and the core's. */
export function toListenOptions(args: ServeArgs): ListenOptions {
  return pickSettings(args, LISTEN_NAMES);
}

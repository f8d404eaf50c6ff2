/**
 * Options of the stream adapter (docs/protocol.md §2, 5-8): their types here, their defaults, ranges and
 * meanings in `SERVER_OPTIONS` (`lib/core/option-table.ts`), the one table the command line
 * and `docs/cli.md` derive from too. A bad value throws `ERR_INVALID_OPTION` when the maze is
 * created, never later.
 */
import type { MazeCoreOptions } from '../core/maze-core.js';
import {
  resolveOptionValues,
  type ServerOptionName,
  serverOptionsOf,
} from '../core/option-table.js';
import { defaultMaxClients } from './descriptor-limit.js';

/** Everything `createMaze()` can be tuned with. Durations are in milliseconds. */
export interface MazeOptions extends MazeCoreOptions {
  /** Longest event line, terminator included. Default `DEFAULT_MAX_LINE_LENGTH`. */
  readonly maxLineLength?: number;
  /** Longest user-id line a client may send. Default `DEFAULT_MAX_ID_LINE_LENGTH`. */
  readonly maxIdLineLength?: number;
  /** How long a new client has to send its id. Default `DEFAULT_IDENTIFY_TIMEOUT_MS`. */
  readonly identifyTimeout?: number;
  /**
   * Client connections (identifying or identified) attached at once; one more is closed at
   * once and reported (`ERR_CLIENT_LIMIT`). 0, the default (`DEFAULT_MAX_CLIENTS`), derives it
   * from the process's descriptor limit minus a reserve (`defaultMaxClients()`), so the event
   * source can always connect; the resolved number is in `maze.options.maxClients`.
   */
  readonly maxClients?: number;
  /**
   * Bytes a client may have queued (`writableLength`) before the event source is paused.
   * Default `DEFAULT_CLIENT_BUFFER_LIMIT`. A stream only signals `'drain'` above its
   * `writableHighWaterMark`, so a limit below that mark acts as the mark.
   */
  readonly clientBufferLimit?: number;
  /**
   * Bytes all clients together may have queued before the event source is paused; over it
   * for `slowClientTimeout`, the clients with the largest queues are dropped. Default
   * `DEFAULT_TOTAL_BUFFER_LIMIT`.
   */
  readonly totalBufferLimit?: number;
  /**
   * How long a client may stay over its limit, or all clients over the total, before
   * clients are dropped. Default `DEFAULT_SLOW_CLIENT_TIMEOUT_MS`.
   */
  readonly slowClientTimeout?: number;
  /**
   * How long the event source may send nothing, while it is being read, before a new source
   * that connects takes over from it (`ERR_EVENT_SOURCE_IDLE`); 0: never. A newcomer within
   * that time is refused (`ERR_EVENT_SOURCE_BUSY`). Default `DEFAULT_SOURCE_IDLE_TIMEOUT_MS`.
   */
  readonly sourceIdleTimeout?: number;
  /** Bounded wait for buffered output to flush in `close()`. Default `DEFAULT_SHUTDOWN_TIMEOUT_MS`. */
  readonly shutdownTimeout?: number;
  /** Forget the follow graph and the stream position when the event source goes. Default `false`. */
  readonly resetOnDisconnect?: boolean;
}

/** `MazeOptions` with every default filled in. */
export type ResolvedMazeOptions = Required<MazeOptions>;

/** The rows of the option table a maze takes: the core's and the adapter's. */
const MAZE_OPTION_NAMES = serverOptionsOf('core', 'adapter').map(
  (spec) => spec.name as ServerOptionName,
);

/** Fills in defaults and validates; throws `MazeError(ERR_INVALID_OPTION)` on a bad value. */
export function resolveMazeOptions(options: MazeOptions = {}): ResolvedMazeOptions {
  const resolved = resolveOptionValues(MAZE_OPTION_NAMES, options);
  // 0 stands for the derived default, so the CLI and the environment can ask for it too.
  resolved.maxClients = (resolved.maxClients as number) || defaultMaxClients();
  return resolved as unknown as ResolvedMazeOptions;
}

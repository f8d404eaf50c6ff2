/**
 * Options of the stream adapter (SPEC 2, 5-8) and their validation.
 * Every default comes from `lib/core/constants.ts`; a bad value throws `ERR_INVALID_OPTION`
 * when the maze is created, never later.
 */
import {
  DEFAULT_CLIENT_BUFFER_LIMIT,
  DEFAULT_IDENTIFY_TIMEOUT_MS,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_FOLLOW_EDGES,
  DEFAULT_MAX_ID_LINE_LENGTH,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_REORDER_BYTES,
  DEFAULT_REORDER_CAPACITY,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_SLOW_CLIENT_TIMEOUT_MS,
  DEFAULT_SOURCE_IDLE_TIMEOUT_MS,
  DEFAULT_START_SEQUENCE,
  DEFAULT_TOTAL_BUFFER_LIMIT,
  MAX_FOLLOW_EDGES,
  MAX_ID,
  MAX_TIMER_MS,
} from '../core/constants.js';
import { ErrorCode, MazeError } from '../core/errors.js';
import type { MazeCoreOptions } from '../core/maze-core.js';
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

/** Fills in defaults and validates; throws `MazeError(ERR_INVALID_OPTION)` on a bad value. */
export function resolveMazeOptions(options: MazeOptions = {}): ResolvedMazeOptions {
  return {
    startSequence: integer('startSequence', options.startSequence, DEFAULT_START_SEQUENCE, 1),
    reorderCapacity: integer(
      'reorderCapacity',
      options.reorderCapacity,
      DEFAULT_REORDER_CAPACITY,
      1,
    ),
    reorderBytes: integer('reorderBytes', options.reorderBytes, DEFAULT_REORDER_BYTES, 1),
    maxFollowEdges: integer(
      'maxFollowEdges',
      options.maxFollowEdges,
      DEFAULT_MAX_FOLLOW_EDGES,
      1,
      MAX_FOLLOW_EDGES,
    ),
    // A valid event needs at least "1|B\n".
    maxLineLength: integer('maxLineLength', options.maxLineLength, DEFAULT_MAX_LINE_LENGTH, 4),
    maxIdLineLength: integer(
      'maxIdLineLength',
      options.maxIdLineLength,
      DEFAULT_MAX_ID_LINE_LENGTH,
      2,
    ),
    identifyTimeout: integer(
      'identifyTimeout',
      options.identifyTimeout,
      DEFAULT_IDENTIFY_TIMEOUT_MS,
      1,
    ),
    // 0 stands for the derived default, so the CLI and the environment can ask for it too.
    maxClients:
      integer('maxClients', options.maxClients, DEFAULT_MAX_CLIENTS, 0) || defaultMaxClients(),
    clientBufferLimit: integer(
      'clientBufferLimit',
      options.clientBufferLimit,
      DEFAULT_CLIENT_BUFFER_LIMIT,
      1,
    ),
    totalBufferLimit: integer(
      'totalBufferLimit',
      options.totalBufferLimit,
      DEFAULT_TOTAL_BUFFER_LIMIT,
      1,
    ),
    slowClientTimeout: integer(
      'slowClientTimeout',
      options.slowClientTimeout,
      DEFAULT_SLOW_CLIENT_TIMEOUT_MS,
      1,
    ),
    sourceIdleTimeout: integer(
      'sourceIdleTimeout',
      options.sourceIdleTimeout,
      DEFAULT_SOURCE_IDLE_TIMEOUT_MS,
      0,
    ),
    shutdownTimeout: integer(
      'shutdownTimeout',
      options.shutdownTimeout,
      DEFAULT_SHUTDOWN_TIMEOUT_MS,
      0,
    ),
    resetOnDisconnect: options.resetOnDisconnect ?? false,
  };
}

// Timers cannot wait longer than MAX_TIMER_MS; sizes and numbers are capped at MAX_ID unless
// the option has a tighter limit of its own.
function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  limit?: number,
): number {
  const resolved = value ?? fallback;
  const max = limit ?? (/Timeout$/.test(name) ? MAX_TIMER_MS : MAX_ID);
  if (!Number.isSafeInteger(resolved) || resolved < min || resolved > max) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return resolved;
}

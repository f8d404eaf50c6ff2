/**
 * Options of the stream adapter (docs/protocol.md §2, 5-8): their rows (default, range,
 * meaning) beside the types a library caller sees. The command line composes these rows
 * with the other layers'. A bad value throws `ERR_INVALID_OPTION` when the maze is created,
 * never later.
 */
import type { MazeCoreOptions } from '../core/maze-core.js';
import { CORE_OPTIONS } from '../core/options.js';
import { ErrorCode, MazeError } from '../errors.js';
import {
  type GivenOf,
  MAX_TIMER_MS,
  type OptionRow,
  pickRows,
  resolveOptions,
  type SettingsOf,
} from '../options/option.js';
import { type Authenticate, authenticateOption } from './client-auth.js';
import { resolveMaxClients } from './descriptor-limit.js';

const SIZE = { type: 'integer', min: 1 } as const;
const DURATION = { type: 'integer', min: 1, max: MAX_TIMER_MS } as const;

/** The adapter's rows, by option name. */
export const ADAPTER_OPTIONS = {
  maxLineLength: {
    ...SIZE,
    // A valid event needs at least "1|B\n".
    min: 4,
    // A valid event is < 50 bytes (docs/protocol.md §2).
    default: 4 * 1024,
    describe: 'Longest event line accepted, terminator included, in bytes',
  },
  maxIdLineLength: {
    ...SIZE,
    min: 2,
    // An id has at most 16 digits.
    default: 64,
    describe:
      'Longest user id line a client may send, terminator included, in bytes (not with --client-auth jwt: a token line may have 4096)',
  },
  identifyTimeout: {
    ...DURATION,
    default: 5_000,
    describe: 'Milliseconds a new client has to send its user id',
  },
  maxClients: {
    ...SIZE,
    min: 0,
    // 0: derived from the descriptor limit (`defaultMaxClients()`), so the source can connect;
    // a value above that bound is lowered to it (`resolveMaxClients()`).
    default: 0,
    describe:
      'Client connections attached at once, at most the descriptor limit minus a reserve for the event source (0: that most)',
  },
  clientBufferLimit: {
    ...SIZE,
    default: 1024 * 1024,
    describe:
      'Bytes queued for one client before the input is paused (the event source; a gateway reading the log)',
  },
  totalBufferLimit: {
    ...SIZE,
    // Room for 256 clients at their full 1 MiB limit at once, while the live queues of any
    // number of stalled clients stay near it (measured: 4,500 idle readers peak at 1.05 GB
    // RSS while they are dropped, V8 collecting their queues lazily; they used to reach 2 GB
    // in 90 s and crash the process).
    default: 256 * 1024 * 1024,
    describe: 'Bytes queued for all clients together before the input is paused',
  },
  slowClientTimeout: {
    ...DURATION,
    default: 10_000,
    describe:
      'Milliseconds a client may stay over its buffer limit (or all over the total) before clients are dropped',
  },
  resetOnDisconnect: {
    type: 'boolean',
    default: false,
    describe: 'Forget follows and the stream position when the event source disconnects',
  },
  sourceIdleTimeout: {
    ...DURATION,
    min: 0,
    // A live source streams continuously, so 10 s of silence (as long as a client may stall
    // everyone) means a hung or half-dead producer, and a source that retries about every
    // 9 s (as the original harness does) gets in on its second retry at most.
    default: 10_000,
    describe:
      'Milliseconds an event source may send no valid event (empty or invalid lines do not count) before a new one may take over (0: never)',
  },
  shutdownTimeout: {
    ...DURATION,
    min: 0,
    default: 5_000,
    describe:
      'Milliseconds a shutdown reads an open event source to its end, then again to flush buffered output, before closing anyway',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

/** The rows a maze takes, the core's and the adapter's, in the order the banner shows them. */
export const MAZE_OPTIONS = pickRows({ ...CORE_OPTIONS, ...ADAPTER_OPTIONS }, [
  'maxLineLength',
  'maxIdLineLength',
  'identifyTimeout',
  'maxClients',
  'clientBufferLimit',
  'totalBufferLimit',
  'slowClientTimeout',
  'reorderCapacity',
  'reorderBytes',
  'startSequence',
  'maxFollowEdges',
  'resumeBytes',
  'delimiter',
  'resetOnDisconnect',
  'sourceIdleTimeout',
  'shutdownTimeout',
]);

/**
 * Everything `createMaze()` can be tuned with: one field per row of `MAZE_OPTIONS`.
 * Durations are in milliseconds.
 */
export interface MazeOptions extends MazeCoreOptions, GivenOf<typeof MAZE_OPTIONS> {
  /** Longest event line, terminator included. Default 4096. */
  readonly maxLineLength?: number;
  /** Longest user-id line a client may send. Default 64 (with `authenticate`, 4 KiB instead: a token line). */
  readonly maxIdLineLength?: number;
  /** How long a new client has to send its id. Default 5000. */
  readonly identifyTimeout?: number;
  /**
   * Client connections (identifying or identified) attached at once; one more takes the slot
   * of a half-closed client with nothing queued (`ERR_CLIENT_EVICTED`), or else is closed at
   * once and reported (`ERR_CLIENT_LIMIT`). 0, the default, derives it from the process's
   * descriptor limit minus a reserve (`defaultMaxClients()`), so the event source can
   * always connect. A value above that bound is lowered to it, since more clients would
   * exhaust the descriptors; the number used is in `maze.options.maxClients`.
   */
  readonly maxClients?: number;
  /**
   * Bytes a client may have queued (`writableLength`) before the event source is paused.
   * Default 1 MiB. A stream only signals `'drain'` above its `writableHighWaterMark`, so a
   * limit below that mark acts as the mark.
   */
  readonly clientBufferLimit?: number;
  /**
   * Bytes all clients together may have queued before the event source is paused; over it
   * for `slowClientTimeout`, the clients with the largest queues are dropped. Default 256 MiB.
   */
  readonly totalBufferLimit?: number;
  /**
   * How long a client may stay over its limit, or all clients over the total, before
   * clients are dropped. Default 10000.
   */
  readonly slowClientTimeout?: number;
  /**
   * How long the event source may send no valid event (empty and invalid lines do not
   * count), while it is being read, before a new source
   * that connects takes over from it (`ERR_EVENT_SOURCE_IDLE`); 0: never. A newcomer within
   * that time is refused (`ERR_EVENT_SOURCE_BUSY`). Default 10000.
   */
  readonly sourceIdleTimeout?: number;
  /** Bounded wait for buffered output to flush in `close()`. Default 5000. */
  readonly shutdownTimeout?: number;
  /** Forget the follow graph and the stream position when the event source goes. Default `false`. */
  readonly resetOnDisconnect?: boolean;
  /**
   * Authenticates clients: a client's id line carries a credential (its first field, e.g. a
   * JWT) instead of the user id, and the hook decides the user, or refuses with a reason
   * (`ERR_CLIENT_AUTH`). Sync or async; the identify timeout covers it. Without it, the id
   * line is the user id (docs/protocol.md §5); anything but a function is refused
   * (`ERR_INVALID_OPTION`).
   */
  readonly authenticate?: Authenticate;
}

/** `MazeOptions` with every default filled in. */
export type ResolvedMazeOptions = SettingsOf<typeof MAZE_OPTIONS>;

/** Fills in defaults and validates; throws `MazeError(ERR_INVALID_OPTION)` on a bad value. */
export function resolveMazeOptions(options: MazeOptions = {}): ResolvedMazeOptions {
  const resolved = resolveOptions(MAZE_OPTIONS, options);
  authenticateOption(options.authenticate);
  // Each new source starts the numbers again, so a LASTSEQ could name an event of another
  // stream: a replay would be wrong, and no line could say so.
  if (resolved.resumeBytes > 0 && resolved.resetOnDisconnect) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      'resumeBytes and resetOnDisconnect cannot be combined: after a reset, a resuming client’s last sequence number would name an event of the stream before it',
    );
  }
  // One epoch names one stream, and each new source starts another.
  if (options.epoch !== undefined && resolved.resetOnDisconnect) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      'epoch and resetOnDisconnect cannot be combined: each new event source starts another stream, which needs an epoch of its own (the maze makes one)',
    );
  }
  // 0 stands for the derived default, so the CLI and the environment can ask for it too.
  return { ...resolved, maxClients: resolveMaxClients(resolved.maxClients) };
}

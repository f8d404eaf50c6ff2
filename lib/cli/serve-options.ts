/**
 * The options of `follower-maze serve` (the default command), one per SPEC tunable, in one
 * importable table: the CLI builds its yargs options from it, and the README can be checked
 * against it. Every default comes from `lib/core/constants.ts`. Each option can also be set
 * through the environment as `FOLLOWER_MAZE_<NAME>` (e.g. `FOLLOWER_MAZE_EVENT_PORT=9000`).
 */
import type { Options } from 'yargs';
import {
  DEFAULT_CLIENT_BUFFER_LIMIT,
  DEFAULT_CLIENT_PORT,
  DEFAULT_EVENT_PORT,
  DEFAULT_HOST,
  DEFAULT_IDENTIFY_TIMEOUT_MS,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_FOLLOW_EDGES,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_REORDER_BYTES,
  DEFAULT_REORDER_CAPACITY,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_SLOW_CLIENT_TIMEOUT_MS,
  DEFAULT_SOURCE_IDLE_TIMEOUT_MS,
  DEFAULT_START_SEQUENCE,
  DEFAULT_STATS_INTERVAL_MS,
  DEFAULT_TOTAL_BUFFER_LIMIT,
  MAX_FOLLOW_EDGES,
  MAX_ID,
  MAX_TIMER_MS,
} from '../core/constants.js';
import type { ListenOptions } from '../net/listen.js';

/** Environment prefix: `--event-port` is also `FOLLOWER_MAZE_EVENT_PORT`. */
export const ENV_PREFIX = 'FOLLOWER_MAZE';

/** One CLI option: its flag, its key in the parsed arguments, and its limits. */
export interface ServeOptionSpec {
  /** The flag without dashes, e.g. `event-port`. */
  readonly flag: string;
  /** The camel-case key, e.g. `eventPort` (also the `listen()` option name, except `statsInterval`). */
  readonly key: keyof ServeArgs;
  readonly type: 'number' | 'string' | 'boolean';
  readonly default: number | string | boolean;
  readonly describe: string;
  /** Smallest and largest integer accepted (number options only). */
  readonly min?: number;
  readonly max?: number;
}

/** The parsed options of the serve command. */
export interface ServeArgs {
  readonly eventPort: number;
  readonly clientPort: number;
  readonly host: string;
  readonly maxLineLength: number;
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
  readonly statsInterval: number;
  readonly shutdownTimeout: number;
}

/** Every option of the serve command, in help order. */
export const SERVE_OPTIONS: readonly ServeOptionSpec[] = [
  {
    flag: 'event-port',
    key: 'eventPort',
    type: 'number',
    default: DEFAULT_EVENT_PORT,
    describe: 'TCP port the event source connects to (0: any free port)',
    min: 0,
    max: 65_535,
  },
  {
    flag: 'client-port',
    key: 'clientPort',
    type: 'number',
    default: DEFAULT_CLIENT_PORT,
    describe: 'TCP port user clients connect to (0: any free port)',
    min: 0,
    max: 65_535,
  },
  {
    flag: 'host',
    key: 'host',
    type: 'string',
    default: DEFAULT_HOST,
    describe: 'Address both ports bind to (0.0.0.0 exposes the event port to the network)',
  },
  {
    flag: 'max-line-length',
    key: 'maxLineLength',
    type: 'number',
    default: DEFAULT_MAX_LINE_LENGTH,
    describe: 'Longest event line accepted, terminator included, in bytes (client id lines: 64)',
    min: 4,
    max: MAX_ID,
  },
  {
    flag: 'identify-timeout',
    key: 'identifyTimeout',
    type: 'number',
    default: DEFAULT_IDENTIFY_TIMEOUT_MS,
    describe: 'Milliseconds a new client has to send its user id',
    min: 1,
    max: MAX_TIMER_MS,
  },
  {
    flag: 'max-clients',
    key: 'maxClients',
    type: 'number',
    default: DEFAULT_MAX_CLIENTS,
    describe:
      'Client connections at once; more are closed at once (0: the descriptor limit minus a reserve)',
    min: 0,
    max: MAX_ID,
  },
  {
    flag: 'client-buffer-limit',
    key: 'clientBufferLimit',
    type: 'number',
    default: DEFAULT_CLIENT_BUFFER_LIMIT,
    describe: 'Bytes queued for one client before the event source is paused',
    min: 1,
    max: MAX_ID,
  },
  {
    flag: 'total-buffer-limit',
    key: 'totalBufferLimit',
    type: 'number',
    default: DEFAULT_TOTAL_BUFFER_LIMIT,
    describe: 'Bytes queued for all clients together before the event source is paused',
    min: 1,
    max: MAX_ID,
  },
  {
    flag: 'slow-client-timeout',
    key: 'slowClientTimeout',
    type: 'number',
    default: DEFAULT_SLOW_CLIENT_TIMEOUT_MS,
    describe:
      'Milliseconds a client may stay over its buffer limit (or all over the total) before clients are dropped',
    min: 1,
    max: MAX_TIMER_MS,
  },
  {
    flag: 'reorder-capacity',
    key: 'reorderCapacity',
    type: 'number',
    default: DEFAULT_REORDER_CAPACITY,
    describe: 'Events that may wait for a missing sequence number',
    min: 1,
    max: MAX_ID,
  },
  {
    flag: 'reorder-bytes',
    key: 'reorderBytes',
    type: 'number',
    default: DEFAULT_REORDER_BYTES,
    describe: 'Bytes of event lines that may wait for a missing sequence number',
    min: 1,
    max: MAX_ID,
  },
  {
    flag: 'start-sequence',
    key: 'startSequence',
    type: 'number',
    default: DEFAULT_START_SEQUENCE,
    describe: 'Sequence number of the first event',
    min: 1,
    max: MAX_ID,
  },
  {
    flag: 'max-follow-edges',
    key: 'maxFollowEdges',
    type: 'number',
    default: DEFAULT_MAX_FOLLOW_EDGES,
    describe: 'Follow edges kept before a new follow is refused (ERR_FOLLOW_LIMIT, a no-op)',
    min: 1,
    max: MAX_FOLLOW_EDGES,
  },
  {
    flag: 'reset-on-disconnect',
    key: 'resetOnDisconnect',
    type: 'boolean',
    default: false,
    describe: 'Forget follows and the stream position when the event source disconnects',
  },
  {
    flag: 'source-idle-timeout',
    key: 'sourceIdleTimeout',
    type: 'number',
    default: DEFAULT_SOURCE_IDLE_TIMEOUT_MS,
    describe:
      'Milliseconds an event source may send nothing before a new one may take over (0: never)',
    min: 0,
    max: MAX_TIMER_MS,
  },
  {
    flag: 'stats-interval',
    key: 'statsInterval',
    type: 'number',
    default: DEFAULT_STATS_INTERVAL_MS,
    describe: 'Milliseconds between stats lines on stdout (0: none)',
    min: 0,
    max: MAX_TIMER_MS,
  },
  {
    flag: 'shutdown-timeout',
    key: 'shutdownTimeout',
    type: 'number',
    default: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    describe: 'Milliseconds to flush buffered output on shutdown before closing anyway',
    min: 0,
    max: MAX_TIMER_MS,
  },
];

/** `SERVE_OPTIONS` as a yargs options object. */
export function serveYargsOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const spec of SERVE_OPTIONS) {
    options[spec.flag] = {
      type: spec.type,
      default: spec.default,
      describe: spec.describe,
      group: 'Server:',
    };
  }
  return options;
}

/** Checks parsed arguments against the limits; returns a one-line message, or `undefined`. */
export function validateServeArgs(argv: Readonly<Record<string, unknown>>): string | undefined {
  for (const spec of SERVE_OPTIONS) {
    const value = argv[spec.key];
    if (Array.isArray(value)) return `--${spec.flag} is given more than once`;
    if (spec.type === 'string' && (typeof value !== 'string' || value.length === 0)) {
      return `--${spec.flag} must not be empty`;
    }
    if (spec.type !== 'number') continue;
    const min = spec.min ?? 0;
    const max = spec.max ?? MAX_ID;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      const shown = typeof value === 'number' && Number.isNaN(value) ? 'not a number' : value;
      return `--${spec.flag} must be an integer from ${min} to ${max} (got ${String(shown)})`;
    }
  }
  return undefined;
}

/** The `listen()` options the parsed arguments stand for. */
export function toListenOptions(args: ServeArgs): ListenOptions {
  return {
    host: args.host,
    eventPort: args.eventPort,
    clientPort: args.clientPort,
    maxLineLength: args.maxLineLength,
    identifyTimeout: args.identifyTimeout,
    maxClients: args.maxClients,
    clientBufferLimit: args.clientBufferLimit,
    totalBufferLimit: args.totalBufferLimit,
    slowClientTimeout: args.slowClientTimeout,
    reorderCapacity: args.reorderCapacity,
    reorderBytes: args.reorderBytes,
    startSequence: args.startSequence,
    maxFollowEdges: args.maxFollowEdges,
    resetOnDisconnect: args.resetOnDisconnect,
    sourceIdleTimeout: args.sourceIdleTimeout,
    shutdownTimeout: args.shutdownTimeout,
  };
}

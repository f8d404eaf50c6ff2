/**
 * Every tunable of the server, once (STYLE 4): its name, type, default, range and meaning.
 * The library's validation (`resolveMazeOptions()`, `listen()`), the command line's flags,
 * environment variables, `--config` file and `--help`, and the option table of `docs/cli.md` all
 * derive from `SERVER_OPTIONS`: adding an option is one row here, plus the typed field of
 * the library interface that takes it.
 *
 * Invariants:
 * - Names are camelCase and unique. The flag is the kebab-case name, the environment
 *   variable `FOLLOWER_MAZE_` and the SNAKE_CASE name, the config file key the name itself.
 * - `checkOptionValue()` takes typed values (library calls, JSON config);
 *   `parseOptionText()` takes text (flags, environment) by strict rules: decimal digits
 *   only for integers, the usual spellings for booleans, never an empty value. Both throw
 *   `MazeError(ERR_INVALID_OPTION)` naming the option as the caller spelled it.
 * - Pure data and checks: no I/O (lib/core).
 */
import {
  DEFAULT_CLIENT_BUFFER_LIMIT,
  DEFAULT_CLIENT_PORT,
  DEFAULT_EVENT_PORT,
  DEFAULT_HOST,
  DEFAULT_IDENTIFY_TIMEOUT_MS,
  DEFAULT_LOG_FORMAT,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MAX_CLIENTS,
  DEFAULT_MAX_FOLLOW_EDGES,
  DEFAULT_MAX_ID_LINE_LENGTH,
  DEFAULT_MAX_LINE_LENGTH,
  DEFAULT_MONITOR_HOST,
  DEFAULT_NATS_MAX_AGE_S,
  DEFAULT_NATS_MAX_BYTES,
  DEFAULT_NATS_REPLICAS,
  DEFAULT_NATS_STORAGE,
  DEFAULT_NATS_STREAM,
  DEFAULT_NATS_SUBJECT,
  DEFAULT_REORDER_BYTES,
  DEFAULT_REORDER_CAPACITY,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_SLOW_CLIENT_TIMEOUT_MS,
  DEFAULT_SNAPSHOT_EVENTS,
  DEFAULT_SNAPSHOT_INTERVAL_MS,
  DEFAULT_SOURCE_IDLE_TIMEOUT_MS,
  DEFAULT_START_SEQUENCE,
  DEFAULT_STATS_INTERVAL_MS,
  DEFAULT_TOTAL_BUFFER_LIMIT,
  LOG_FORMATS,
  LOG_LEVELS,
  MAX_FOLLOW_EDGES,
  MAX_ID,
  MAX_NATS_MAX_AGE_S,
  MAX_NATS_REPLICAS,
  MAX_TIMER_MS,
} from './constants.js';
import { ErrorCode, MazeError } from './errors.js';

/** Prefix of every environment variable of the server: `--event-port` is `FOLLOWER_MAZE_EVENT_PORT`. */
export const ENV_PREFIX = 'FOLLOWER_MAZE';

/**
 * Which part of the program takes an option. `cluster`: the event log on NATS JetStream of
 * cluster mode (docs/protocol.md §11), taken by `connectEventLog()`; `snapshots`: the
 * snapshot writer's cadence (both taken by `serve` only with `--nats-url`).
 */
export type OptionLayer = 'core' | 'adapter' | 'listen' | 'cli' | 'cluster' | 'snapshots';

export type OptionValue = number | string | boolean;

/** The server commands: `serve` (one process), and cluster mode's `ingest` and `gateway`. */
export type ServerCommand = 'serve' | 'ingest' | 'gateway';

const EVERY = ['serve', 'ingest', 'gateway'] as const;
/** The event source side: framing, sequencing. */
const EVENT_SIDE = ['serve', 'ingest'] as const;
/** The client side: ids, flow control, the follow graph that routing reads. */
const CLIENT_SIDE = ['serve', 'gateway'] as const;
/** What writes the event log and its snapshots: the ingest, and `serve --nats-url`. */
const LOG_WRITERS = ['serve', 'ingest'] as const;
const SERVE_ONLY = ['serve'] as const;

/** One tunable. */
export interface OptionSpec {
  /** camelCase: the library option and the config file key. */
  readonly name: string;
  readonly type: 'integer' | 'string' | 'boolean' | 'choice';
  /** `undefined`: not set unless given (e.g. no config file). */
  readonly default: OptionValue | undefined;
  /** Integer range, both ends included. */
  readonly min?: number;
  readonly max?: number;
  /** The accepted values of a `choice`. */
  readonly choices?: readonly string[];
  readonly layer: OptionLayer;
  /** The commands that take it (as a flag; see `serverOptionsFor()`). */
  readonly commands: readonly ServerCommand[];
  readonly describe: string;
}

const PORT = { type: 'integer', min: 0, max: 65_535 } as const;
const SIZE = { type: 'integer', min: 1, max: MAX_ID } as const;
const DURATION = { type: 'integer', min: 1, max: MAX_TIMER_MS } as const;

/** Every option of the server, in help order. */
export const SERVER_OPTIONS = [
  {
    name: 'eventPort',
    ...PORT,
    default: DEFAULT_EVENT_PORT,
    layer: 'listen',
    commands: EVENT_SIDE,
    describe: 'TCP port the event source connects to (0: any free port)',
  },
  {
    name: 'clientPort',
    ...PORT,
    default: DEFAULT_CLIENT_PORT,
    layer: 'listen',
    commands: CLIENT_SIDE,
    describe: 'TCP port user clients connect to (0: any free port)',
  },
  {
    name: 'host',
    type: 'string',
    default: DEFAULT_HOST,
    layer: 'listen',
    commands: EVERY,
    describe: 'Address the ports bind to (0.0.0.0 exposes them to the network)',
  },
  {
    name: 'maxLineLength',
    ...SIZE,
    // A valid event needs at least "1|B\n".
    min: 4,
    default: DEFAULT_MAX_LINE_LENGTH,
    layer: 'adapter',
    commands: EVENT_SIDE,
    describe: 'Longest event line accepted, terminator included, in bytes',
  },
  {
    name: 'maxIdLineLength',
    ...SIZE,
    min: 2,
    default: DEFAULT_MAX_ID_LINE_LENGTH,
    layer: 'adapter',
    commands: CLIENT_SIDE,
    describe: 'Longest user id line a client may send, terminator included, in bytes',
  },
  {
    name: 'identifyTimeout',
    ...DURATION,
    default: DEFAULT_IDENTIFY_TIMEOUT_MS,
    layer: 'adapter',
    commands: CLIENT_SIDE,
    describe: 'Milliseconds a new client has to send its user id',
  },
  {
    name: 'maxClients',
    ...SIZE,
    min: 0,
    default: DEFAULT_MAX_CLIENTS,
    layer: 'adapter',
    commands: CLIENT_SIDE,
    describe:
      'Client connections attached at once (0: the descriptor limit minus a reserve for the event source)',
  },
  {
    name: 'clientBufferLimit',
    ...SIZE,
    default: DEFAULT_CLIENT_BUFFER_LIMIT,
    layer: 'adapter',
    commands: CLIENT_SIDE,
    describe:
      'Bytes queued for one client before the input is paused (the event source; a gateway reading the log)',
  },
  {
    name: 'totalBufferLimit',
    ...SIZE,
    default: DEFAULT_TOTAL_BUFFER_LIMIT,
    layer: 'adapter',
    commands: CLIENT_SIDE,
    describe: 'Bytes queued for all clients together before the input is paused',
  },
  {
    name: 'slowClientTimeout',
    ...DURATION,
    default: DEFAULT_SLOW_CLIENT_TIMEOUT_MS,
    layer: 'adapter',
    commands: CLIENT_SIDE,
    describe:
      'Milliseconds a client may stay over its buffer limit (or all over the total) before clients are dropped',
  },
  {
    name: 'reorderCapacity',
    ...SIZE,
    default: DEFAULT_REORDER_CAPACITY,
    layer: 'core',
    commands: EVENT_SIDE,
    describe: 'Events that may wait for a missing sequence number',
  },
  {
    name: 'reorderBytes',
    ...SIZE,
    default: DEFAULT_REORDER_BYTES,
    layer: 'core',
    commands: EVENT_SIDE,
    describe: 'Bytes of event lines that may wait for a missing sequence number',
  },
  {
    name: 'startSequence',
    ...SIZE,
    default: DEFAULT_START_SEQUENCE,
    layer: 'core',
    commands: EVENT_SIDE,
    describe: 'Sequence number of the first event',
  },
  {
    name: 'maxFollowEdges',
    ...SIZE,
    max: MAX_FOLLOW_EDGES,
    default: DEFAULT_MAX_FOLLOW_EDGES,
    layer: 'core',
    commands: EVERY,
    describe: 'Follow edges kept before a new follow is refused (ERR_FOLLOW_LIMIT, a no-op)',
  },
  {
    name: 'resetOnDisconnect',
    type: 'boolean',
    default: false,
    layer: 'adapter',
    commands: SERVE_ONLY,
    describe: 'Forget follows and the stream position when the event source disconnects',
  },
  {
    name: 'sourceIdleTimeout',
    ...DURATION,
    min: 0,
    default: DEFAULT_SOURCE_IDLE_TIMEOUT_MS,
    layer: 'adapter',
    commands: EVENT_SIDE,
    describe:
      'Milliseconds an event source may send nothing before a new one may take over (0: never)',
  },
  {
    name: 'shutdownTimeout',
    ...DURATION,
    min: 0,
    default: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    layer: 'adapter',
    commands: EVERY,
    describe: 'Milliseconds to flush buffered output on shutdown before closing anyway',
  },
  {
    name: 'statsInterval',
    ...DURATION,
    min: 0,
    default: DEFAULT_STATS_INTERVAL_MS,
    layer: 'cli',
    commands: EVERY,
    describe: 'Milliseconds between stats lines on stdout (0: none)',
  },
  {
    name: 'logLevel',
    type: 'choice',
    choices: LOG_LEVELS,
    default: DEFAULT_LOG_LEVEL,
    layer: 'cli',
    commands: EVERY,
    describe:
      'Least severe log records written to stderr: error, warn, info or debug (each client)',
  },
  {
    name: 'logFormat',
    type: 'choice',
    choices: LOG_FORMATS,
    default: DEFAULT_LOG_FORMAT,
    layer: 'cli',
    commands: EVERY,
    describe: 'Log records as text lines or as one JSON object per line',
  },
  {
    name: 'monitorPort',
    ...PORT,
    default: undefined,
    layer: 'cli',
    commands: EVERY,
    describe: 'HTTP port for /healthz, /metrics, /stats and /clients (0: any free port; none: off)',
  },
  {
    name: 'monitorHost',
    type: 'string',
    default: DEFAULT_MONITOR_HOST,
    layer: 'cli',
    commands: EVERY,
    describe: 'Address the monitoring port binds to (it shows user ids and client addresses)',
  },
  {
    name: 'natsUrl',
    type: 'string',
    default: undefined,
    layer: 'cluster',
    commands: EVERY,
    describe:
      'NATS server URL(s) of the event log, comma-separated (nats://host:4222); serve with it keeps its state in NATS',
  },
  {
    name: 'natsCreds',
    type: 'string',
    default: undefined,
    layer: 'cluster',
    commands: EVERY,
    describe: 'NATS credentials file (.creds: user JWT and NKey seed)',
  },
  {
    name: 'natsUser',
    type: 'string',
    default: undefined,
    layer: 'cluster',
    commands: EVERY,
    describe: 'NATS user name (with --nats-password)',
  },
  {
    name: 'natsPassword',
    type: 'string',
    default: undefined,
    layer: 'cluster',
    commands: EVERY,
    describe: 'NATS password (prefer the environment variable: flags show in ps)',
  },
  {
    name: 'natsToken',
    type: 'string',
    default: undefined,
    layer: 'cluster',
    commands: EVERY,
    describe: 'NATS authentication token (prefer the environment variable: flags show in ps)',
  },
  {
    name: 'natsTlsCa',
    type: 'string',
    default: undefined,
    layer: 'cluster',
    commands: EVERY,
    describe: 'PEM file of the CA that signed the NATS server certificate (turns TLS on)',
  },
  {
    name: 'natsStream',
    type: 'string',
    default: DEFAULT_NATS_STREAM,
    layer: 'cluster',
    commands: EVERY,
    describe: 'JetStream stream of the event log (created if missing)',
  },
  {
    name: 'natsSubject',
    type: 'string',
    default: DEFAULT_NATS_SUBJECT,
    layer: 'cluster',
    commands: EVERY,
    describe: 'Subject of the event log; an existing stream must have exactly this subject',
  },
  {
    name: 'natsStorage',
    type: 'choice',
    choices: ['file', 'memory'],
    default: DEFAULT_NATS_STORAGE,
    layer: 'cluster',
    commands: EVERY,
    describe: 'Storage of a stream created by follower-maze (memory: lost when NATS restarts)',
  },
  {
    name: 'natsReplicas',
    type: 'integer',
    min: 1,
    max: MAX_NATS_REPLICAS,
    default: DEFAULT_NATS_REPLICAS,
    layer: 'cluster',
    commands: EVERY,
    describe: 'Replicas of a stream created by follower-maze (more than 1 needs a NATS cluster)',
  },
  {
    name: 'natsMaxAge',
    type: 'integer',
    min: 0,
    max: MAX_NATS_MAX_AGE_S,
    default: DEFAULT_NATS_MAX_AGE_S,
    layer: 'cluster',
    commands: LOG_WRITERS,
    describe:
      'Seconds the event log keeps a batch (0: for ever), set on the stream by the writer; keep it well above the snapshot interval',
  },
  {
    name: 'natsMaxBytes',
    ...SIZE,
    min: 0,
    default: DEFAULT_NATS_MAX_BYTES,
    layer: 'cluster',
    commands: LOG_WRITERS,
    describe: 'Bytes the event log keeps, oldest batches dropped first (0: no limit)',
  },
  {
    name: 'snapshotEvents',
    ...SIZE,
    default: DEFAULT_SNAPSHOT_EVENTS,
    layer: 'snapshots',
    commands: LOG_WRITERS,
    describe: 'Events between two snapshots of the follow graph, which late gateways start from',
  },
  {
    name: 'snapshotInterval',
    ...DURATION,
    default: DEFAULT_SNAPSHOT_INTERVAL_MS,
    layer: 'snapshots',
    commands: LOG_WRITERS,
    describe: 'Most milliseconds between two snapshots while events arrive',
  },
  {
    name: 'config',
    type: 'string',
    default: undefined,
    layer: 'cli',
    commands: EVERY,
    describe: 'JSON file of options by their camelCase names; flags and environment win over it',
  },
] as const satisfies readonly OptionSpec[];

/** The name of a server option. */
export type ServerOptionName = (typeof SERVER_OPTIONS)[number]['name'];

const BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(
  SERVER_OPTIONS.map((spec) => [spec.name, spec]),
);

/** The spec of the server option `name`; throws `ERR_INVALID_STATE` for an unknown name. */
export function serverOption(name: ServerOptionName): OptionSpec {
  const spec = BY_NAME.get(name);
  if (spec === undefined) throw new MazeError(ErrorCode.InvalidState, `no option ${name}`);
  return spec;
}

/** The server options taken by the given layers. */
export function serverOptionsOf(...layers: readonly OptionLayer[]): readonly OptionSpec[] {
  return SERVER_OPTIONS.filter((spec) => layers.includes(spec.layer));
}

/** The server options `command` takes, in help order. */
export function serverOptionsFor(command: ServerCommand): readonly OptionSpec[] {
  return SERVER_OPTIONS.filter((spec: OptionSpec) => spec.commands.includes(command));
}

/** `eventPort` → `event-port`. */
export function flagOf(spec: OptionSpec): string {
  return spec.name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** `eventPort` → `FOLLOWER_MAZE_EVENT_PORT`. */
export function envOf(spec: OptionSpec): string {
  return `${ENV_PREFIX}_${flagOf(spec).toUpperCase().replaceAll('-', '_')}`;
}

/** The default as `--help` and `docs/cli.md` show it. */
export function defaultText(spec: OptionSpec): string {
  return spec.default === undefined ? 'none' : String(spec.default);
}

/** What an option accepts, for messages. */
export function expectation(spec: OptionSpec): string {
  switch (spec.type) {
    case 'integer':
      return `an integer from ${spec.min ?? 0} to ${spec.max ?? MAX_ID}`;
    case 'boolean':
      return 'true or false (also yes/no, on/off, 1/0)';
    case 'choice':
      return `one of ${(spec.choices ?? []).join(', ')}`;
    case 'string':
      return 'a non-empty string';
  }
}

/**
 * Checks a typed value (a library option, a JSON config value); returns it. `label` names
 * the option as the caller knows it (`reorderCapacity`, `config.json: reorderCapacity`).
 */
export function checkOptionValue(spec: OptionSpec, value: unknown, label = spec.name): OptionValue {
  const valid =
    spec.type === 'integer'
      ? Number.isSafeInteger(value) &&
        (value as number) >= (spec.min ?? 0) &&
        (value as number) <= (spec.max ?? MAX_ID)
      : spec.type === 'boolean'
        ? typeof value === 'boolean'
        : spec.type === 'choice'
          ? typeof value === 'string' && (spec.choices ?? []).includes(value)
          : typeof value === 'string' && value.trim() !== '';
  if (!valid) throw invalidOption(label, spec, value);
  return value as OptionValue;
}

/**
 * A library entry's options, decided: each named option's value in `given` (checked by
 * `checkOptionValue()`), or its default. Throws `ERR_INVALID_OPTION` on the first bad value.
 */
export function resolveOptionValues(
  names: readonly ServerOptionName[],
  given: object,
): Record<string, OptionValue> {
  const values = given as Readonly<Record<string, unknown>>;
  const resolved: Record<string, OptionValue> = {};
  for (const name of names) {
    const spec = serverOption(name);
    resolved[name] = checkOptionValue(spec, values[name] ?? spec.default);
  }
  return resolved;
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/**
 * Parses the text of a flag or environment variable; returns the typed value. `label` names
 * the option as given (`--event-port`, `FOLLOWER_MAZE_EVENT_PORT`).
 */
export function parseOptionText(spec: OptionSpec, text: string, label: string): OptionValue {
  const trimmed = text.trim();
  if (trimmed === '') {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `${label} is empty: give ${expectation(spec)}, or leave it out for the default (${defaultText(spec)})`,
    );
  }
  switch (spec.type) {
    case 'integer':
      return checkOptionValue(spec, /^\d+$/.test(trimmed) ? Number(trimmed) : text, label);
    case 'boolean': {
      const word = trimmed.toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw invalidOption(label, spec, text);
    }
    default:
      return checkOptionValue(spec, trimmed, label);
  }
}

function invalidOption(label: string, spec: OptionSpec, got: unknown): MazeError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  return new MazeError(
    ErrorCode.InvalidOption,
    `${label} must be ${expectation(spec)}, got ${shown}`,
  );
}

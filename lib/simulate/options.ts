/**
 * The options of `follower-maze simulate`, defined once: the yargs command, the library
 * entry and `docs/simulator.md` are all derived from (or checked against) `SIMULATE_OPTIONS`.
 *
 * Invariants:
 * - The nine options of the original verification program keep its names, and each is
 *   also read from the environment variable of exactly that name. A flag wins over the
 *   environment, the environment over the default.
 * - Resolution never half-succeeds: an invalid value throws a `MazeError` with code
 *   `ERR_INVALID_OPTION` naming the flag, the variable and the accepted range.
 * - `clientListenerPort` is one port or a comma-separated list of distinct ports (a cluster:
 *   several gateways), at most one per client so that every port is verified; it resolves
 *   to `clientListenerPorts`, which always holds at least one.
 */
import { DEFAULT_CLIENT_PORT, DEFAULT_EVENT_PORT, DEFAULT_HOST } from '../core/constants.js';
import { ErrorCode, MazeError } from '../core/errors.js';
import {
  DEFAULT_CONCURRENCY_LEVEL,
  DEFAULT_EVENT_MIX,
  DEFAULT_LINGER_MS,
  DEFAULT_LOG_INTERVAL_MS,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_RANDOM_SEED,
  DEFAULT_SIMULATE_TIMEOUT_MS,
  DEFAULT_TOTAL_EVENTS,
  DEFAULT_USERS_PER_CLIENT,
  MAX_BATCH_SIZE,
} from './constants.js';
import type { SimulationProgress } from './result.js';

/** How one option is given on the command line and in the environment. */
export interface SimulateOptionDefinition {
  /** The long flag (`--eventListenerPort`); yargs also accepts its kebab-case spelling. */
  readonly flag: string;
  /** The environment variable read when the flag is absent; none for the newer options. */
  readonly env?: string;
  readonly type: 'integer' | 'string' | 'boolean';
  /** The default as shown in `--help` and `docs/simulator.md`. */
  readonly defaultDescription: string;
  readonly description: string;
}

/** A line terminator: `lf` is `\n`, `crlf` is `\r\n`. */
export type LineTerminator = 'lf' | 'crlf';

/** Every option of the simulator, by the name the library and yargs use. */
export const SIMULATE_OPTIONS = {
  host: {
    flag: '--host',
    type: 'string',
    defaultDescription: DEFAULT_HOST,
    description: 'Host of the server under test',
  },
  eventListenerPort: {
    flag: '--eventListenerPort',
    env: 'eventListenerPort',
    type: 'integer',
    defaultDescription: String(DEFAULT_EVENT_PORT),
    description: 'Port the event source connects to',
  },
  clientListenerPort: {
    flag: '--clientListenerPort',
    env: 'clientListenerPort',
    // Text, not a number, so that yargs passes a list such as `9099,9199` through whole.
    type: 'string',
    defaultDescription: String(DEFAULT_CLIENT_PORT),
    description:
      'Port the user clients connect to; a comma-separated list spreads them round-robin',
  },
  totalEvents: {
    flag: '--totalEvents',
    env: 'totalEvents',
    type: 'integer',
    defaultDescription: String(DEFAULT_TOTAL_EVENTS),
    description: 'Events to stream (after the warm-up broadcasts)',
  },
  concurrencyLevel: {
    flag: '--concurrencyLevel',
    env: 'concurrencyLevel',
    type: 'integer',
    defaultDescription: String(DEFAULT_CONCURRENCY_LEVEL),
    description: 'User clients connected during the run, each with a distinct random user id',
  },
  numberOfUsers: {
    flag: '--numberOfUsers',
    env: 'numberOfUsers',
    type: 'integer',
    defaultDescription: `concurrencyLevel x ${DEFAULT_USERS_PER_CLIENT}`,
    description: 'Users 1..numberOfUsers that events pick their from/to users from',
  },
  randomSeed: {
    flag: '--randomSeed',
    env: 'randomSeed',
    type: 'integer',
    defaultDescription: String(DEFAULT_RANDOM_SEED),
    description: 'Seed of every random choice: the same seed gives the same events',
  },
  timeout: {
    flag: '--timeout',
    env: 'timeout',
    type: 'integer',
    defaultDescription: String(DEFAULT_SIMULATE_TIMEOUT_MS),
    description: 'Milliseconds a client may wait for its next expected notification',
  },
  maxEventSourceBatchSize: {
    flag: '--maxEventSourceBatchSize',
    env: 'maxEventSourceBatchSize',
    type: 'integer',
    defaultDescription: String(DEFAULT_MAX_BATCH_SIZE),
    description: 'Events are sent in batches of random size 1..max, shuffled within each batch',
  },
  logInterval: {
    flag: '--logInterval',
    env: 'logInterval',
    type: 'integer',
    defaultDescription: String(DEFAULT_LOG_INTERVAL_MS),
    description: 'Milliseconds between progress reports; 0 turns them off',
  },
  eventTerminator: {
    flag: '--eventTerminator',
    type: 'string',
    defaultDescription: 'lf',
    description: 'Line terminator of the events sent: lf or crlf',
  },
  idTerminator: {
    flag: '--idTerminator',
    type: 'string',
    defaultDescription: 'lf',
    description: 'Line terminator of the user id each client sends: lf or crlf',
  },
  eventMix: {
    flag: '--eventMix',
    type: 'string',
    defaultDescription: DEFAULT_EVENT_MIX,
    description: 'Weights of the event types F, U, B, P and S, as TYPE:WEIGHT pairs',
  },
  linger: {
    flag: '--linger',
    type: 'integer',
    defaultDescription: String(DEFAULT_LINGER_MS),
    description:
      'Milliseconds clients keep listening after their last expected line, to catch extra lines',
  },
  rate: {
    flag: '--rate',
    type: 'integer',
    defaultDescription: '0',
    description:
      'Events per second the source is paced at (token bucket); 0 sends as fast as possible',
  },
  latencyWarmup: {
    flag: '--latencyWarmup',
    type: 'integer',
    defaultDescription: '0',
    description: 'Milliseconds at the start of the stream left out of the latency (still verified)',
  },
  stalledClients: {
    flag: '--stalledClients',
    type: 'integer',
    defaultDescription: '0',
    description:
      'Extra clients that identify as users the events pick from and never read (not verified)',
  },
  waitForPorts: {
    flag: '--waitForPorts',
    type: 'integer',
    defaultDescription: '0',
    description: 'Milliseconds to retry a port that refuses (a server still starting); 0: no retry',
  },
  json: {
    flag: '--json',
    type: 'boolean',
    defaultDescription: 'false',
    description: 'Print only a one-line JSON summary on stdout',
  },
} as const satisfies Record<string, SimulateOptionDefinition>;

/** What `simulate()` accepts; every field is optional and defaults as `SIMULATE_OPTIONS` says. */
export interface SimulateOptions {
  readonly host?: string;
  readonly eventListenerPort?: number;
  /** One port, or several (an array or a comma-separated list) the clients are spread over. */
  readonly clientListenerPort?: number | string | readonly number[];
  readonly totalEvents?: number;
  readonly concurrencyLevel?: number;
  readonly numberOfUsers?: number;
  readonly randomSeed?: number;
  readonly timeout?: number;
  readonly maxEventSourceBatchSize?: number;
  readonly logInterval?: number;
  readonly eventTerminator?: LineTerminator;
  readonly idTerminator?: LineTerminator;
  readonly eventMix?: string;
  readonly linger?: number;
  readonly rate?: number;
  readonly latencyWarmup?: number;
  readonly stalledClients?: number;
  readonly waitForPorts?: number;
  /** Called every `logInterval` ms while events stream. */
  readonly onProgress?: (progress: SimulationProgress) => void;
}

/** The five event types in wire order, as the mix weights index them. */
export const EVENT_TYPES = ['F', 'U', 'B', 'P', 'S'] as const;
export type EventTypeLetter = (typeof EVENT_TYPES)[number];

/** Every option with its value decided and checked. */
export interface ResolvedSimulateOptions {
  readonly host: string;
  readonly eventListenerPort: number;
  /**
   * The ports the clients connect to, distinct, at least one: client `i` (verified ones
   * first, then the stalled ones) connects to `clientListenerPorts[i % length]`.
   */
  readonly clientListenerPorts: readonly number[];
  readonly totalEvents: number;
  readonly concurrencyLevel: number;
  readonly numberOfUsers: number;
  readonly randomSeed: number;
  readonly timeout: number;
  readonly maxEventSourceBatchSize: number;
  readonly logInterval: number;
  readonly eventTerminator: LineTerminator;
  readonly idTerminator: LineTerminator;
  /** Weight of each type, indexed like `EVENT_TYPES`. */
  readonly eventWeights: readonly number[];
  readonly linger: number;
  /** Events per second the stream is paced at; 0: as fast as possible. */
  readonly rate: number;
  /** Ms from the start of the stream during which written events count for no latency. */
  readonly latencyWarmup: number;
  readonly stalledClients: number;
  /** Ms from the start of the run during which a refused connection is tried again. */
  readonly waitForPorts: number;
  readonly onProgress: ((progress: SimulationProgress) => void) | undefined;
}

const MAX_PORT = 65_535;
const MAX_USERS = 4_294_967_295;
const MAX_CLIENTS = 100_000;
const MAX_EVENTS = 1e15;
const MAX_MS = 2_147_483_647;
const MAX_RATE = 1e9;

/** The value of a terminator on the wire. */
export function terminatorBytes(terminator: LineTerminator): string {
  return terminator === 'crlf' ? '\r\n' : '\n';
}

/**
 * Decides every option: `given[name]` when set, else (for the original nine) `env[name]`,
 * else the default. `given` may hold numbers or strings (from yargs or the environment).
 * Throws `MazeError` (`ERR_INVALID_OPTION`) on the first invalid value.
 */
export function resolveSimulateOptions(
  given: Readonly<Record<string, unknown>> = {},
  env: Readonly<Record<string, string | undefined>> = {},
): ResolvedSimulateOptions {
  const pick = (name: keyof typeof SIMULATE_OPTIONS): unknown => {
    const value = given[name];
    if (value !== undefined) return value;
    const definition: SimulateOptionDefinition = SIMULATE_OPTIONS[name];
    const fromEnv = definition.env === undefined ? undefined : env[definition.env];
    return fromEnv === undefined || fromEnv.trim() === '' ? undefined : fromEnv;
  };
  const integer = (
    name: keyof typeof SIMULATE_OPTIONS,
    fallback: number,
    min: number,
    max: number,
  ): number => {
    const raw = pick(name);
    if (raw === undefined) return fallback;
    const value = integerOf(raw);
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw invalid(name, `an integer from ${min} to ${max}`, raw);
    }
    return value;
  };
  const terminator = (name: 'eventTerminator' | 'idTerminator'): LineTerminator => {
    const raw = pick(name) ?? 'lf';
    if (raw !== 'lf' && raw !== 'crlf') throw invalid(name, '"lf" or "crlf"', raw);
    return raw;
  };

  const rawHost = pick('host') ?? DEFAULT_HOST;
  if (typeof rawHost !== 'string' || rawHost.trim() === '') {
    throw invalid('host', 'a host name or address', rawHost);
  }
  const concurrencyLevel = integer('concurrencyLevel', DEFAULT_CONCURRENCY_LEVEL, 1, MAX_CLIENTS);
  const numberOfUsers = integer(
    'numberOfUsers',
    Math.min(concurrencyLevel * DEFAULT_USERS_PER_CLIENT, MAX_USERS),
    concurrencyLevel,
    MAX_USERS,
  );
  const rawMix = pick('eventMix') ?? DEFAULT_EVENT_MIX;
  if (typeof rawMix !== 'string') throw invalid('eventMix', 'TYPE:WEIGHT pairs', rawMix);
  const onProgress = given.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new MazeError(ErrorCode.InvalidOption, 'onProgress must be a function');
  }

  return {
    host: rawHost.trim(),
    eventListenerPort: integer('eventListenerPort', DEFAULT_EVENT_PORT, 1, MAX_PORT),
    clientListenerPorts: portList(pick('clientListenerPort'), concurrencyLevel),
    totalEvents: integer('totalEvents', DEFAULT_TOTAL_EVENTS, 0, MAX_EVENTS),
    concurrencyLevel,
    numberOfUsers,
    randomSeed: integer('randomSeed', DEFAULT_RANDOM_SEED, 0, Number.MAX_SAFE_INTEGER),
    timeout: integer('timeout', DEFAULT_SIMULATE_TIMEOUT_MS, 1, MAX_MS),
    maxEventSourceBatchSize: integer(
      'maxEventSourceBatchSize',
      DEFAULT_MAX_BATCH_SIZE,
      1,
      MAX_BATCH_SIZE,
    ),
    logInterval: integer('logInterval', DEFAULT_LOG_INTERVAL_MS, 0, MAX_MS),
    eventTerminator: terminator('eventTerminator'),
    idTerminator: terminator('idTerminator'),
    eventWeights: parseEventMix(rawMix),
    linger: integer('linger', DEFAULT_LINGER_MS, 0, MAX_MS),
    rate: integer('rate', 0, 0, MAX_RATE),
    latencyWarmup: integer('latencyWarmup', 0, 0, MAX_MS),
    stalledClients: integer('stalledClients', 0, 0, MAX_CLIENTS),
    waitForPorts: integer('waitForPorts', 0, 0, MAX_MS),
    onProgress: onProgress as ResolvedSimulateOptions['onProgress'],
  };
}

// A number as given, or the value of a string of decimal digits (spaces around allowed);
// NaN for anything else.
function integerOf(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  return typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
}

/**
 * Reads `clientListenerPort`: absent (the default port), one port (a number or its digits),
 * a comma-separated list of them, or an array (from a program, or yargs given the flag
 * twice). Every port is 1..65535, none repeats, no item is empty, and there are at most
 * `clients` of them, so that each port gets a client.
 */
function portList(raw: unknown, clients: number): number[] {
  if (raw === undefined) return [DEFAULT_CLIENT_PORT];
  const items: unknown[] =
    typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : [raw];
  const ports = items.map(integerOf);
  const shown = Array.isArray(raw) ? raw.join(',') : raw;
  const valid = (port: number): boolean =>
    Number.isSafeInteger(port) && port >= 1 && port <= MAX_PORT;
  if (ports.length === 0 || !ports.every(valid) || new Set(ports).size !== ports.length) {
    throw invalid(
      'clientListenerPort',
      `a port from 1 to ${MAX_PORT} or a comma-separated list of distinct ones`,
      shown,
    );
  }
  if (ports.length > clients) {
    throw invalid(
      'clientListenerPort',
      `at most as many ports as --concurrencyLevel (${clients}), so that every port gets a client`,
      shown,
    );
  }
  return ports;
}

/**
 * Parses `F:30,U:10,B:5,P:25,S:30` into weights indexed like `EVENT_TYPES`. A type left
 * out weighs 0; at least one weight must be positive.
 */
export function parseEventMix(mix: string): number[] {
  const weights = [0, 0, 0, 0, 0];
  const seen = new Set<string>();
  for (const entry of mix.split(',')) {
    const match = /^\s*([FUBPS])\s*:\s*(\d{1,9})\s*$/.exec(entry);
    const type = match?.[1];
    if (match === null || type === undefined || seen.has(type)) {
      throw invalid('eventMix', 'distinct TYPE:WEIGHT pairs, TYPE one of F U B P S', mix);
    }
    seen.add(type);
    weights[EVENT_TYPES.indexOf(type as EventTypeLetter)] = Number(match[2]);
  }
  if (weights.every((weight) => weight === 0)) {
    throw invalid('eventMix', 'at least one positive weight', mix);
  }
  return weights;
}

function invalid(name: keyof typeof SIMULATE_OPTIONS, expected: string, got: unknown): MazeError {
  const definition: SimulateOptionDefinition = SIMULATE_OPTIONS[name];
  const source =
    definition.env === undefined ? definition.flag : `${definition.flag} (or $${definition.env})`;
  return new MazeError(
    ErrorCode.InvalidOption,
    `${source} must be ${expected}, got ${typeof got === 'number' ? got : JSON.stringify(got)}`,
  );
}

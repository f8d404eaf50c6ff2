/**
 * The options of the simulator (`simulate()`, `follower-maze simulate`): one row each, by the
 * rules every option follows (`lib/options/`); the command line composes these rows into
 * its flags and environment variables.
 *
 * Invariants:
 * - The names are the server's where they mean the same thing (`eventPort`, `clientPort`,
 *   `host`: where the server under test listens). The original verification program's
 *   names of the two ports, `eventListenerPort` and `clientListenerPort`, are aliases.
 * - Resolution never half-succeeds: an invalid value throws a `MazeError` with code
 *   `ERR_INVALID_OPTION` naming the option (as the caller spelled it) and what it accepts.
 *   Integers may be given as numbers or as their decimal digits.
 * - `clientPort` is one port or a comma-separated list of distinct ports (a cluster: several
 *   gateways), at most one per client so that every port is verified; it resolves to
 *   `clientPorts`, which always holds at least one.
 */
import { isIP } from 'node:net';
import { CORE_OPTIONS } from '../core/options.js';
import { ErrorCode, MazeError } from '../errors.js';
import { LISTEN_OPTIONS } from '../net/options.js';
import {
  checkOptionValue,
  type GivenOf,
  MAX_TIMER_MS,
  type OptionRow,
  parseOptionText,
  type SettingsOf,
  type ValueOf,
} from '../options/option.js';
import type { SimulationProgress } from './result.js';
import { readSimulatorTls, type SimulatorTls } from './tls.js';

/** A line terminator: `lf` is `\n`, `crlf` is `\r\n`. */
export type LineTerminator = 'lf' | 'crlf';

/** Users events are drawn from, per connected client (`numberOfUsers` = level x this). */
const USERS_PER_CLIENT = 10;
const MAX_USERS = 4_294_967_295;
const MAX_CLIENTS = 100_000;
/** Largest `maxEventSourceBatchSize`: a batch is generated whole before pacing can pause. */
const MAX_BATCH_SIZE = 10_000;
/** Largest `reconnectEvery`: drops are drawn uniformly in 1..2 x reconnectEvery - 1 lines. */
const MAX_RECONNECT_EVERY = 1e9;
/** Most worker processes a run spreads its clients over. */
const MAX_WORKERS = 64;
/**
 * Clients (stalled ones included) per worker process when `workers` is 0: room under a
 * 20,000-descriptor limit for the sockets, Node's own descriptors and a margin. No more
 * processes than that: on a 2-core machine 100,000 clients in 6 workers connected and
 * identified faster than in 7 (docs/performance.md, the c100k section).
 */
const CLIENTS_PER_WORKER = 17_000;
const PORT_TEXT = 'a port from 1 to 65535 or a comma-separated list of distinct ones';

const CLIENT_COUNT = { type: 'integer', min: 0, max: MAX_CLIENTS } as const;
const DURATION = { type: 'integer', min: 0, max: MAX_TIMER_MS } as const;

/** Every option of the simulator, by name. */
export const SIMULATE_OPTIONS = {
  host: {
    ...LISTEN_OPTIONS.host,
    describe: 'Host of the server under test',
  },
  eventPort: {
    ...LISTEN_OPTIONS.eventPort,
    min: 1,
    describe: 'Port the event source connects to',
  },
  clientPort: {
    // Text: one port or a list, read by `portList()`.
    type: 'string',
    default: String(LISTEN_OPTIONS.clientPort.default),
    describe: 'Port the user clients connect to; a comma-separated list spreads them round-robin',
  },
  totalEvents: {
    type: 'integer',
    min: 0,
    max: 1e15,
    default: 10_000_000,
    describe: 'Events to stream (after the warm-up broadcasts)',
  },
  concurrencyLevel: {
    ...CLIENT_COUNT,
    min: 1,
    default: 100,
    describe: 'User clients connected during the run, each with a distinct random user id',
  },
  numberOfUsers: {
    type: 'integer',
    // At least `concurrencyLevel`: every client needs a user of its own.
    min: 1,
    max: MAX_USERS,
    default: undefined,
    defaultDescription: `concurrencyLevel x ${USERS_PER_CLIENT}`,
    describe: 'Users 1..numberOfUsers that events pick their from/to users from',
  },
  randomSeed: {
    type: 'integer',
    default: 666,
    describe: 'Seed of every random choice: the same seed gives the same events',
  },
  timeout: {
    ...DURATION,
    min: 1,
    default: 20_000,
    describe: 'Milliseconds a client may wait for its next expected notification',
  },
  maxEventSourceBatchSize: {
    type: 'integer',
    min: 1,
    max: MAX_BATCH_SIZE,
    default: 100,
    describe: 'Events are sent in batches of random size 1..max, shuffled within each batch',
  },
  logInterval: {
    ...DURATION,
    default: 1_000,
    describe: 'Milliseconds between progress reports; 0 turns them off',
  },
  eventTerminator: {
    type: 'choice',
    choices: ['lf', 'crlf'],
    default: 'lf',
    describe: 'Line terminator of the events sent: lf or crlf',
  },
  idTerminator: {
    type: 'choice',
    choices: ['lf', 'crlf'],
    default: 'lf',
    describe: 'Line terminator of the user id each client sends: lf or crlf',
  },
  delimiter: {
    ...CORE_OPTIONS.delimiter,
    describe: "Byte between the fields of the events sent: the server's --delimiter",
  },
  eventMix: {
    // Text, read by `parseEventMix()`.
    type: 'string',
    default: 'F:30,U:10,B:5,P:25,S:30',
    describe: 'Weights of the event types F, U, B, P and S, as TYPE:WEIGHT pairs',
  },
  linger: {
    ...DURATION,
    default: 250,
    describe:
      'Milliseconds clients keep listening after their last expected line, to catch extra lines',
  },
  rate: {
    type: 'integer',
    min: 0,
    max: 1e9,
    default: 0,
    describe:
      'Events per second the source is paced at (token bucket); 0 sends as fast as possible',
  },
  latencyWarmup: {
    ...DURATION,
    default: 0,
    describe: 'Milliseconds at the start of the stream left out of the latency (still verified)',
  },
  stalledClients: {
    ...CLIENT_COUNT,
    default: 0,
    describe:
      'Extra clients that identify as users the events pick from and never read (not verified)',
  },
  waitForPorts: {
    ...DURATION,
    default: 0,
    describe: 'Milliseconds to retry a port that refuses (a server still starting); 0: no retry',
  },
  reconnectEvery: {
    type: 'integer',
    min: 0,
    max: MAX_RECONNECT_EVERY,
    default: 0,
    describe:
      'Clients drop and resume (USERID|LASTSEQ|EPOCH) about every N notifications; 0: never',
  },
  reconnectPause: {
    ...DURATION,
    default: 50,
    describe: 'Longest pause in ms before a dropped client connects again (random 0..max)',
  },
  jwtSecretFile: {
    type: 'string',
    default: undefined,
    describe:
      'File holding the HS256 secret to sign one token per client with (a server with --client-auth jwt)',
  },
  jwtPrivateKey: {
    type: 'string',
    default: undefined,
    describe:
      'PEM file of the private key to sign one token per client with: RS256, ES256 or EdDSA',
  },
  jwtAudience: {
    type: 'string',
    default: undefined,
    describe: 'The aud claim of the tokens the clients present',
  },
  jwtIssuer: {
    type: 'string',
    default: undefined,
    describe: 'The iss claim of the tokens the clients present',
  },
  tlsCa: {
    type: 'string',
    default: undefined,
    describe: "PEM CA file of the server's certificate: every connection uses TLS",
  },
  eventTlsCert: {
    type: 'string',
    default: undefined,
    describe: "PEM certificate file the event source presents (a server's --event-tls-ca)",
  },
  eventTlsKey: {
    type: 'string',
    default: undefined,
    describe: 'PEM private key file of --event-tls-cert',
  },
  workers: {
    type: 'integer',
    min: 0,
    max: MAX_WORKERS,
    default: 0,
    describe: `Processes the clients are spread over (each has its own descriptor limit); 0: one per ${CLIENTS_PER_WORKER} clients`,
  },
  sourceAddresses: {
    // Text: a comma-separated list, read by `addressList()`.
    type: 'string',
    default: undefined,
    describe:
      'Local addresses the clients connect from, round-robin (e.g. 127.0.0.2,127.0.0.3): each has its own ephemeral ports',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

type SimulateOptionName = keyof typeof SIMULATE_OPTIONS;

/** The original verification program's names of the two ports. */
const ALIASES = {
  eventListenerPort: 'eventPort',
  clientListenerPort: 'clientPort',
} as const satisfies Readonly<Record<string, SimulateOptionName>>;

/** What `simulate()` accepts; every field is optional and defaults as `SIMULATE_OPTIONS` says. */
export interface SimulateOptions extends Omit<GivenOf<typeof SIMULATE_OPTIONS>, 'clientPort'> {
  /** One port, or several (an array or a comma-separated list) the clients are spread over. */
  readonly clientPort?: number | string | readonly number[];
  /** `eventPort` by the original verification program's name. */
  readonly eventListenerPort?: number;
  /** `clientPort` by the original verification program's name. */
  readonly clientListenerPort?: number | string | readonly number[];
  /** Called every `logInterval` ms while events stream. */
  readonly onProgress?: (progress: SimulationProgress) => void;
}

/** The five event types in wire order, as the mix weights index them. */
export const EVENT_TYPES = ['F', 'U', 'B', 'P', 'S'] as const;
export type EventTypeLetter = (typeof EVENT_TYPES)[number];

/** Every option with its value decided and checked. */
export interface ResolvedSimulateOptions
  extends Omit<
    SettingsOf<typeof SIMULATE_OPTIONS>,
    | 'clientPort'
    | 'eventMix'
    | 'numberOfUsers'
    | 'tlsCa'
    | 'eventTlsCert'
    | 'eventTlsKey'
    | 'workers'
    | 'sourceAddresses'
  > {
  /**
   * The ports the clients connect to, distinct, at least one: client `i` (verified ones
   * first, then the stalled ones) connects to `clientPorts[i % length]`.
   */
  readonly clientPorts: readonly number[];
  /** Users the events pick from: given, or derived from `concurrencyLevel`. */
  readonly numberOfUsers: number;
  /** Weight of each type, indexed like `EVENT_TYPES`. */
  readonly eventWeights: readonly number[];
  readonly onProgress: ((progress: SimulationProgress) => void) | undefined;
  /** TLS for the connections, read from the files of `tlsCa` and the event certificate. */
  readonly tls: SimulatorTls | undefined;
  /** Processes the clients are spread over: given, or one per CLIENTS_PER_WORKER clients. */
  readonly workers: number;
  /** Local addresses client `i` connects from (`sourceAddresses[i % length]`); may be empty. */
  readonly sourceAddresses: readonly string[];
}

/** The value of a terminator on the wire. */
export function terminatorBytes(terminator: LineTerminator): string {
  return terminator === 'crlf' ? '\r\n' : '\n';
}

/**
 * Decides every option: `given[name]` (or its alias) when set, else the default. `labelOf`
 * names an option in messages as the caller gave it (the command line: its flag or
 * variable); the name by default. Throws `MazeError` (`ERR_INVALID_OPTION`) on the first
 * invalid value.
 */
export function resolveSimulateOptions(
  given: Readonly<Record<string, unknown>> = {},
  labelOf: (name: string) => string = (name) => name,
): ResolvedSimulateOptions {
  const values: Record<string, unknown> = { ...given };
  const labels: Record<string, string> = {};
  for (const [alias, name] of Object.entries(ALIASES)) {
    if (values[alias] === undefined) continue;
    if (values[name] !== undefined) {
      throw new MazeError(
        ErrorCode.InvalidOption,
        `${labelOf(name)} and ${labelOf(alias)} are the same option: give one`,
      );
    }
    values[name] = values[alias];
    labels[name] = labelOf(alias);
  }
  const label = (name: SimulateOptionName): string => labels[name] ?? labelOf(name);
  const pick = <Name extends SimulateOptionName>(
    name: Name,
    row: OptionRow = SIMULATE_OPTIONS[name],
  ): ValueOf<(typeof SIMULATE_OPTIONS)[Name]> => {
    const value = values[name] ?? row.default;
    return (
      typeof value === 'string' && row.type !== 'string'
        ? parseOptionText(row, value, label(name))
        : checkOptionValue(row, value, label(name))
    ) as ValueOf<(typeof SIMULATE_OPTIONS)[Name]>;
  };

  const optional = (name: 'jwtSecretFile' | 'jwtPrivateKey' | 'jwtAudience' | 'jwtIssuer') =>
    values[name] === undefined ? undefined : pick(name);
  if (values.jwtSecretFile !== undefined && values.jwtPrivateKey !== undefined) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `${label('jwtSecretFile')} and ${label('jwtPrivateKey')} are two ways to sign the tokens: give one`,
    );
  }
  const concurrencyLevel = pick('concurrencyLevel');
  const numberOfUsers =
    values.numberOfUsers === undefined
      ? Math.min(concurrencyLevel * USERS_PER_CLIENT, MAX_USERS)
      : pick('numberOfUsers', { ...SIMULATE_OPTIONS.numberOfUsers, min: concurrencyLevel });
  const onProgress = values.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new MazeError(ErrorCode.InvalidOption, 'onProgress must be a function');
  }
  const clientPort = values.clientPort ?? SIMULATE_OPTIONS.clientPort.default;
  const optionalText = (name: 'tlsCa' | 'eventTlsCert' | 'eventTlsKey'): string | undefined =>
    values[name] === undefined ? undefined : pick(name);
  const stalledClients = pick('stalledClients');
  // No more workers than clients: each has some.
  const workers = Math.min(
    concurrencyLevel + stalledClients,
    pick('workers') ||
      Math.max(1, Math.ceil((concurrencyLevel + stalledClients) / CLIENTS_PER_WORKER)),
  );

  return {
    host: pick('host').trim(),
    eventPort: pick('eventPort'),
    clientPorts: portList(clientPort, concurrencyLevel, label('clientPort'), labelOf),
    totalEvents: pick('totalEvents'),
    concurrencyLevel,
    numberOfUsers,
    randomSeed: pick('randomSeed'),
    timeout: pick('timeout'),
    maxEventSourceBatchSize: pick('maxEventSourceBatchSize'),
    logInterval: pick('logInterval'),
    eventTerminator: pick('eventTerminator'),
    idTerminator: pick('idTerminator'),
    delimiter: pick('delimiter'),
    eventWeights: parseEventMix(pick('eventMix'), label('eventMix')),
    linger: pick('linger'),
    rate: pick('rate'),
    latencyWarmup: pick('latencyWarmup'),
    stalledClients,
    waitForPorts: pick('waitForPorts'),
    reconnectEvery: pick('reconnectEvery'),
    reconnectPause: pick('reconnectPause'),
    jwtSecretFile: optional('jwtSecretFile'),
    jwtPrivateKey: optional('jwtPrivateKey'),
    jwtAudience: optional('jwtAudience'),
    jwtIssuer: optional('jwtIssuer'),
    onProgress: onProgress as ResolvedSimulateOptions['onProgress'],
    tls: readSimulatorTls(
      {
        tlsCa: optionalText('tlsCa'),
        eventTlsCert: optionalText('eventTlsCert'),
        eventTlsKey: optionalText('eventTlsKey'),
      },
      (name) => label(name as SimulateOptionName),
    ),
    workers,
    sourceAddresses:
      values.sourceAddresses === undefined
        ? []
        : addressList(pick('sourceAddresses'), label('sourceAddresses')),
  };
}

/** Reads `sourceAddresses`: IP addresses, comma-separated, distinct. */
function addressList(raw: string, label: string): string[] {
  const addresses = raw.split(',').map((item) => item.trim());
  if (
    !addresses.every((address) => isIP(address) !== 0) ||
    new Set(addresses).size !== addresses.length
  ) {
    throw invalid(label, 'a comma-separated list of distinct IP addresses', raw);
  }
  return addresses;
}

// A number as given, or the value of a string of decimal digits (spaces around allowed);
// NaN for anything else.
function integerOf(raw: unknown): number {
  if (typeof raw === 'number') return raw;
  return typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
}

/**
 * Reads `clientPort`: one port (a number or its digits), a comma-separated list of them, or
 * an array (from a program, or a flag given twice). Every port is 1..65535, none repeats, no
 * item is empty, and there are at most `clients` of them, so that each port gets a client.
 */
function portList(
  raw: unknown,
  clients: number,
  label: string,
  labelOf: (name: string) => string,
): number[] {
  const items: unknown[] =
    typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : [raw];
  const ports = items.map(integerOf);
  const shown = Array.isArray(raw) ? raw.join(',') : raw;
  const valid = (port: number): boolean =>
    Number.isSafeInteger(port) && port >= 1 && port <= 65_535;
  if (ports.length === 0 || !ports.every(valid) || new Set(ports).size !== ports.length) {
    throw invalid(label, PORT_TEXT, shown);
  }
  if (ports.length > clients) {
    throw invalid(
      label,
      `at most as many ports as ${labelOf('concurrencyLevel')} (${clients}), so that every port gets a client`,
      shown,
    );
  }
  return ports;
}

/**
 * Parses `F:30,U:10,B:5,P:25,S:30` into weights indexed like `EVENT_TYPES`. A type left
 * out weighs 0; at least one weight must be positive.
 */
export function parseEventMix(mix: string, label = 'eventMix'): number[] {
  const weights = [0, 0, 0, 0, 0];
  const seen = new Set<string>();
  for (const entry of mix.split(',')) {
    const match = /^\s*([FUBPS])\s*:\s*(\d{1,9})\s*$/.exec(entry);
    const type = match?.[1];
    if (match === null || type === undefined || seen.has(type)) {
      throw invalid(label, 'distinct TYPE:WEIGHT pairs, TYPE one of F U B P S', mix);
    }
    seen.add(type);
    weights[EVENT_TYPES.indexOf(type as EventTypeLetter)] = Number(match[2]);
  }
  if (weights.every((weight) => weight === 0)) {
    throw invalid(label, 'at least one positive weight', mix);
  }
  return weights;
}

function invalid(label: string, expected: string, got: unknown): MazeError {
  return new MazeError(
    ErrorCode.InvalidOption,
    `${label} must be ${expected}, got ${typeof got === 'number' ? got : JSON.stringify(got)}`,
  );
}

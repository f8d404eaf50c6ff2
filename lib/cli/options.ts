/**
 * The command line's options: its own rows (output, monitoring, the config file), composed
 * with every layer's into the option list of each command. Flags, `FOLLOWER_MAZE_*`
 * environment variables, the `--config` file, `--help` and the docs' option table all
 * derive from `SERVER_OPTIONS` and `SIMULATE_COMMAND_OPTIONS`.
 *
 * Invariants:
 * - Names are camelCase; the flag is the kebab-case name, the environment variable
 *   `FOLLOWER_MAZE_` and the SNAKE_CASE name, the config file key the name itself.
 * - One name is one thing in every command: `eventPort` is where events go, for `serve` as
 *   for `simulate`, so one environment configures both.
 * - A server command's settings type derives from the options it takes (`CommandSettings`).
 */
import { ADAPTER_OPTIONS } from '../adapter/options.js';
import { NATS_OPTIONS, SNAPSHOT_OPTIONS } from '../cluster/options.js';
import { CORE_OPTIONS } from '../core/options.js';
import { MONITOR_OPTIONS } from '../monitor/options.js';
import { LISTEN_OPTIONS, TLS_OPTIONS } from '../net/options.js';
import { flagOf, MAX_TIMER_MS, type OptionRow, type SettingOf } from '../options/option.js';
import { SIMULATE_OPTIONS } from '../simulate/options.js';
import { CLIENT_AUTH_OPTIONS } from './client-auth-options.js';

export { flagOf };

/** Prefix of every environment variable: `--event-port` is `FOLLOWER_MAZE_EVENT_PORT`. */
export const ENV_PREFIX = 'FOLLOWER_MAZE';

/** The server commands: `serve` (one process), and cluster mode's `ingest` and `gateway`. */
export type ServerCommand = 'serve' | 'ingest' | 'gateway';
/** Every command. */
export type Command = ServerCommand | 'simulate';

/** Levels of the log, most severe first (`--log-level`). */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
/** Formats of the log (`--log-format`): lines for people, or one JSON object per line. */
export const LOG_FORMATS = ['text', 'json'] as const;

/** The command line's own rows, by option name. */
const CLI_OPTIONS = {
  statsInterval: {
    type: 'integer',
    min: 0,
    max: MAX_TIMER_MS,
    default: 0,
    describe: 'Milliseconds between stats lines on stdout (0: none)',
  },
  logLevel: {
    type: 'choice',
    choices: LOG_LEVELS,
    // Problems are warnings, lifecycle is info, each client's connect and disconnect is debug.
    default: 'info',
    describe:
      'Least severe log records written to stderr: error, warn, info or debug (each client)',
  },
  logFormat: {
    type: 'choice',
    choices: LOG_FORMATS,
    default: 'text',
    describe: 'Log records as text lines or as one JSON object per line',
  },
  ...MONITOR_OPTIONS,
  config: {
    type: 'string',
    default: undefined,
    describe: 'JSON file of options by their camelCase names; flags and environment win over it',
  },
  json: {
    type: 'boolean',
    default: false,
    describe: 'Print only a one-line JSON summary on stdout',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

/** One option of one or more commands: a layer's row, and where the command line shows it. */
export type CommandOption<
  Name extends string = string,
  Row extends OptionRow = OptionRow,
  Commands extends readonly Command[] = readonly Command[],
> = Row & {
  /** camelCase: the library option and the config file key. */
  readonly name: Name;
  /** The commands that take it. */
  readonly commands: Commands;
  /** Its `--help` heading. */
  readonly group: string;
  /**
   * Other names it is also read by: flags (yargs takes each in camelCase and kebab-case
   * alike) and bare environment variables, those of the original verification program.
   */
  readonly aliases?: readonly string[];
};

const SERVER_GROUP = 'Server:';
const OUTPUT_GROUP = 'Output and configuration:';
const CLUSTER_GROUP = 'Cluster mode (NATS JetStream):';
const CLIENT_AUTH_GROUP = 'Client authentication:';
const TLS_GROUP = 'TLS:';
const SIMULATE_GROUP = 'Options:';

function take<
  const Name extends string,
  Row extends OptionRow,
  const Commands extends readonly Command[],
>(
  name: Name,
  row: Row,
  commands: Commands,
  group: string,
  aliases?: readonly string[],
): CommandOption<Name, Row, Commands> {
  return { ...row, name, commands, group, ...(aliases !== undefined && { aliases }) };
}

const EVERY = ['serve', 'ingest', 'gateway'] as const;
/** The event source side: framing, sequencing. */
const EVENT_SIDE = ['serve', 'ingest'] as const;
/** The client side: ids, flow control, the follow graph that routing reads. */
const CLIENT_SIDE = ['serve', 'gateway'] as const;
/** What writes the event log and its snapshots: the ingest, and `serve --nats-url`. */
const LOG_WRITERS = ['serve', 'ingest'] as const;
const SERVE_ONLY = ['serve'] as const;

const nats = <const Name extends keyof typeof NATS_OPTIONS>(name: Name) =>
  take(name, NATS_OPTIONS[name], EVERY, CLUSTER_GROUP);

/** Every option of the server commands, in help order. */
export const SERVER_OPTIONS = [
  take('eventPort', LISTEN_OPTIONS.eventPort, EVENT_SIDE, SERVER_GROUP),
  take('clientPort', LISTEN_OPTIONS.clientPort, CLIENT_SIDE, SERVER_GROUP),
  take('host', LISTEN_OPTIONS.host, EVERY, SERVER_GROUP),
  take('maxLineLength', ADAPTER_OPTIONS.maxLineLength, EVENT_SIDE, SERVER_GROUP),
  take('maxIdLineLength', ADAPTER_OPTIONS.maxIdLineLength, CLIENT_SIDE, SERVER_GROUP),
  take('identifyTimeout', ADAPTER_OPTIONS.identifyTimeout, CLIENT_SIDE, SERVER_GROUP),
  take('maxClients', ADAPTER_OPTIONS.maxClients, CLIENT_SIDE, SERVER_GROUP),
  take('clientBufferLimit', ADAPTER_OPTIONS.clientBufferLimit, CLIENT_SIDE, SERVER_GROUP),
  take('totalBufferLimit', ADAPTER_OPTIONS.totalBufferLimit, CLIENT_SIDE, SERVER_GROUP),
  take('slowClientTimeout', ADAPTER_OPTIONS.slowClientTimeout, CLIENT_SIDE, SERVER_GROUP),
  take('reorderCapacity', CORE_OPTIONS.reorderCapacity, EVENT_SIDE, SERVER_GROUP),
  take('reorderBytes', CORE_OPTIONS.reorderBytes, EVENT_SIDE, SERVER_GROUP),
  take('startSequence', CORE_OPTIONS.startSequence, EVENT_SIDE, SERVER_GROUP),
  take('maxFollowEdges', CORE_OPTIONS.maxFollowEdges, EVERY, SERVER_GROUP),
  take('resumeBytes', CORE_OPTIONS.resumeBytes, CLIENT_SIDE, SERVER_GROUP),
  take('delimiter', CORE_OPTIONS.delimiter, EVERY, SERVER_GROUP),
  take('resetOnDisconnect', ADAPTER_OPTIONS.resetOnDisconnect, SERVE_ONLY, SERVER_GROUP),
  take('sourceIdleTimeout', ADAPTER_OPTIONS.sourceIdleTimeout, EVENT_SIDE, SERVER_GROUP),
  take('shutdownTimeout', ADAPTER_OPTIONS.shutdownTimeout, EVERY, SERVER_GROUP),
  take('clientAuth', CLIENT_AUTH_OPTIONS.clientAuth, CLIENT_SIDE, CLIENT_AUTH_GROUP),
  take('jwtSecretFile', CLIENT_AUTH_OPTIONS.jwtSecretFile, CLIENT_SIDE, CLIENT_AUTH_GROUP),
  take('jwtPublicKey', CLIENT_AUTH_OPTIONS.jwtPublicKey, CLIENT_SIDE, CLIENT_AUTH_GROUP),
  take('jwtAudience', CLIENT_AUTH_OPTIONS.jwtAudience, CLIENT_SIDE, CLIENT_AUTH_GROUP),
  take('jwtIssuer', CLIENT_AUTH_OPTIONS.jwtIssuer, CLIENT_SIDE, CLIENT_AUTH_GROUP),
  take('statsInterval', CLI_OPTIONS.statsInterval, EVERY, OUTPUT_GROUP),
  take('logLevel', CLI_OPTIONS.logLevel, EVERY, OUTPUT_GROUP),
  take('logFormat', CLI_OPTIONS.logFormat, EVERY, OUTPUT_GROUP),
  take('monitorPort', CLI_OPTIONS.monitorPort, EVERY, OUTPUT_GROUP),
  take('monitorHost', CLI_OPTIONS.monitorHost, EVERY, OUTPUT_GROUP),
  take('tlsCert', TLS_OPTIONS.tlsCert, EVERY, TLS_GROUP),
  take('tlsKey', TLS_OPTIONS.tlsKey, EVERY, TLS_GROUP),
  take('eventTlsCa', TLS_OPTIONS.eventTlsCa, EVENT_SIDE, TLS_GROUP),
  take('clientTlsCa', TLS_OPTIONS.clientTlsCa, CLIENT_SIDE, TLS_GROUP),
  take('monitorTls', TLS_OPTIONS.monitorTls, EVERY, TLS_GROUP),
  take('monitorTokenFile', CLI_OPTIONS.monitorTokenFile, EVERY, OUTPUT_GROUP),
  nats('natsUrl'),
  nats('natsCreds'),
  nats('natsUser'),
  nats('natsPasswordFile'),
  nats('natsTokenFile'),
  nats('natsTlsCa'),
  nats('natsTlsCert'),
  nats('natsTlsKey'),
  nats('logKeyFile'),
  nats('natsStream'),
  nats('natsSubject'),
  nats('natsStorage'),
  nats('natsReplicas'),
  take('natsMaxAge', NATS_OPTIONS.natsMaxAge, LOG_WRITERS, CLUSTER_GROUP),
  take('natsMaxBytes', NATS_OPTIONS.natsMaxBytes, LOG_WRITERS, CLUSTER_GROUP),
  take('snapshotEvents', SNAPSHOT_OPTIONS.snapshotEvents, LOG_WRITERS, CLUSTER_GROUP),
  take('snapshotInterval', SNAPSHOT_OPTIONS.snapshotInterval, LOG_WRITERS, CLUSTER_GROUP),
  take('config', CLI_OPTIONS.config, EVERY, OUTPUT_GROUP),
] as const;

const SIMULATE = ['simulate'] as const;
const sim = <const Name extends keyof typeof SIMULATE_OPTIONS>(
  name: Name,
  ...aliases: readonly string[]
) =>
  take(
    name,
    SIMULATE_OPTIONS[name],
    SIMULATE,
    SIMULATE_GROUP,
    aliases.length === 0 ? undefined : aliases,
  );

/**
 * Every option of `simulate`, in help order. The aliases are the original verification
 * program's names: read as flags (`--totalEvents`) and as bare environment variables.
 */
export const SIMULATE_COMMAND_OPTIONS = [
  sim('host'),
  sim('eventPort', 'eventListenerPort'),
  sim('clientPort', 'clientListenerPort'),
  sim('totalEvents', 'totalEvents'),
  sim('concurrencyLevel', 'concurrencyLevel'),
  sim('numberOfUsers', 'numberOfUsers'),
  sim('randomSeed', 'randomSeed'),
  sim('timeout', 'timeout'),
  sim('maxEventSourceBatchSize', 'maxEventSourceBatchSize'),
  sim('logInterval', 'logInterval'),
  sim('eventTerminator'),
  sim('idTerminator'),
  sim('delimiter'),
  sim('eventMix'),
  sim('linger'),
  sim('rate'),
  sim('latencyWarmup'),
  sim('stalledClients'),
  sim('waitForPorts'),
  sim('reconnectEvery'),
  sim('reconnectPause'),
  sim('jwtSecretFile'),
  sim('jwtPrivateKey'),
  sim('jwtAudience'),
  sim('jwtIssuer'),
  sim('tlsCa'),
  sim('eventTlsCert'),
  sim('eventTlsKey'),
  sim('workers'),
  sim('sourceAddresses'),
  take('json', CLI_OPTIONS.json, SIMULATE, SIMULATE_GROUP),
] as const;

/** Every option of every command. */
export const COMMAND_OPTIONS: readonly CommandOption[] = [
  ...SERVER_OPTIONS,
  ...SIMULATE_COMMAND_OPTIONS,
];

/** The options `command` takes, in help order. */
export function optionsOf(command: Command): readonly CommandOption[] {
  return COMMAND_OPTIONS.filter((option) => option.commands.includes(command));
}

/**
 * Every flag of `option`, its own first, then its aliases' (the original verifier's names:
 * `eventListenerPort` → `event-listener-port`), without repeats.
 */
export function flagsOf(option: Pick<CommandOption, 'name' | 'aliases'>): string[] {
  const names = [option.name, ...(option.aliases ?? [])];
  return [...new Set(names.map((name) => flagOf({ name })))];
}

/** `eventPort` → `FOLLOWER_MAZE_EVENT_PORT`. */
export function envOf(option: { readonly name: string }): string {
  return `${ENV_PREFIX}_${flagOf(option).toUpperCase().replaceAll('-', '_')}`;
}

type ServerOption = (typeof SERVER_OPTIONS)[number];

/** The server options `command` takes. */
type TakenBy<Option, Taker extends ServerCommand> = Option extends {
  readonly commands: readonly (infer Takers)[];
}
  ? Taker extends Takers
    ? Option
    : never
  : never;

/** Every setting `command` takes, decided: derived from the rows. */
export type CommandSettings<Taker extends ServerCommand> = {
  readonly [Option in TakenBy<ServerOption, Taker> as Option['name']]: SettingOf<Option>;
};

/** The server options every server command takes. */
type TakenByEvery<Option> = Option extends { readonly commands: readonly (infer Takers)[] }
  ? ServerCommand extends Takers
    ? Option
    : never
  : never;

/** The settings every server command takes, decided. */
export type CommonSettings = {
  readonly [Option in TakenByEvery<ServerOption> as Option['name']]: SettingOf<Option>;
};

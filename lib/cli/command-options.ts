/**
 * The settings of the server commands (`serve`, `ingest`, `gateway`), derived from the option
 * table (`SERVER_OPTIONS`): each command's yargs flags and help, and the resolution of every
 * setting it takes from its flag, its `FOLLOWER_MAZE_*` environment variable, the `--config`
 * file or its default, in that order of precedence.
 *
 * Invariants:
 * - A command has flags for the options it takes (`serverOptionsFor()`) and no others. The
 *   environment and the config file may hold any setting of any command, so one file or one
 *   environment can configure a whole cluster; a command uses the ones it takes.
 * - Nothing is ignored silently: an empty value, a value given twice, a misspelled
 *   environment variable or config key, a boolean that is not one of the usual spellings,
 *   and a config file that is not a JSON object all stop startup with one line that names
 *   the setting and what it accepts (and, for a misspelling, the closest known name).
 * - Flags and environment variables are text, parsed by `parseOptionText()`; config values
 *   are JSON, checked by `checkOptionValue()`: the same ranges as the library's.
 */
import { readFileSync } from 'node:fs';
import type { Options } from 'yargs';
import { ErrorCode, MazeError } from '../core/errors.js';
import {
  checkOptionValue,
  defaultText,
  ENV_PREFIX,
  envOf,
  flagOf,
  type OptionLayer,
  type OptionSpec,
  type OptionValue,
  parseOptionText,
  SERVER_OPTIONS,
  type ServerCommand,
  serverOption,
  serverOptionsFor,
  serverOptionsOf,
} from '../core/option-table.js';
import type { LogFormat, LogLevel } from './logger.js';
import { closest } from './suggest.js';

/** The settings every server command takes, every one decided. */
export interface CommonArgs {
  readonly host: string;
  readonly shutdownTimeout: number;
  readonly statsInterval: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** The monitoring port; `undefined`: no monitoring. */
  readonly monitorPort: number | undefined;
  readonly monitorHost: string;
  /** The config file read, if any. */
  readonly config: string | undefined;
  /**
   * Settings the environment or the config file give that this command does not take (they
   * are another command's), each as `name (commands)`: the banner names them.
   */
  readonly unusedSettings: readonly string[];
}

/**
 * `FOLLOWER_MAZE_REQUIRE_*` variables are the test suite's, not settings of the server
 * (`.ci/run` sets them so that a missing tool fails the tests instead of skipping them).
 */
const TEST_SUITE_PREFIX = `${ENV_PREFIX}_REQUIRE_`;

/** The `--help` heading of each layer's options. */
const HELP_GROUPS: Readonly<Record<OptionLayer, string>> = {
  listen: 'Server:',
  adapter: 'Server:',
  core: 'Server:',
  cli: 'Output and configuration:',
  cluster: 'Cluster mode (NATS JetStream):',
  snapshots: 'Cluster mode (NATS JetStream):',
};

/** The options of `command` as yargs options: text in, parsed by `resolveCommandArgs()`. */
export function commandYargsOptions(command: ServerCommand): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const spec of serverOptionsFor(command)) {
    options[flagOf(spec)] = {
      type: 'string',
      describe: spec.describe,
      defaultDescription: defaultText(spec),
      // A boolean flag alone means true; every other flag needs its value.
      requiresArg: spec.type !== 'boolean',
      group: HELP_GROUPS[spec.layer],
    };
  }
  return options;
}

/** Where settings come from besides the command line; the process's by default. */
export interface SettingSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): string;
}

const processSources: SettingSources = {
  env: process.env,
  readFile: (path) => readFileSync(path, 'utf8'),
};

/**
 * Decides every setting `command` takes from the parsed command line (`argv`, camelCase keys
 * as yargs gives them), the environment and the config file, by option name. Throws
 * `MazeError(ERR_INVALID_OPTION)` with a one-line message on the first problem.
 */
export function resolveCommandArgs(
  command: ServerCommand,
  argv: Readonly<Record<string, unknown>>,
  sources: SettingSources = processSources,
): Readonly<Record<string, unknown>> {
  checkEnvironmentNames(sources.env);
  const fromFlags = (spec: OptionSpec): OptionValue | undefined => {
    const value = argv[spec.name];
    if (value === undefined) return undefined;
    const flag = `--${flagOf(spec)}`;
    if (Array.isArray(value)) throw invalid(`${flag} is given more than once`);
    if (spec.type === 'boolean' && value === '') return true;
    return parseOptionText(spec, String(value), flag);
  };
  const fromEnv = (spec: OptionSpec): OptionValue | undefined => {
    const text = sources.env[envOf(spec)];
    return text === undefined ? undefined : parseOptionText(spec, text, envOf(spec));
  };
  const configSpec = serverOption('config');
  const configPath = (fromFlags(configSpec) ?? fromEnv(configSpec)) as string | undefined;
  const fromConfig = configPath === undefined ? {} : readConfig(configPath, sources);

  const args: Record<string, unknown> = {};
  const unusedSettings: string[] = [];
  for (const spec of SERVER_OPTIONS as readonly OptionSpec[]) {
    if (spec.commands.includes(command)) {
      args[spec.name] = fromFlags(spec) ?? fromEnv(spec) ?? fromConfig[spec.name] ?? spec.default;
    } else if (fromEnv(spec) !== undefined || fromConfig[spec.name] !== undefined) {
      // Checked all the same: a shared environment or file is wrong for every command.
      unusedSettings.push(`${spec.name} (${spec.commands.join(', ')})`);
    }
  }
  args.unusedSettings = unusedSettings;
  return args;
}

/**
 * The library options `args` stand for: the settings of `args` that are not the command
 * line's own (layer `cli`) nor the connection to NATS (layer `cluster`).
 */
export function libraryOptionsOf(args: object): Record<string, unknown> {
  const names = serverOptionsOf('listen', 'adapter', 'core').map((spec) => spec.name);
  return settingsNamed(args, names);
}

/** The settings of `args` named in `names` that have a value. */
export function settingsNamed(args: object, names: readonly string[]): Record<string, unknown> {
  const values = args as Readonly<Record<string, unknown>>;
  const settings: Record<string, unknown> = {};
  for (const name of names) {
    if (values[name] !== undefined) settings[name] = values[name];
  }
  return settings;
}

// A misspelled variable would otherwise leave its setting at the default without a word.
function checkEnvironmentNames(env: SettingSources['env']): void {
  const prefix = `${ENV_PREFIX}_`;
  const known = SERVER_OPTIONS.map(envOf);
  for (const name of Object.keys(env)) {
    if (!name.startsWith(prefix) || known.includes(name) || name.startsWith(TEST_SUITE_PREFIX)) {
      continue;
    }
    // Compared without the prefix they all share, so a short name gets no far-fetched match.
    const nearest = closest(
      name.slice(prefix.length),
      known.map((variable) => variable.slice(prefix.length)),
    );
    const suggestion = nearest === undefined ? undefined : `${prefix}${nearest}`;
    throw invalid(
      `${name} is set in the environment but is not a follower-maze setting${
        suggestion === undefined ? '' : ` (did you mean ${suggestion}?)`
      }: unset it or correct its name`,
    );
  }
}

function readConfig(path: string, sources: SettingSources): Record<string, OptionValue> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(sources.readFile(path));
  } catch (error) {
    throw invalid(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid(`the config file ${path} must hold a JSON object of settings`);
  }
  const settings = SERVER_OPTIONS.filter((spec) => spec.name !== 'config');
  const names = settings.map((spec) => spec.name as string);
  const values: Record<string, OptionValue> = {};
  for (const [key, value] of Object.entries(parsed)) {
    const spec = settings.find((candidate) => candidate.name === key);
    if (spec === undefined) {
      const suggestion = closest(key, names);
      throw invalid(
        `${path}: "${key}" is not a setting${
          suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`
        }; settings use the camelCase names of the flags`,
      );
    }
    values[key] = checkOptionValue(spec, value, `${path}: ${key}`);
  }
  return values;
}

function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

/**
 * The settings of every command, derived from the composed option lists
 * (`SERVER_OPTIONS`, `SIMULATE_COMMAND_OPTIONS`): each command's yargs flags and help, and
 * the resolution of every setting it takes from its flag, its `FOLLOWER_MAZE_*` environment
 * variable, the `--config` file (server commands) or its default, in that order of
 * precedence.
 *
 * Invariants:
 * - A command has flags for the options it takes (`optionsOf()`) and no others. The config
 *   file may hold any server command's settings and the environment any command's, so one
 *   file or one environment can configure a whole cluster; a command uses the ones it takes
 *   and checks the others (a name several commands share is right if one of them accepts
 *   the value).
 * - Nothing is ignored silently: an empty value, a value given twice, a misspelled
 *   environment variable or config key, a boolean that is not one of the usual spellings,
 *   a config file that is not a JSON object, and a cluster setting without `--nats-url` all
 *   stop startup with one line that names the setting and what it accepts (and, for a
 *   misspelling, the closest known name).
 * - Flags and environment variables are text, parsed by `parseOptionText()`; config values
 *   are JSON, checked by `checkOptionValue()`: the same ranges as the library's.
 * - The original verification program's names (`totalEvents`, `eventListenerPort`) are
 *   read too, as flags and as bare environment variables, below the `FOLLOWER_MAZE_*` ones;
 *   as in that program, an empty one counts as unset.
 */
import { readFileSync } from 'node:fs';
import type { Options } from 'yargs';
import { NATS_OPTIONS, SNAPSHOT_OPTIONS } from '../cluster/options.js';
import { ErrorCode, MazeError } from '../errors.js';
import {
  checkOptionValue,
  defaultText,
  type OptionValue,
  parseOptionText,
} from '../options/option.js';
import { closest } from '../options/suggest.js';
import {
  COMMAND_OPTIONS,
  type Command,
  type CommandOption,
  type CommandSettings,
  type CommonSettings,
  ENV_PREFIX,
  envOf,
  flagOf,
  flagsOf,
  optionsOf,
  SERVER_OPTIONS,
  type ServerCommand,
} from './options.js';

/** What every server command has besides its options. */
export interface CommandExtras {
  /**
   * Settings the environment or the config file give that this command does not take (they
   * are another command's), each as `name (commands)`: the banner names them.
   */
  readonly unusedSettings: readonly string[];
}

/** The settings of a server command, every one decided. */
export type CommandArgs<Taker extends ServerCommand> = CommandSettings<Taker> & CommandExtras;

/** The settings every server command takes, every one decided. */
export type CommonArgs = CommonSettings & CommandExtras;

/**
 * `FOLLOWER_MAZE_REQUIRE_*` variables are the test suite's, not settings of the server
 * (`.ci/run` sets them so that a missing tool fails the tests instead of skipping them).
 */
const TEST_SUITE_PREFIX = `${ENV_PREFIX}_REQUIRE_`;

/** The help label of an option's type, as yargs writes its own. */
function typeLabel(option: CommandOption): string {
  switch (option.type) {
    case 'integer':
      return '[number]';
    case 'boolean':
      return '[boolean]';
    case 'choice':
      return `[choices: ${(option.choices ?? []).map((choice) => `"${choice}"`).join(', ')}]`;
    case 'string':
    case 'char':
      return '[string]';
  }
}

/**
 * The options of `command` as yargs options, untyped: every value reaches `resolve…()` as
 * the text typed (with `PARSER_CONFIGURATION`), since yargs' own number and boolean parsing
 * would turn `abc` into NaN and `maybe` into false. So the type and the default shown in
 * `--help` are written here.
 */
export function commandYargsOptions(command: Command): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const option of optionsOf(command)) {
    const [flag, ...aliases] = flagsOf(option) as [string, ...string[]];
    options[flag] = {
      describe: `${option.describe} ${typeLabel(option)} [default: ${defaultText(option)}]`,
      // A boolean flag alone means true; every other flag needs its value.
      requiresArg: option.type !== 'boolean',
      group: option.group,
      ...(aliases.length > 0 && { alias: aliases }),
    };
  }
  return options;
}

/** What a command parses its flags with: numbers stay text, as typed. */
export const PARSER_CONFIGURATION = { 'parse-numbers': false } as const;

/** Where settings come from besides the command line; the process's by default. */
export interface SettingSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): string;
  /**
   * The command line as typed: a flag with several spellings (`--event-port`,
   * `--eventListenerPort`) is named in messages as it was given. Without it, by its own.
   */
  readonly typed?: readonly string[];
}

/** The process's environment, files and command line. */
export const processSources: SettingSources = {
  env: process.env,
  readFile: (path) => readFileSync(path, 'utf8'),
  typed: process.argv.slice(2),
};

/** The settings given for a command (no defaults), and how each was named where it was found. */
export interface GivenSettings {
  readonly values: Readonly<Record<string, OptionValue>>;
  /** `--event-port`, `FOLLOWER_MAZE_EVENT_PORT`, `eventListenerPort`, `c.json: eventPort`. */
  readonly labels: Readonly<Record<string, string>>;
  readonly unusedSettings: readonly string[];
}

/**
 * Reads every setting `command` takes that is given: from the parsed command line (`argv`,
 * camelCase keys as yargs gives them), the environment and, when the command takes
 * `--config`, the config file. Throws `MazeError(ERR_INVALID_OPTION)` with a one-line
 * message on the first problem.
 */
export function readGivenSettings(
  command: Command,
  argv: Readonly<Record<string, unknown>>,
  sources: SettingSources = processSources,
): GivenSettings {
  checkEnvironmentNames(sources.env);
  const taken = optionsOf(command);
  const configOption = taken.find((option) => option.name === 'config');
  const configPath =
    configOption === undefined
      ? undefined
      : (fromFlag(configOption, argv, sources.typed) ?? fromEnv(configOption, sources.env))?.value;
  const fromConfig = configPath === undefined ? {} : readConfig(String(configPath), sources);

  const values: Record<string, OptionValue> = {};
  const labels: Record<string, string> = {};
  for (const option of taken) {
    const found =
      fromFlag(option, argv, sources.typed) ??
      fromEnv(option, sources.env) ??
      fromConfig[option.name] ??
      fromAlias(option, sources.env);
    if (found !== undefined) {
      values[option.name] = found.value;
      labels[option.name] = found.label;
    }
  }
  // Checked all the same: a shared environment or file is wrong for every command. A name
  // several commands take (`clientPort`: one port for a server, a list for `simulate`) is
  // right if any of them accepts its value.
  const takenNames = new Set(taken.map((option) => option.name));
  const unused = new Map<string, string[]>();
  const refusals = new Map<string, unknown>();
  for (const option of COMMAND_OPTIONS) {
    if (takenNames.has(option.name)) continue;
    let found: Found | undefined;
    try {
      found = fromEnv(option, sources.env) ?? fromConfig[option.name];
    } catch (error) {
      if (!refusals.has(option.name)) refusals.set(option.name, error);
      continue;
    }
    if (found === undefined) continue;
    unused.set(option.name, [...(unused.get(option.name) ?? []), ...option.commands]);
  }
  for (const [name, error] of refusals) {
    if (!unused.has(name)) throw error;
  }
  const unusedSettings = [...unused].map(([name, takers]) => `${name} (${takers.join(', ')})`);
  return { values, labels, unusedSettings };
}

/**
 * Decides every setting of the server command `command` (see `readGivenSettings()`), the
 * defaults filled in. A cluster setting without `natsUrl` is refused: without it no NATS
 * setting would be used.
 */
export function resolveCommandArgs<Taker extends ServerCommand>(
  command: Taker,
  argv: Readonly<Record<string, unknown>>,
  sources: SettingSources = processSources,
): CommandArgs<Taker> {
  const given = readGivenSettings(command, argv, sources);
  if (given.values.natsUrl === undefined) {
    const stray = Object.keys(given.values).find(
      (name) => name in NATS_OPTIONS || name in SNAPSHOT_OPTIONS,
    );
    if (stray !== undefined) {
      throw invalid(
        `${given.labels[stray]} needs --nats-url (${envOf({ name: 'natsUrl' })}): the cluster settings apply only to an event log on NATS`,
      );
    }
  }
  const args: Record<string, unknown> = { unusedSettings: given.unusedSettings };
  for (const option of optionsOf(command)) {
    args[option.name] = given.values[option.name] ?? option.default;
  }
  return args as CommandArgs<Taker>;
}

interface Found {
  readonly value: OptionValue;
  readonly label: string;
}

function fromFlag(
  option: CommandOption,
  argv: Readonly<Record<string, unknown>>,
  typed: readonly string[] = [],
): Found | undefined {
  // yargs sets every spelling of a flag given under any one of them.
  const names = [option.name, ...(option.aliases ?? [])].filter((key) => argv[key] !== undefined);
  const name = names[0];
  if (name === undefined) return undefined;
  const value = argv[name];
  const label = spellingTyped(names, typed) ?? `--${flagOf({ name })}`;
  if (Array.isArray(value)) throw invalid(`${label} is given more than once`);
  // A boolean flag alone is `true` to yargs.
  if (option.type === 'boolean' && value === true) return { value: true, label };
  return { value: parseOptionText(option, String(value), label), label };
}

/** Which of `names` the command line spelled, as it spelled it (`--eventListenerPort`). */
function spellingTyped(names: readonly string[], typed: readonly string[]): string | undefined {
  for (const arg of typed) {
    const flag = /^--([^=]+)/.exec(arg)?.[1];
    if (flag !== undefined && names.some((name) => flag === name || flag === flagOf({ name }))) {
      return `--${flag}`;
    }
  }
  return undefined;
}

function fromEnv(option: CommandOption, env: SettingSources['env']): Found | undefined {
  const label = envOf(option);
  const text = env[label];
  return text === undefined ? undefined : { value: parseOptionText(option, text, label), label };
}

// The original program's bare variables: an empty one is unset there, so here too.
function fromAlias(option: CommandOption, env: SettingSources['env']): Found | undefined {
  for (const label of option.aliases ?? []) {
    const text = env[label];
    if (text !== undefined && text.trim() !== '') {
      return { value: parseOptionText(option, text, label), label };
    }
  }
  return undefined;
}

// A misspelled variable would otherwise leave its setting at the default without a word.
function checkEnvironmentNames(env: SettingSources['env']): void {
  const prefix = `${ENV_PREFIX}_`;
  const known = [...new Set(COMMAND_OPTIONS.map(envOf))];
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

// Keys are the server commands' settings but `config`, checked by their rows.
function readConfig(path: string, sources: SettingSources): Record<string, Found> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(sources.readFile(path));
  } catch (error) {
    throw invalid(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid(`the config file ${path} must hold a JSON object of settings`);
  }
  const settings: readonly CommandOption[] = SERVER_OPTIONS.filter(
    (option) => option.name !== 'config',
  );
  const names = settings.map((option) => option.name);
  const values: Record<string, Found> = {};
  for (const [key, value] of Object.entries(parsed)) {
    const option = settings.find((candidate) => candidate.name === key);
    if (option === undefined) {
      const suggestion = closest(key, names);
      throw invalid(
        `${path}: "${key}" is not a setting${
          suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`
        }; settings use the camelCase names of the flags`,
      );
    }
    const label = `${path}: ${key}`;
    values[key] = { value: checkOptionValue(option, value, label), label };
  }
  return values;
}

function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

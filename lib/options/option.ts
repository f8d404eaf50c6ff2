/**
 * The machinery of options, knowing none of them: a row's type, range and default; the check
 * of a typed value (a library call, a JSON config value); the parse of text (a flag, an
 * environment variable); and the settings type a table of rows stands for. Each layer
 * declares its own rows beside the code that takes them; the CLI composes them.
 *
 * Invariants:
 * - `checkOptionValue()` takes typed values; `parseOptionText()` takes text by strict rules:
 *   decimal digits only for integers, the usual spellings for booleans, a `char` untrimmed
 *   (a space is one), never an empty value. Both throw `MazeError(ERR_INVALID_OPTION)` naming the option as the caller
 *   spelled it (`reorderCapacity`, `--reorder-capacity`, `FOLLOWER_MAZE_REORDER_CAPACITY`).
 * - Settings types derive from the rows (`SettingsOf`), so a table and the values it
 *   resolves to cannot disagree.
 * - Pure data and checks: no I/O.
 */
import { ErrorCode, MazeError } from '../errors.js';

export type OptionValue = number | string | boolean;

/** One tunable, without its name: a table of rows is keyed by the names (camelCase). */
export interface OptionRow {
  /** `char`: one character with a code below 256 (one latin1 byte), none of `exclude`. */
  readonly type: 'integer' | 'string' | 'boolean' | 'choice' | 'char';
  /** `undefined`: not set unless given. */
  readonly default: OptionValue | undefined;
  /** The default as shown, when it is derived from other settings. */
  readonly defaultDescription?: string;
  /** Integer range, both ends included: 0 and `Number.MAX_SAFE_INTEGER` unless given. */
  readonly min?: number;
  readonly max?: number;
  /** The accepted values of a `choice`. */
  readonly choices?: readonly string[];
  /** The characters a `char` refuses. */
  readonly exclude?: string;
  /** What it means, in one line: `--help` and the docs show it. */
  readonly describe: string;
}

/** A table of rows by option name, in the order they are shown. */
export type OptionTable = Readonly<Record<string, OptionRow>>;

/** The value type of a row. */
export type ValueOf<Row extends OptionRow> = Row extends { readonly type: 'integer' }
  ? number
  : Row extends { readonly type: 'boolean' }
    ? boolean
    : Row extends { readonly type: 'choice'; readonly choices: readonly (infer Choice)[] }
      ? Choice
      : string;

/** The value of a row once decided: `undefined` only for a row without a default. */
export type SettingOf<Row extends OptionRow> = Row['default'] extends undefined
  ? ValueOf<Row> | undefined
  : ValueOf<Row>;

/** Every setting of a table, decided. */
export type SettingsOf<Table extends OptionTable> = {
  readonly [Name in keyof Table]: SettingOf<Table[Name]>;
};

/** What a caller may give for a table: any setting, typed. */
export type GivenOf<Table extends OptionTable> = {
  readonly [Name in keyof Table]?: ValueOf<Table[Name]> | undefined;
};

const INTEGER_RANGE = { min: 0, max: Number.MAX_SAFE_INTEGER };

/** Longest duration any `…Timeout`/`…Interval` option may have: what a Node timer can wait. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The flag of an option: `eventPort` → `event-port`. */
export function flagOf(option: { readonly name: string }): string {
  return option.name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** The option names of `table`, in its order. */
export function namesOf<Table extends OptionTable>(table: Table): (keyof Table & string)[] {
  return Object.keys(table);
}

/** The rows of `table` named in `names`, in that order. */
export function pickRows<Table extends OptionTable, Name extends keyof Table & string>(
  table: Table,
  names: readonly Name[],
): Pick<Table, Name> {
  const picked: Partial<Pick<Table, Name>> = {};
  for (const name of names) picked[name] = table[name];
  return picked as Pick<Table, Name>;
}

/** The settings of `values` named in `names` that have a value. */
export function pickSettings<Values extends object, Name extends keyof Values>(
  values: Values,
  names: readonly Name[],
): Partial<Pick<Values, Name>> {
  const picked: Partial<Pick<Values, Name>> = {};
  for (const name of names) {
    if (values[name] !== undefined) picked[name] = values[name];
  }
  return picked;
}

/** The default as `--help` and the docs show it. */
export function defaultText(row: OptionRow): string {
  return row.defaultDescription ?? (row.default === undefined ? 'none' : String(row.default));
}

/** What a row accepts, for messages. */
function expectation(row: OptionRow): string {
  switch (row.type) {
    case 'integer':
      return `an integer from ${row.min ?? INTEGER_RANGE.min} to ${row.max ?? INTEGER_RANGE.max}`;
    case 'boolean':
      return 'true or false (also yes/no, on/off, 1/0)';
    case 'choice':
      return `one of ${(row.choices ?? []).join(', ')}`;
    case 'string':
      return 'a non-empty string';
    case 'char':
      return `one character (code below 256), none of ${JSON.stringify(row.exclude ?? '')}`;
  }
}

/** Whether `value` is a typed value `row` accepts (`checkOptionValue()` without the throw). */
export function acceptsValue(row: OptionRow, value: unknown): boolean {
  switch (row.type) {
    case 'integer':
      return (
        Number.isSafeInteger(value) &&
        (value as number) >= (row.min ?? INTEGER_RANGE.min) &&
        (value as number) <= (row.max ?? INTEGER_RANGE.max)
      );
    case 'boolean':
      return typeof value === 'boolean';
    case 'choice':
      return typeof value === 'string' && (row.choices ?? []).includes(value);
    case 'string':
      return typeof value === 'string' && value.trim() !== '';
    case 'char':
      return (
        typeof value === 'string' &&
        value.length === 1 &&
        value.charCodeAt(0) < 256 &&
        !(row.exclude ?? '').includes(value)
      );
  }
}

/**
 * Checks a typed value (a library option, a JSON config value); returns it. `label` names
 * the option as the caller knows it (`reorderCapacity`, `config.json: reorderCapacity`).
 */
export function checkOptionValue<Row extends OptionRow>(
  row: Row,
  value: unknown,
  label: string,
): ValueOf<Row> {
  if (!acceptsValue(row, value)) throw invalidOption(label, row, value);
  return value as ValueOf<Row>;
}

/**
 * A library entry's options, decided: each row's value in `given` (checked by
 * `checkOptionValue()` under its name), or its default. Throws `ERR_INVALID_OPTION` on the
 * first bad value.
 */
export function resolveOptions<Table extends OptionTable>(
  table: Table,
  given: object,
): SettingsOf<Table> {
  const values = given as Readonly<Record<string, unknown>>;
  const resolved: Record<string, unknown> = {};
  for (const [name, row] of Object.entries(table)) {
    const value = values[name] ?? row.default;
    resolved[name] = value === undefined ? undefined : checkOptionValue(row, value, name);
  }
  return resolved as SettingsOf<Table>;
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/**
 * Parses the text of a flag or environment variable; returns the typed value. `label` names
 * the option as given (`--event-port`, `FOLLOWER_MAZE_EVENT_PORT`).
 */
export function parseOptionText<Row extends OptionRow>(
  row: Row,
  text: string,
  label: string,
): ValueOf<Row> {
  // Spaces are characters like any other: a tab or a space may be the value.
  if (row.type === 'char' && text !== '') return checkOptionValue(row, text, label);
  const trimmed = text.trim();
  if (trimmed === '') {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `${label} is empty: give ${expectation(row)}, or leave it out for the default (${defaultText(row)})`,
    );
  }
  switch (row.type) {
    case 'integer':
      return checkOptionValue(row, /^\d+$/.test(trimmed) ? Number(trimmed) : text, label);
    case 'boolean': {
      const word = trimmed.toLowerCase();
      if (TRUE_WORDS.has(word)) return true as ValueOf<Row>;
      if (FALSE_WORDS.has(word)) return false as ValueOf<Row>;
      throw invalidOption(label, row, text);
    }
    default:
      return checkOptionValue(row, trimmed, label);
  }
}

function invalidOption(label: string, row: OptionRow, got: unknown): MazeError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  return new MazeError(
    ErrorCode.InvalidOption,
    `${label} must be ${expectation(row)}, got ${shown}`,
  );
}

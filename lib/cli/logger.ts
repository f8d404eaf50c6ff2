/**
 * The CLI's log on stderr (docs/protocol.md §9): one line per record, with a timestamp and a
 * level, as text for people or as one JSON object per line for log shippers.
 *
 * - text: `2026-11-30T06:10:00.123Z WARN  problem ERR_CLIENT_BAD_ID [client#3 line 1]: …`
 * - json: `{"time":"2026-11-30T06:10:00.123Z","level":"warn","msg":"…","code":"ERR_…",…}`
 *
 * Invariants: records below the level are dropped before anything is formatted; the logger
 * writes through the given function only (the CLI gives it a `LineWriter`, which never
 * throws and never buffers without bound); field values are the caller's, and anything a
 * peer sent has been escaped by `quoteLine()` before it gets here.
 *
 * Why not pino: the CLI needs a bounded, drop-counting writer under every line (a stalled
 * stderr must not grow the process), and a text format that stays the stable
 * `problem ERR_…` lines scripts parse; pino's writer has its own buffering and its text
 * output needs `pino-pretty`, meant for development. What is left is forty lines.
 */

import { type LOG_FORMATS, LOG_LEVELS } from './options.js';

/** A level; a logger shows its level and the more severe ones (`LOG_LEVELS` order). */
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Extra fields of a record; JSON output spreads them into the object. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** The clock (tests pass a fixed one). */
  readonly now?: () => Date;
}

export class Logger {
  readonly #write: (line: string) => void;
  readonly #rank: number;
  readonly #format: LogFormat;
  readonly #now: () => Date;

  constructor(write: (line: string) => void, options: LoggerOptions) {
    this.#write = write;
    this.#rank = LOG_LEVELS.indexOf(options.level);
    this.#format = options.format;
    this.#now = options.now ?? (() => new Date());
  }

  /** Whether records of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= this.#rank;
  }

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }

  log(level: LogLevel, message: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    const time = this.#now().toISOString();
    this.#write(
      this.#format === 'json'
        ? JSON.stringify({ time, level, msg: message, ...fields })
        : `${time} ${level.toUpperCase().padEnd(5)} ${message}`,
    );
  }
}

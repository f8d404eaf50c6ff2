/** The text of the server commands' lines: addresses, problems, stats. */
import type { AddressInfo } from 'node:net';
import type { Problem } from '../errors.js';

/** `127.0.0.1:9090`, or `[::1]:9090` for IPv6. */
export function formatAddress(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${host}:${address.port}`;
}

/** `problem ERR_X [client#3 line 4 seq 17 user 5]: message` */
export function formatProblem(problem: Problem): string {
  const context = problem.context;
  const where: string[] = [];
  if (context.connection !== undefined) where.push(context.connection);
  if (context.lineNumber !== undefined) where.push(`line ${context.lineNumber}`);
  if (context.sequence !== undefined) where.push(`seq ${context.sequence}`);
  if (context.userId !== undefined) where.push(`user ${context.userId}`);
  const at = where.length === 0 ? '' : ` [${where.join(' ')}]`;
  return `problem ${problem.code}${at}: ${problem.message}`;
}

/** `stats eventsReceived=… eventsApplied=… …`: every counter, `key=value`, then `extra`. */
export function formatStats(
  stats: object,
  extra: Readonly<Record<string, string | number>> = {},
): string {
  return `stats ${formatFields({ ...stats, ...extra })}`;
}

/** `key=value key=value …` */
export function formatFields(fields: object): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}=${fieldValue(value)}`)
    .join(' ');
}

// A text that would not read back as one printable word (a space or tab delimiter) is quoted.
function fieldValue(value: unknown): string {
  return typeof value === 'string' && /[^\x21-\x7e]|^$/.test(value)
    ? JSON.stringify(value)
    : String(value);
}

/** The counters the rates of a stats line are made of; a server without clients has no notifications. */
interface RateCounters {
  readonly eventsReceived?: number | boolean;
  readonly notificationsSent?: number | boolean;
}

/**
 * The fields a stats line adds to the counters: the wall-clock time, seconds since the
 * server started, and events received and notifications sent per second since the last line.
 */
export class StatsRates {
  readonly #startedAt: number;
  #lastAt: number;
  #lastEvents = 0;
  #lastNotifications = 0;

  /** @param startedAt a monotonic time in ms (`performance.now()`) */
  constructor(startedAt: number) {
    this.#startedAt = startedAt;
    this.#lastAt = startedAt;
  }

  /** The fields for `stats` taken at monotonic time `now` (ms), `date` the wall clock. */
  next(stats: RateCounters, now: number, date: Date = new Date()): Record<string, string | number> {
    const seconds = Math.max(0.001, (now - this.#lastAt) / 1000);
    const events = Number(stats.eventsReceived ?? 0);
    const notifications = Number(stats.notificationsSent ?? 0);
    const fields = {
      time: date.toISOString(),
      uptimeSeconds: ((now - this.#startedAt) / 1000).toFixed(1),
      eventsPerSecond: Math.round((events - this.#lastEvents) / seconds),
      notificationsPerSecond: Math.round((notifications - this.#lastNotifications) / seconds),
    };
    this.#lastAt = now;
    this.#lastEvents = events;
    this.#lastNotifications = notifications;
    return fields;
  }
}

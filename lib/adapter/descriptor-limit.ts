/**
 * The default client connection limit (docs/protocol.md §5), derived from the process's descriptor limit.
 * Every client socket holds one descriptor; once they are all taken, `accept()` fails with
 * EMFILE inside libuv, which drops the connection — the event source's included — without
 * an `'error'` on the server. So clients get the descriptor limit minus a reserve, and the
 * server itself never runs out because of them.
 *
 * Invariants:
 * - The limit is the soft "Max open files" of `/proc/self/limits` (Node raises its soft limit
 *   to the hard one at startup, so this is what the process really has), read once, on first
 *   use; a limit changed later (`prlimit`) is not seen. Where the file cannot be read or
 *   parsed (not Linux, `unlimited`), `FALLBACK_DESCRIPTOR_LIMIT` stands in.
 * - The reserve is `max(CLIENT_DESCRIPTOR_RESERVE, ceil(limit * CLIENT_DESCRIPTOR_RESERVE_SHARE))`
 *   and the result is at least 1, so a tiny limit still admits a client.
 * - A `maxClients` that is given is never used above `maxClientsFor(limit)` either: more clients
 *   than that would exhaust the descriptors the same way. It is lowered only against a limit
 *   that was read; where the fallback stands in, the given value is trusted.
 * - `parseOpenFilesLimit`, `maxClientsFor` and `clientLimitFor` are pure; only
 *   `readDescriptorLimit` (each call) and `knownDescriptorLimit` (its first call) read a file.
 */
import { readFileSync } from 'node:fs';

/**
 * Fewest descriptors kept back from clients (docs/protocol.md §5): Node's own (~20: epoll, pipes, stdio),
 * the two listening sockets, the event source and the ones being refused or taken over, log
 * files, and later connections such as monitoring. Without it, clients exhaust the limit and
 * the event source's connect is accepted and dropped silently (EMFILE).
 */
export const CLIENT_DESCRIPTOR_RESERVE = 64;
/** Share of the descriptor limit kept back from clients, when more than the minimum reserve. */
const CLIENT_DESCRIPTOR_RESERVE_SHARE = 0.05;
/**
 * Descriptor limit assumed where the process's own cannot be read (not Linux, no `/proc`):
 * the usual soft limit, so the derived default stays safe rather than generous.
 */
export const FALLBACK_DESCRIPTOR_LIMIT = 1024;

/** Where Linux shows the resource limits of the calling process. */
const LIMITS_FILE = '/proc/self/limits';

/** The limit read on first use; `null` when it could not be read. */
let cachedLimit: number | null | undefined;

/**
 * The soft limit of open files in the text of a `/proc/<pid>/limits` file, or `undefined`
 * when there is no such row or it is not a positive integer (e.g. `unlimited`).
 */
export function parseOpenFilesLimit(limitsText: string): number | undefined {
  const row = /^Max open files[ \t]+(\S+)/m.exec(limitsText);
  const soft = row?.[1];
  if (soft === undefined || !/^\d+$/.test(soft)) return undefined;
  const limit = Number(soft);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : undefined;
}

/** The client connections a process with `descriptorLimit` descriptors can afford. */
export function maxClientsFor(descriptorLimit: number): number {
  const reserve = Math.max(
    CLIENT_DESCRIPTOR_RESERVE,
    Math.ceil(descriptorLimit * CLIENT_DESCRIPTOR_RESERVE_SHARE),
  );
  return Math.max(1, descriptorLimit - reserve);
}

/**
 * The `maxClients` used when `given` is asked for (0: the default) in a process whose
 * descriptor limit is `limit` (`undefined`: unknown): `given`, but never more than
 * `maxClientsFor(limit)`; the default is `maxClientsFor(limit ?? FALLBACK_DESCRIPTOR_LIMIT)`.
 */
export function clientLimitFor(given: number, limit: number | undefined): number {
  if (given === 0) return maxClientsFor(limit ?? FALLBACK_DESCRIPTOR_LIMIT);
  return limit === undefined ? given : Math.min(given, maxClientsFor(limit));
}

/**
 * This process's soft descriptor limit, or `FALLBACK_DESCRIPTOR_LIMIT` where it is unknown.
 * Read on the first call only.
 */
export function descriptorLimit(): number {
  return knownDescriptorLimit() ?? FALLBACK_DESCRIPTOR_LIMIT;
}

/** This process's soft descriptor limit, or `undefined` where it cannot be read. Read once. */
export function knownDescriptorLimit(): number | undefined {
  if (cachedLimit === undefined) cachedLimit = readOpenFilesLimit(LIMITS_FILE) ?? null;
  return cachedLimit ?? undefined;
}

/**
 * The soft descriptor limit in `limitsFile` (a `/proc/<pid>/limits` file), read now, or
 * `FALLBACK_DESCRIPTOR_LIMIT` when it cannot be read or has no usable limit.
 */
export function readDescriptorLimit(limitsFile: string = LIMITS_FILE): number {
  return readOpenFilesLimit(limitsFile) ?? FALLBACK_DESCRIPTOR_LIMIT;
}

function readOpenFilesLimit(limitsFile: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'latin1');
  } catch {
    // No procfs (macOS, Windows, a sandbox): unknown is the answer, not a failure.
    return undefined;
  }
  return parseOpenFilesLimit(text);
}

/** The default of `maxClients`: `maxClientsFor(descriptorLimit())`. */
export function defaultMaxClients(): number {
  return maxClientsFor(descriptorLimit());
}

/**
 * The `maxClients` this process uses when `given` is asked for (0: the default):
 * `clientLimitFor(given, knownDescriptorLimit())`.
 */
export function resolveMaxClients(given: number): number {
  return clientLimitFor(given, knownDescriptorLimit());
}

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
 * - `parseOpenFilesLimit` and `maxClientsFor` are pure; only `readDescriptorLimit` reads a file.
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

let cachedLimit: number | undefined;

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
 * This process's soft descriptor limit, or `FALLBACK_DESCRIPTOR_LIMIT` where it is unknown.
 * Read on the first call only.
 */
export function descriptorLimit(): number {
  cachedLimit ??= readDescriptorLimit();
  return cachedLimit;
}

/**
 * The soft descriptor limit in `limitsFile` (a `/proc/<pid>/limits` file), read now, or
 * `FALLBACK_DESCRIPTOR_LIMIT` when it cannot be read or has no usable limit.
 */
export function readDescriptorLimit(limitsFile: string = LIMITS_FILE): number {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'latin1');
  } catch {
    // No procfs (macOS, Windows, a sandbox): the fallback is the answer, not a failure.
    return FALLBACK_DESCRIPTOR_LIMIT;
  }
  return parseOpenFilesLimit(text) ?? FALLBACK_DESCRIPTOR_LIMIT;
}

/** The default of `maxClients`: `maxClientsFor(descriptorLimit())`. */
export function defaultMaxClients(): number {
  return maxClientsFor(descriptorLimit());
}

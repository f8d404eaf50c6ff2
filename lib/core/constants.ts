/**
 * Every limit and default of follower-maze, in one place (SPEC sections 1-8).
 * The core uses only the sequencing and follow-graph ones; the adapter, the CLI and the simulator
 * import the rest from here so that a default is never written twice.
 */

/** Port the event source connects to (SPEC 1). */
export const DEFAULT_EVENT_PORT = 9090;
/** Port user clients connect to (SPEC 1). */
export const DEFAULT_CLIENT_PORT = 9099;
/** Loopback by default: the event port can message every user (SPEC 1). */
export const DEFAULT_HOST = '127.0.0.1';

/** Longest event line accepted, terminator included (SPEC 2). A valid event is < 50 bytes. */
export const DEFAULT_MAX_LINE_LENGTH = 4 * 1024;
/** Longest user-id line a client may send; an id has at most 16 digits. */
export const DEFAULT_MAX_ID_LINE_LENGTH = 64;

/** First sequence number of a fresh stream (SPEC 4). */
export const DEFAULT_START_SEQUENCE = 1;
/** Events that may wait for a missing number before it is declared lost (SPEC 4). */
export const DEFAULT_REORDER_CAPACITY = 100_000;

/**
 * Follow edges the graph holds before a new follow is refused (`ERR_FOLLOW_LIMIT`, SPEC 10).
 * 2^23 = 8,388,608 edges keeps the graph within a few hundred MiB. Measured at this bound
 * (`scripts/graph-memory.mjs`): 340 MiB of RSS when the edges share a few followees
 * (16-byte edge slots at load 3/8 to 3/4, ~32 bytes an edge) and 693 MiB when every edge
 * has a followee of its own (each then also costs a followee entry and a node: ~80 bytes
 * an edge); small-id followers of a popular user cost a bit each. That is far above what
 * the simulator's profiles build (1,000 users following each other are 1M edges).
 */
export const DEFAULT_MAX_FOLLOW_EDGES = 2 ** 23;
/** Largest `maxFollowEdges`: keeps every typed array of the graph under 2^28 elements. */
export const MAX_FOLLOW_EDGES = 2 ** 27;

/** How long a new client has to send its id (SPEC 5). */
export const DEFAULT_IDENTIFY_TIMEOUT_MS = 5_000;
/** Bytes a client may have queued before the event source is paused (SPEC 6). */
export const DEFAULT_CLIENT_BUFFER_LIMIT = 1024 * 1024;
/** How long a client may stay over its buffer limit before it is dropped (SPEC 6). */
export const DEFAULT_SLOW_CLIENT_TIMEOUT_MS = 10_000;
/** Bounded wait for buffered output to flush on shutdown (SPEC 8). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;
/** Stats line period in the CLI; 0 disables it. */
export const DEFAULT_STATS_INTERVAL_MS = 0;

/** Largest sequence number or user id (SPEC 3). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Longest duration any `…Timeout`/`…Interval` option may have: what a Node timer can wait. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** How much of an offending line a report quotes. */
export const MAX_QUOTED_LINE_LENGTH = 80;

/**
 * Tuning of the simulator (`follower-maze simulate`); its options and their defaults are
 * rows in `options.ts`.
 */
/**
 * Pause generating once one client owes this many lines (expected, not received yet)...
 * With many clients the per-client limit shrinks to MAX_PENDING_TOTAL / concurrencyLevel,
 * but not below MIN_PENDING_PER_CLIENT.
 */
export const MAX_PENDING_PER_CLIENT = 8_192;
export const MIN_PENDING_PER_CLIENT = 256;
/** ...or all clients together owe this many; resume at half of both. Bounds memory. */
export const MAX_PENDING_TOTAL = 1_048_576;
/** Generated event bytes gathered into one write to the event source. */
export const EVENT_WRITE_SIZE = 64 * 1024;
/** Receive buffer shared by the client sockets, reused for every read. */
export const CLIENT_READ_BUFFER_SIZE = 64 * 1024;
/** Most client connections opened at once (a listen backlog is often 511). */
export const CONNECT_WAVE_SIZE = 128;
/** Wait between warm-up broadcasts while some client has not received one yet, in ms. */
export const WARMUP_INTERVAL_MS = 20;
/**
 * Longest the warm-up goes on while no client has received any broadcast at all, in ms
 * (when shorter than `timeout`): then the run fails with ERR_SIM_NO_WARMUP instead of
 * waiting the whole `timeout`. Every connection was accepted by then, so the likely cause is
 * a server that already applied these sequence numbers (a second run against it).
 */
export const WARMUP_SILENCE_MS = 3_000;
/** Recent events kept to quote an expected line in a failure message. */
export const RECENT_EVENTS = 131_072;
/** Bounded wait between `end()` and `destroy()` when closing, in ms. */
export const CLOSE_TIMEOUT_MS = 1_000;
/** Longest quoted line in a failure message, in bytes. */
export const MAX_QUOTED_BYTES = 100;

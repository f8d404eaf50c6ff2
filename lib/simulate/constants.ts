/**
 * Tuning of the simulator (`follower-maze simulate`) that more than one of its modules
 * reads, or that the package shows; a module's own tuning lives in that module, and the
 * options with their defaults are rows in `options.ts`.
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
/**
 * Longest the warm-up goes on while no client has received any broadcast at all, in ms
 * (when shorter than `timeout`): then the run fails with ERR_SIM_NO_WARMUP instead of
 * waiting the whole `timeout`. Every connection was accepted by then, so the likely cause is
 * a server that already applied these sequence numbers (a second run against it).
 */
export const WARMUP_SILENCE_MS = 3_000;

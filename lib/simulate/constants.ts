/**
 * Defaults and limits of the simulator (`follower-maze simulate`). The names of the options
 * mirror the environment variables of the original verification program. Ports and host
 * are the server's own (`lib/core/constants.ts`) so that both always agree.
 */
/** Events streamed after the warm-up (`totalEvents`). */
export const DEFAULT_TOTAL_EVENTS = 10_000_000;
/** Connected user clients (`concurrencyLevel`). */
export const DEFAULT_CONCURRENCY_LEVEL = 100;
/** Users events are drawn from, per connected client (`numberOfUsers` = level x this). */
export const DEFAULT_USERS_PER_CLIENT = 10;
/** Seed of every random choice (`randomSeed`). */
export const DEFAULT_RANDOM_SEED = 666;
/** Longest a client may wait for its next expected notification, in ms (`timeout`). */
export const DEFAULT_SIMULATE_TIMEOUT_MS = 20_000;
/** Largest batch of events shuffled together (`maxEventSourceBatchSize`). */
export const DEFAULT_MAX_BATCH_SIZE = 100;
/** Progress period in ms (`logInterval`); 0 disables progress. */
export const DEFAULT_LOG_INTERVAL_MS = 1_000;
/** Event type weights, in the `--event-mix` syntax. */
export const DEFAULT_EVENT_MIX = 'F:30,U:10,B:5,P:25,S:30';
/** How long clients keep listening after their last expected line, to catch extra lines. */
export const DEFAULT_LINGER_MS = 250;

/** Largest `maxEventSourceBatchSize`: a batch is generated whole before pacing can pause. */
export const MAX_BATCH_SIZE = 10_000;

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
/** Wait before trying again a connection a port refused, while `waitForPorts` lasts, in ms. */
export const PORT_RETRY_MS = 100;
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

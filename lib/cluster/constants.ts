/** Tuning of cluster mode's event log and ingest, shared by the modules that implement them. */

/** Longest wait for JetStream to answer one request (an append's acknowledgement, stream info). */
export const EVENT_LOG_REQUEST_TIMEOUT_MS = 5_000;

/**
 * Batches a log reader may fetch ahead of its consumer: the bound on what a gateway holds
 * while it does not pull (64 KiB batches: 1 MiB).
 */
export const EVENT_LOG_READ_AHEAD = 16;

/**
 * Lifetime of one pull request of a log reader: an idle reader asks again this often. It
 * bounds nothing a caller waits for (`next()` waits for the next batch, however long).
 */
export const EVENT_LOG_PULL_EXPIRES_MS = 5_000;

/** Pause before a log reader pulls again after a transient failure (NATS restarting). */
export const EVENT_LOG_READ_RETRY_MS = 250;

/** JetStream's default window for duplicate message ids, which a stream with a shorter max age must not exceed. */
export const NATS_DUPLICATE_WINDOW_S = 120;

/**
 * Bytes of event lines (terminators included) that close an ingest's batch: one append, one
 * JetStream message, well under NATS's default 1 MiB payload. A single line longer than this
 * (`maxLineLength` above it) makes a batch of its own.
 */
export const INGEST_BATCH_BYTES = 64 * 1024;

/**
 * Milliseconds a partial batch waits for more lines before it is appended anyway: the most an
 * event waits in the ingest before its append starts.
 */
export const INGEST_BATCH_DELAY_MS = 5;

/** Appends an ingest has in flight at once (pipelined); while they are, the source is paused. */
export const INGEST_APPEND_WINDOW = 8;

/** Pause before an ingest asks the log for its tail again after that failed (NATS restarting). */
export const INGEST_RECOVERY_RETRY_MS = 250;

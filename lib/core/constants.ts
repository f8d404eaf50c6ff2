/**
 * Limits of the protocol itself (docs/protocol.md §2-3), which the core and every front end
 * share. Each layer's options and tuning live beside the code that takes them.
 */

/** Largest sequence number or user id (docs/protocol.md §3). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** How much of an offending line a report quotes. */
export const MAX_QUOTED_LINE_LENGTH = 80;

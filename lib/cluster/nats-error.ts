/**
 * Text of the NATS client's errors, shared by the JetStream event log, its snapshot store and
 * `connectEventLog()`: each wraps a client error in a `MazeError` with its own code.
 */

/** The message of a NATS client error, with its cause (which says "ECONNREFUSED" and such). */
export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

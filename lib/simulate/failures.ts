/**
 * What a simulation can fail with. Every failure has a stable `ERR_SIM_…` code, a message
 * that names the client, the line and what was expected versus what arrived, and the same
 * facts as fields. Three kinds: `verification` (the server broke the protocol: exit code 1),
 * `connection` (the simulator could not reach the server: exit code 2) and `interrupted`
 * (the run was stopped, e.g. by Ctrl-C: exit code 130).
 */

/** Every failure code of the simulator. `docs/errors.md` documents each one. */
export const SimulationErrorCode = {
  /** A client received an event other than the one expected next: the expected one is missing or late. */
  Missing: 'ERR_SIM_MISSING',
  /** A client received a line it should never get (not for its user, or after everything it expected). */
  Unexpected: 'ERR_SIM_UNEXPECTED',
  /** A client received a sequence number not greater than the previous one (duplicate or reordered). */
  OutOfOrder: 'ERR_SIM_OUT_OF_ORDER',
  /** A client received the expected sequence number with different bytes. */
  Content: 'ERR_SIM_CONTENT',
  /**
   * A client received a line without a parsable sequence number (an epoch or `!GAP` line
   * included, unless it opens a resume-aware or resumed connection).
   */
  BadLine: 'ERR_SIM_BAD_LINE',
  /**
   * A reconnecting client's connection did not open with the epoch line (`!EPOCH|…|…`), or
   * with another epoch than its first connection's (the server's stream started again), or
   * a resumed connection's epoch line named another number than LASTSEQ without the gap
   * line that explains it.
   */
  Epoch: 'ERR_SIM_EPOCH',
  /** A client waited longer than `timeout` ms for its next expected notification. */
  Timeout: 'ERR_SIM_TIMEOUT',
  /** A client received none of the warm-up broadcasts within `timeout` ms: never registered. */
  NotRegistered: 'ERR_SIM_NOT_REGISTERED',
  /**
   * No client received any warm-up broadcast within WARMUP_SILENCE_MS although every
   * connection was accepted: most likely the server already applied these sequence numbers
   * (a second run against the same server). A plain server: restart it, or run it with
   * --reset-on-disconnect; a server on NATS keeps its log: restart it on a new stream.
   */
  NoWarmup: 'ERR_SIM_NO_WARMUP',
  /** The server stopped reading the event source for longer than `timeout` ms. */
  EventSourceStalled: 'ERR_SIM_EVENT_SOURCE_STALLED',
  /** The server closed (or reset) a connection during the run. */
  Closed: 'ERR_SIM_CLOSED',
  /** A connection could not be opened (refused, unreachable, or not within `timeout` ms). */
  Connect: 'ERR_SIM_CONNECT',
  /** The run was interrupted (SIGINT, Ctrl-C) before it finished; the figures are partial. */
  Interrupted: 'ERR_SIM_INTERRUPTED',
  /** A worker process (`workers`) could not start or exited before it reported its clients. */
  Worker: 'ERR_SIM_WORKER',
} as const;

export type SimulationErrorCode = (typeof SimulationErrorCode)[keyof typeof SimulationErrorCode];

/**
 * `verification`: the server misbehaved. `connection`: it could not be reached.
 * `interrupted`: the run was stopped before it finished.
 */
export type SimulationFailureKind = 'verification' | 'connection' | 'interrupted';

/** Where a failure happened; each field is present when it applies. */
export interface SimulationFailureContext {
  /** The connection, e.g. `client#3` or `event-source`. */
  readonly connection?: string;
  /** The user id the client identified as. */
  readonly userId?: number;
  /** 1-based number of the line on that client connection. */
  readonly lineNumber?: number;
  /** The expected line (JSON-quoted when known) or a description of it. */
  readonly expected?: string;
  /** The line that arrived, JSON-quoted and shortened. */
  readonly got?: string;
}

/** Why a simulation failed. */
export interface SimulationFailure {
  readonly code: SimulationErrorCode;
  readonly kind: SimulationFailureKind;
  readonly message: string;
  readonly context: SimulationFailureContext;
}

/** Builds a failure; the kind follows from the code. */
export function simulationFailure(
  code: SimulationErrorCode,
  message: string,
  context: SimulationFailureContext = {},
): SimulationFailure {
  const kind: SimulationFailureKind =
    code === SimulationErrorCode.Connect || code === SimulationErrorCode.Worker
      ? 'connection'
      : code === SimulationErrorCode.Interrupted
        ? 'interrupted'
        : 'verification';
  return { code, kind, message, context };
}

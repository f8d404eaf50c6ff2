/**
 * One shape for everything follower-maze reports (docs/protocol.md §9): a stable `ERR_…` code,
 * a human message and the context it happened in. Problems caused by a peer are
 * plain values (`Problem`); misuse of the API by the embedding program throws a
 * `MazeError`, which carries the same kind of code.
 */

/** Every code follower-maze can report. `docs/errors.md` documents each one. */
export const ErrorCode = {
  /** An event line without a parsable sequence number; discarded. */
  EventBadSequence: 'ERR_EVENT_BAD_SEQUENCE',
  /** An event line with a valid sequence number but an invalid body; applied as a no-op. */
  EventBadBody: 'ERR_EVENT_BAD_BODY',
  /** A sequence number that is already waiting in the reorder buffer; discarded. */
  EventDuplicate: 'ERR_EVENT_DUPLICATE',
  /** A sequence number that was already applied; discarded. */
  EventStale: 'ERR_EVENT_STALE',
  /** The reorder buffer filled up while a number was missing; the missing numbers were skipped. */
  SequenceGap: 'ERR_SEQUENCE_GAP',
  /** A follow that would add an edge beyond `maxFollowEdges`; applied as a no-op (its number is consumed, nobody is notified). */
  FollowLimit: 'ERR_FOLLOW_LIMIT',
  /** A line longer than the maximum; discarded up to its next LF. */
  LineTooLong: 'ERR_LINE_TOO_LONG',
  /** An input ended in the middle of a line; the fragment is discarded, never applied. */
  LineUnterminated: 'ERR_LINE_UNTERMINATED',
  /** A client's first line is not a valid user id; the client is closed. */
  ClientBadId: 'ERR_CLIENT_BAD_ID',
  /**
   * A client's id line names a valid user but not a valid last sequence number to resume
   * after (`USERID|LASTSEQ`: decimal, `0..MAX_SAFE_INTEGER`); the client is closed.
   */
  ClientBadResume: 'ERR_CLIENT_BAD_RESUME',
  /** A client sent no id within the identify timeout; the client is closed. */
  ClientIdTimeout: 'ERR_CLIENT_ID_TIMEOUT',
  /**
   * A client that must authenticate was refused (its token is malformed, badly signed,
   * expired, not yet valid, for another audience or issuer, or names no valid user; or the
   * hook failed or did not answer in time), its token expired while connected, it sent a
   * token for another user, or a fresh token too soon after its last one; the client is
   * closed. `context.reason` says which (`AUTH_REFUSALS`); the token is never part of the
   * problem.
   */
  ClientAuth: 'ERR_CLIENT_AUTH',
  /**
   * A client connected while `maxClients` were attached; it is closed at once. Reported at
   * most once a second, with the number refused since the last report.
   */
  ClientLimit: 'ERR_CLIENT_LIMIT',
  /**
   * A client connected while `maxClients` were attached, and the longest half-closed client
   * with nothing queued was closed to make room for it. Reported at most once a second, with
   * the number closed since the last report.
   */
  ClientEvicted: 'ERR_CLIENT_EVICTED',
  /** A client stayed over its output buffer limit past the slow-client timeout; it is closed. */
  ClientSlow: 'ERR_CLIENT_SLOW',
  /** A second event source connected while one was active; it is closed. */
  EventSourceBusy: 'ERR_EVENT_SOURCE_BUSY',
  /**
   * The event source had sent no valid event (empty and invalid lines do not count) for
   * longer than the idle timeout (while being read) when another one connected; it is
   * closed and the new one takes over.
   */
  EventSourceIdle: 'ERR_EVENT_SOURCE_IDLE',
  /**
   * A shutdown dropped input: the event source was still open when the shutdown timeout ran
   * out (the bytes read but not applied are counted), or events were still waiting for a
   * missing sequence number.
   */
  ShutdownUndrained: 'ERR_SHUTDOWN_UNDRAINED',
  /** A socket or stream failed (reset, write after close, …). */
  StreamError: 'ERR_STREAM',
  /**
   * A listening port failed to accept a connection (EMFILE, ENFILE, ENOBUFS, …). The port
   * keeps listening and nothing attached is closed; counted in `acceptFailures`.
   */
  AcceptFailed: 'ERR_ACCEPT',
  /**
   * A connection to a TLS port failed its handshake (timeout, not TLS, reset), came while the
   * handshakes in progress were at their bound, or did not present a certificate from the
   * port's CA; it is closed before it reaches the server.
   * Reported at most once a second per port, with the count of each reason; counted in
   * `eventTlsFailures` and `clientTlsFailures`.
   */
  TlsHandshake: 'ERR_TLS_HANDSHAKE',
  /**
   * Reloading the TLS certificate, key or CAs (SIGHUP) failed: a file is unreadable or not
   * valid PEM, the key does not match the certificate, or a CA was added or removed. The
   * material in force is kept.
   */
  TlsReload: 'ERR_TLS_RELOAD',
  /** A port could not be bound (in use, not permitted, bad address); `listen()` rejects with it. */
  ListenFailed: 'ERR_LISTEN',
  /** An option passed to the library or the CLI is invalid (thrown, not reported). */
  InvalidOption: 'ERR_INVALID_OPTION',
  /** The API was used in a state that does not allow it (thrown, not reported). */
  InvalidState: 'ERR_INVALID_STATE',
  /**
   * The HTTP monitoring port failed after it was bound (accept failure), or could not answer a
   * request; the server goes on, the request gets a 500.
   */
  MonitorFailed: 'ERR_MONITOR',
  /**
   * The event log (cluster mode, docs/protocol.md §11) cannot be used: NATS is unreachable,
   * or its JetStream is disabled. Rejected by `connectEventLog()`.
   */
  LogUnavailable: 'ERR_LOG_UNAVAILABLE',
  /**
   * NATS refused this process: its login (an authorization violation, expired credentials),
   * or the TLS handshake (a certificate not trusted at either end, TLS on one end only).
   * Rejected by `connectEventLog()`; not tried again.
   */
  LogAuth: 'ERR_LOG_AUTH',
  /**
   * An append was refused because the log is not at the position the writer expected: another
   * ingest appended meanwhile, or this one went on from a stale tail. Nothing was appended.
   */
  LogFenced: 'ERR_LOG_FENCED',
  /** A batch that cannot be appended (invalid as given). */
  LogBadBatch: 'ERR_LOG_BAD_BATCH',
  /** The log no longer holds the position asked for: retention dropped it, or it was deleted. */
  LogTruncated: 'ERR_LOG_TRUNCATED',
  /**
   * The event log does not fit this process: its stream has another subject than the one
   * configured, its lines use another delimiter, its writer recorded other settings
   * (`maxFollowEdges`, `startSequence`, `delimiter`).
   */
  LogConfig: 'ERR_LOG_CONFIG',
  /**
   * The stream of the event log was deleted and created again under a running process: a new
   * epoch, whose positions mean other batches. The process stops rather than read on.
   */
  LogReplaced: 'ERR_LOG_REPLACED',
  /**
   * A gateway or the snapshot writer has waited a while at a batch for the log's writer to
   * record its settings (reported once, with the position); it goes on waiting.
   */
  LogUnrecorded: 'ERR_LOG_UNRECORDED',
  /** Any other failure of the event log: a request timed out, the connection was lost. */
  LogFailed: 'ERR_LOG_FAILED',
  /**
   * A message on the event log's subject that does not continue the log (not a batch, or a
   * batch that does not follow the last event number applied): skipped, with its position.
   */
  LogForeign: 'ERR_LOG_FOREIGN',
  /**
   * A stored snapshot of the follow graph fails its checks (checksum, size, format): skipped
   * for an older one or the log; rejected only when nothing can rebuild the graph.
   */
  SnapshotBad: 'ERR_SNAPSHOT_BAD',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Where a problem happened. Every field is optional: each layer adds what it knows. */
export interface ProblemContext {
  /** The sequence number involved, when there is one. */
  readonly sequence?: number;
  /** The offending line, quoted and shortened to `MAX_QUOTED_LINE_LENGTH`. */
  readonly line?: string;
  /** 1-based line number on its connection. */
  readonly lineNumber?: number;
  /** The connection, e.g. `event-source#1` or `client#42`. */
  readonly connection?: string;
  /** The user id of the client involved. */
  readonly userId?: number;
  /** Why a client's authentication failed (`ERR_CLIENT_AUTH`), e.g. `expired`. */
  readonly reason?: string;
  /** First and last sequence numbers skipped over a gap. */
  readonly missingFrom?: number;
  readonly missingTo?: number;
}

/** A problem caused by input from a peer. Reported, never thrown. */
export interface Problem {
  readonly code: ErrorCode;
  readonly message: string;
  readonly context: ProblemContext;
}

/** Thrown when the embedding program misuses the API (bad option, wrong state). */
export class MazeError extends Error {
  override readonly name = 'MazeError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

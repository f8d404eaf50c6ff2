/**
 * From the `nats…` settings (`NATS_OPTIONS`) to an open
 * `JetStreamEventLog`: the NATS connection options, then the connection, then the stream.
 *
 * Invariants:
 * - The settings are checked against their rows, like every other setting, and the login
 *   and TLS settings by nats-auth.ts (at most one way to log in, secrets only from files, no
 *   credentials in a URL), before connecting: `ERR_INVALID_OPTION`.
 * - Files (credentials, password, token, TLS, the log key) are read before connecting, so a
 *   missing one is named as such; once, however many attempts connecting takes.
 * - Startup fails fast and clearly: an unreachable server or a NATS without JetStream is one
 *   `ERR_LOG_UNAVAILABLE` line, within `NATS_CONNECT_TIMEOUT_MS` for the connection; a
 *   refused login or TLS handshake is one `ERR_LOG_AUTH` line, and is not tried again. Once
 *   connected, the client reconnects without end (a NATS restart is a pause of the log, not
 *   its end).
 */
import { readFileSync } from 'node:fs';
import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { checkOptionValue, type GivenOf } from '../options/option.js';
import { JetStreamEventLog } from './jetstream-event-log.js';
import { type LogKey, readLogKeyFile } from './log-key.js';
import { natsAuthOptions, natsServersOf, type ReadSettingFile, refusalOf } from './nats-auth.js';
import { messageOf } from './nats-error.js';
import { NATS_OPTIONS } from './options.js';

/**
 * Longest wait for a NATS server to accept the connection: an address that drops packets
 * fails in this time instead of the client's default 20 s (a refused one fails at once).
 */
export const NATS_CONNECT_TIMEOUT_MS = 5_000;
/** Pause before the NATS client tries a lost server again (the client's default is 2 s). */
export const NATS_RECONNECT_WAIT_MS = 250;
/** First pause before a server command tries NATS again at startup; it doubles each time. */
const NATS_RETRY_MIN_MS = 500;
/** Longest pause between a server command's attempts to reach NATS at startup. */
const NATS_RETRY_MAX_MS = 10_000;

/** The cluster settings, by their option names (`natsUrl`: NATS server URLs, comma-separated, required). */
export type NatsSettings = GivenOf<typeof NATS_OPTIONS>;

/**
 * The NATS client's connection options for `settings`. Throws `MazeError(ERR_INVALID_OPTION)`
 * for an invalid setting, conflicting authentication or an unreadable file.
 */
export function natsConnectOptions(
  settings: NatsSettings,
  readFile: ReadSettingFile = (path) => readFileSync(path, 'utf8'),
): NodeConnectionOptions {
  checkSettings(settings);
  return {
    servers: natsServersOf(settings.natsUrl),
    name: 'follower-maze',
    timeout: NATS_CONNECT_TIMEOUT_MS,
    waitOnFirstConnect: false,
    maxReconnectAttempts: -1,
    // The client's default waits 2 s before trying a server again: the log would stay paused
    // that long after a NATS restart.
    reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
    // The client gives up after two refused logins in a row by default: the log would stay
    // paused for good, even once the server takes the credentials again.
    ignoreAuthErrorAbort: true,
    ...natsAuthOptions(settings, readFile),
  };
}

/**
 * Connects to NATS and opens the event log on its JetStream (creating the stream if missing).
 * Rejects with `ERR_INVALID_OPTION` (settings), `ERR_LOG_UNAVAILABLE` (unreachable,
 * JetStream disabled), `ERR_LOG_AUTH` (NATS refused the login or the TLS handshake) or
 * `ERR_LOG_CONFIG` (a stream with other subjects). The log owns
 * the connection: its `close()` closes it.
 */
export async function connectEventLog(settings: NatsSettings): Promise<JetStreamEventLog> {
  return openEventLog(settings, natsConnectOptions(settings), logKeyIn(settings));
}

/** The log key `settings` name (`logKeyFile`), read now; `undefined` without one. */
function logKeyIn(settings: NatsSettings): LogKey | undefined {
  return settings.logKeyFile === undefined ? undefined : readLogKeyFile(settings.logKeyFile);
}

async function openEventLog(
  settings: NatsSettings,
  options: NodeConnectionOptions,
  logKey: LogKey | undefined,
): Promise<JetStreamEventLog> {
  let connection: Awaited<ReturnType<typeof connect>>;
  try {
    connection = await connect(options);
  } catch (error) {
    throw connectFailure(error, options);
  }
  try {
    return await JetStreamEventLog.open(connection, {
      stream: settings.natsStream,
      subject: settings.natsSubject,
      storage: settings.natsStorage,
      replicas: settings.natsReplicas,
      maxAge: settings.natsMaxAge,
      maxBytes: settings.natsMaxBytes,
      ownsConnection: true,
      ...(logKey === undefined ? {} : { logKey }),
    });
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/** What `connectEventLogPatiently()` reports while it tries again, and what stops it. */
export interface PatientConnect {
  /** Called after each failed attempt, before waiting. */
  report(problem: Problem): void;
  /** Aborting stops the attempts: the promise rejects with `ERR_LOG_UNAVAILABLE`. */
  readonly signal?: AbortSignal;
}

/**
 * `connectEventLog()`, tried again while NATS is unavailable (`ERR_LOG_UNAVAILABLE`: not
 * reachable yet, JetStream off), after a pause that doubles from
 * `NATS_RETRY_MIN_MS` up to `NATS_RETRY_MAX_MS`; each failure is reported. Any other
 * failure (a bad setting, a refused login or TLS handshake, a stream with other subjects)
 * rejects at once.
 */
export async function connectEventLogPatiently(
  settings: NatsSettings,
  patience: PatientConnect,
): Promise<JetStreamEventLog> {
  const options = natsConnectOptions(settings);
  const logKey = logKeyIn(settings);
  let pause = NATS_RETRY_MIN_MS;
  for (;;) {
    try {
      return await openEventLog(settings, options, logKey);
    } catch (error) {
      if (!(error instanceof MazeError) || error.code !== ErrorCode.LogUnavailable) throw error;
      if (patience.signal?.aborted) throw error;
      patience.report({
        code: error.code,
        message: `${error.message}; trying again in ${pause} ms`,
        context: {},
      });
      await abortableDelay(pause, patience.signal);
      if (patience.signal?.aborted) throw error;
      pause = Math.min(2 * pause, NATS_RETRY_MAX_MS);
    }
  }
}

function abortableDelay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Why `connect()` failed, for the log: `ERR_LOG_AUTH` naming what NATS refused and the
 * settings to check, else `ERR_LOG_UNAVAILABLE`.
 */
function connectFailure(error: unknown, options: NodeConnectionOptions): MazeError {
  const at = `NATS at ${String(options.servers)}`;
  switch (refusalOf(error)) {
    case 'login':
      return new MazeError(
        ErrorCode.LogAuth,
        `${at} refused the login: ${messageOf(error)} (check natsUser and natsPasswordFile, natsTokenFile or natsCreds, and the server's authorization)`,
      );
    case 'tls':
      return new MazeError(
        ErrorCode.LogAuth,
        `TLS with ${at} failed: ${messageOf(error)} (check natsTlsCa, natsTlsCert and natsTlsKey, and the server's tls block)`,
      );
    default: {
      // A server that wants a client certificate, and gets none or one it does not trust,
      // drops the connection after the handshake: the client sees only a timeout.
      const hint =
        options.tls !== undefined && /timeout/i.test(messageOf(error))
          ? ' (with TLS, also what a server that does not accept the client certificate, natsTlsCert, looks like)'
          : '';
      return new MazeError(
        ErrorCode.LogUnavailable,
        `cannot connect to ${at}: ${messageOf(error)}${hint}`,
      );
    }
  }
}

function checkSettings(settings: NatsSettings): void {
  for (const [name, row] of Object.entries(NATS_OPTIONS)) {
    const value = settings[name as keyof NatsSettings];
    if (value !== undefined) checkOptionValue(row, value, name);
  }
}

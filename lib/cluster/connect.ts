/**
 * From the `nats…` settings (`NATS_OPTIONS`) to an open
 * `JetStreamEventLog`: the NATS connection options, then the connection, then the stream.
 *
 * Invariants:
 * - The settings are checked against their rows, like every other setting, and
 *   conflicting authentication (a credentials file, user and password, a token: at most one)
 *   is refused before connecting: `ERR_INVALID_OPTION`.
 * - Files (credentials, CA, the log key) are read before connecting, so a missing one is
 *   named as such; the log key once, however many attempts connecting takes.
 * - Startup fails fast and clearly: an unreachable server, a refused login or a NATS without
 *   JetStream is one `ERR_LOG_UNAVAILABLE` line, within `NATS_CONNECT_TIMEOUT_MS` for the
 *   connection. Once connected, the client reconnects without end (a NATS restart is a pause
 *   of the log, not its end).
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { checkOptionValue, type GivenOf } from '../options/option.js';
import { JetStreamEventLog } from './jetstream-event-log.js';
import { type LogKey, readLogKeyFile } from './log-key.js';
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

/** Reads a file for the connection options; `readFileSync` unless a test says otherwise. */
export type ReadSettingFile = (path: string) => string;

/**
 * The NATS client's connection options for `settings`. Throws `MazeError(ERR_INVALID_OPTION)`
 * for an invalid setting, conflicting authentication or an unreadable file.
 */
export function natsConnectOptions(
  settings: NatsSettings,
  readFile: ReadSettingFile = (path) => readFileSync(path, 'utf8'),
): NodeConnectionOptions {
  checkSettings(settings);
  const servers = (settings.natsUrl ?? '')
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server !== '');
  if (servers.length === 0) {
    throw invalid('natsUrl is required: nats://host:4222');
  }
  const ways = [
    settings.natsCreds === undefined ? undefined : 'natsCreds',
    settings.natsUser === undefined && settings.natsPassword === undefined
      ? undefined
      : 'natsUser/natsPassword',
    settings.natsToken === undefined ? undefined : 'natsToken',
  ].filter((way) => way !== undefined);
  if (ways.length > 1) {
    throw invalid(`give one way to log in to NATS, not ${ways.join(' and ')}`);
  }
  if ((settings.natsUser === undefined) !== (settings.natsPassword === undefined)) {
    throw invalid('natsUser and natsPassword go together: give both or neither');
  }
  const options: NodeConnectionOptions = {
    servers,
    name: 'follower-maze',
    timeout: NATS_CONNECT_TIMEOUT_MS,
    waitOnFirstConnect: false,
    maxReconnectAttempts: -1,
    // The client's default waits 2 s before trying a server again: the log would stay paused
    // that long after a NATS restart.
    reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
  };
  if (settings.natsCreds !== undefined) {
    const creds = readSettingFile(readFile, settings.natsCreds, 'natsCreds');
    options.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  }
  if (settings.natsUser !== undefined) {
    options.user = settings.natsUser;
    options.pass = settings.natsPassword as string;
  }
  if (settings.natsToken !== undefined) options.token = settings.natsToken;
  if (settings.natsTlsCa !== undefined) {
    options.tls = { ca: readSettingFile(readFile, settings.natsTlsCa, 'natsTlsCa') };
  }
  return options;
}

/**
 * Connects to NATS and opens the event log on its JetStream (creating the stream if missing).
 * Rejects with `ERR_INVALID_OPTION` (settings), `ERR_LOG_UNAVAILABLE` (unreachable, refused
 * login, JetStream disabled) or `ERR_LOG_CONFIG` (a stream with other subjects). The log owns
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
    throw new MazeError(
      ErrorCode.LogUnavailable,
      `cannot connect to NATS at ${String(options.servers)}: ${messageOf(error)}`,
    );
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
 * reachable yet, a refused login, JetStream off), after a pause that doubles from
 * `NATS_RETRY_MIN_MS` up to `NATS_RETRY_MAX_MS`; each failure is reported. Any other
 * failure (a bad setting, a stream with other subjects) rejects at once.
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

function checkSettings(settings: NatsSettings): void {
  for (const [name, row] of Object.entries(NATS_OPTIONS)) {
    const value = settings[name as keyof NatsSettings];
    if (value !== undefined) checkOptionValue(row, value, name);
  }
}

function readSettingFile(readFile: ReadSettingFile, path: string, name: string): string {
  try {
    return readFile(path);
  } catch (error) {
    throw invalid(`cannot read the ${name} file ${path}: ${messageOf(error)}`);
  }
}

function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

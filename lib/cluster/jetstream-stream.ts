/**
 * The stream of a JetStream event log: found, or created with one subject; its retention set.
 *
 * Invariants:
 * - The stream has exactly one subject, the log's: a stream with other subjects is refused
 *   (`ERR_LOG_CONFIG`), since a foreign message would be a hole in the log.
 * - The storage and replicas of an existing stream are left as they are; its retention (max
 *   age, max bytes, and the duplicate window that follows them) is set only when given.
 * - Identity: the epoch is the stream's creation time (JetStream keeps it across restarts; a
 *   stream deleted and created again has another). The writer's settings live in the
 *   stream's description, `follower-maze log settings {…}` (JSON, with the log's
 *   `firstPosition`): nats-server 2.9 has no stream metadata. Whoever creates the stream
 *   (ingest, gateway, snapshot writer) marks it with the description `SETTINGS_PENDING`; any
 *   description but a record (that mark, none, an operator's) means "not recorded yet", and
 *   the writer replaces it with its settings once its first batch is in the stream (an
 *   update of the whole configuration, not a compare-and-set: every process compares the
 *   record it read with the stream's, `checkLogRecord()`). A
 *   description that opens like a record but is none is refused (`ERR_LOG_CONFIG`): the
 *   settings the log was written with are unknown.
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  StorageType,
  type StreamInfo,
} from '@nats-io/jetstream';
import { ErrorCode, MazeError } from '../errors.js';
import type { LogIdentity, LogSettings } from './event-log.js';
import { messageOf } from './nats-error.js';
import { NATS_OPTIONS } from './options.js';

/** JetStream's default window for duplicate message ids, which a stream with a shorter max age must not exceed. */
const NATS_DUPLICATE_WINDOW_S = 120;

/** How the log's stream is found or made. */
export interface StreamSetup {
  readonly stream: string;
  readonly subject: string;
  /** Storage of a stream created here. */
  readonly storage: 'file' | 'memory';
  /** Replicas of a stream created here. */
  readonly replicas: number;
  /** Seconds the stream keeps a batch, 0 for ever; given (or `maxBytes`), set on the stream. */
  readonly maxAge?: number | undefined;
  /** Bytes the stream keeps, 0 without limit; see `maxAge`. */
  readonly maxBytes?: number | undefined;
}

/** Finds the stream or creates it; refuses a stream with other subjects. */
export async function ensureStream(manager: JetStreamManager, options: StreamSetup): Promise<void> {
  const { stream, subject } = options;
  let subjects: readonly string[];
  try {
    subjects = (await streamSubjects(manager, stream)) ?? (await createStream(manager, options));
  } catch (error) {
    if (error instanceof MazeError) throw error;
    const message = messageOf(error);
    if (/subjects overlap/i.test(message)) {
      throw new MazeError(
        ErrorCode.LogConfig,
        `cannot create stream ${stream}: another stream already takes subject "${subject}"; give each stream its own subject (natsSubject)`,
      );
    }
    throw new MazeError(ErrorCode.LogFailed, `cannot find or create stream ${stream}: ${message}`);
  }
  if (subjects.length !== 1 || subjects[0] !== subject) {
    throw new MazeError(
      ErrorCode.LogConfig,
      `stream ${stream} exists with subjects ${JSON.stringify(subjects)}, not just "${subject}": give another stream name, or this stream's subject`,
    );
  }
  if (options.maxAge !== undefined || options.maxBytes !== undefined) {
    await applyRetention(manager, options);
  }
}

const NANOS_PER_SECOND = 1e9;

/** The stream's limits as JetStream counts them: durations in nanoseconds, 0 or -1 for none. */
function retentionOf(options: StreamSetup) {
  const maxAge = options.maxAge ?? NATS_OPTIONS.natsMaxAge.default;
  const maxBytes = options.maxBytes ?? NATS_OPTIONS.natsMaxBytes.default;
  return {
    max_age: maxAge * NANOS_PER_SECOND,
    max_bytes: maxBytes === 0 ? -1 : maxBytes,
    // A stream may not remember message ids longer than it keeps its messages.
    duplicate_window:
      (maxAge === 0 ? NATS_DUPLICATE_WINDOW_S : Math.min(maxAge, NATS_DUPLICATE_WINDOW_S)) *
      NANOS_PER_SECOND,
  };
}

/** Sets the stream's retention to `options`' when it differs. */
async function applyRetention(manager: JetStreamManager, options: StreamSetup): Promise<void> {
  const wanted = retentionOf(options);
  try {
    const { config } = await manager.streams.info(options.stream);
    if (
      config.max_age === wanted.max_age &&
      config.max_bytes === wanted.max_bytes &&
      config.duplicate_window === wanted.duplicate_window
    ) {
      return;
    }
    await manager.streams.update(options.stream, wanted);
  } catch (error) {
    throw new MazeError(
      ErrorCode.LogConfig,
      `cannot set the retention of stream ${options.stream}: ${messageOf(error)}`,
    );
  }
}

/** The subjects of `stream`, or `undefined` if there is no such stream. */
async function streamSubjects(
  manager: JetStreamManager,
  stream: string,
): Promise<readonly string[] | undefined> {
  try {
    return (await manager.streams.info(stream)).config.subjects ?? [];
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      return undefined;
    }
    throw error;
  }
}

async function createStream(
  manager: JetStreamManager,
  options: StreamSetup,
): Promise<readonly string[]> {
  try {
    const info = await manager.streams.add({
      name: options.stream,
      description: SETTINGS_PENDING,
      subjects: [options.subject],
      storage: storageType(options.storage),
      num_replicas: options.replicas,
      ...retentionOf(options),
    });
    return info.config.subjects ?? [];
  } catch (error) {
    // Another process created it meanwhile (with another configuration): check that one.
    const subjects = await streamSubjects(manager, options.stream);
    if (subjects === undefined) throw error;
    return subjects;
  }
}

/** JetStream's storage type for the option's word. */
export function storageType(storage: 'file' | 'memory'): StorageType {
  return storage === 'memory' ? StorageType.Memory : StorageType.File;
}

/** What opens the description of a stream that records its writer's settings. */
const SETTINGS_PREFIX = 'follower-maze log settings ';
/** The description of a stream created by this version before its writer records settings. */
const SETTINGS_PENDING = 'follower-maze log, settings not recorded yet';

/** The identity of `stream`: see `EventLog.identity()`. */
export async function streamIdentity(
  manager: JetStreamManager,
  stream: string,
): Promise<LogIdentity> {
  return identityOf(await infoOf(manager, stream));
}

/**
 * Records `settings` and `firstPosition` (the position of the writer's first batch) in
 * `stream`'s description unless it records settings already.
 */
export async function recordStreamSettings(
  manager: JetStreamManager,
  stream: string,
  settings: LogSettings,
  firstPosition: number,
): Promise<LogIdentity> {
  const info = await infoOf(manager, stream);
  const identity = identityOf(info);
  if (identity.settings !== undefined) return identity;
  const { maxFollowEdges, startSequence, delimiter } = settings;
  const recorded = { maxFollowEdges, startSequence, delimiter, firstPosition };
  try {
    await manager.streams.update(stream, {
      description: `${SETTINGS_PREFIX}${JSON.stringify(recorded)}`,
    });
  } catch (error) {
    throw new MazeError(
      ErrorCode.LogFailed,
      `cannot record the settings in stream ${stream}: ${messageOf(error)} (this process's NATS user must be allowed to publish on $JS.API.STREAM.UPDATE.${stream})`,
    );
  }
  // Read again: another writer may have recorded its own first.
  return streamIdentity(manager, stream);
}

async function infoOf(manager: JetStreamManager, stream: string): Promise<StreamInfo> {
  try {
    return await manager.streams.info(stream);
  } catch (error) {
    throw new MazeError(
      ErrorCode.LogFailed,
      `cannot read the configuration of stream ${stream}: ${messageOf(error)}`,
    );
  }
}

function identityOf(info: StreamInfo): LogIdentity {
  const { description = '' } = info.config;
  if (!description.startsWith(SETTINGS_PREFIX)) {
    return { epoch: info.created, settings: undefined, firstPosition: 1 };
  }
  const recorded = recordedIn(description.slice(SETTINGS_PREFIX.length));
  if (recorded === undefined) {
    throw new MazeError(
      ErrorCode.LogConfig,
      `stream ${info.config.name} has the description ${JSON.stringify(description)}, not a record of its writer's settings: the settings its log was written with are unknown; delete the stream (and its snapshot bucket) and start the cluster on a new one`,
    );
  }
  return { epoch: info.created, ...recorded };
}

/** The settings a record (the description after `SETTINGS_PREFIX`) holds; `undefined`: none. */
function recordedIn(
  record: string,
): { readonly settings: LogSettings; readonly firstPosition: number } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(record);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { maxFollowEdges, startSequence, delimiter, firstPosition } = parsed as Record<
    string,
    unknown
  >;
  if (
    typeof maxFollowEdges !== 'number' ||
    typeof startSequence !== 'number' ||
    typeof delimiter !== 'string' ||
    typeof firstPosition !== 'number' ||
    !Number.isSafeInteger(firstPosition) ||
    firstPosition < 1
  ) {
    return undefined;
  }
  return { settings: { maxFollowEdges, startSequence, delimiter }, firstPosition };
}

/**
 * The shared key that authenticates the log's batches (docs/protocol.md §11): the ingest
 * signs each batch with an HMAC-SHA-256 tag, every reader verifies it and takes a batch
 * without a right tag for a foreign message.
 *
 * Invariants:
 * - The key lives in a `KeyObject`: printing or serialising one shows its size, never its
 *   bytes, so a key cannot leak into a log line, `/stats` or the banner by accident.
 * - A key is at least `MIN_LOG_KEY_BYTES` bytes; a shorter one, a missing or empty file is
 *   `ERR_INVALID_OPTION`, before anything connects.
 * - Tags are compared in constant time (`timingSafeEqual`).
 */
import { Buffer } from 'node:buffer';
import { createHmac, createSecretKey, KeyObject, timingSafeEqual } from 'node:crypto';
import { ErrorCode, MazeError } from '../errors.js';
import { type ReadBytes, readSecretFile } from '../options/secret-file.js';

/**
 * Fewest bytes of a log key: HMAC-SHA-256 is as strong as its key up to the hash's 32 bytes
 * (`openssl rand -hex 32` writes 64).
 */
export const MIN_LOG_KEY_BYTES = 32;

/** Hex digits of a tag: an HMAC-SHA-256 is 32 bytes. */
export const LOG_TAG_LENGTH = 64;

/** The key every process of a cluster signs or verifies batches with. */
export type LogKey = KeyObject;

/** A log key as a library option takes it: its bytes (a string as UTF-8), or the key. */
export type LogKeyInput = LogKey | Uint8Array | string;

/**
 * The log key of `secret` (its bytes; a string is taken as UTF-8). Throws
 * `MazeError(ERR_INVALID_OPTION)` when it is shorter than `MIN_LOG_KEY_BYTES`.
 */
export function logKeyOf(secret: LogKeyInput): LogKey {
  if (secret instanceof KeyObject) {
    if (secret.type === 'secret' && (secret.symmetricKeySize ?? 0) >= MIN_LOG_KEY_BYTES) {
      return secret;
    }
    throw new MazeError(
      ErrorCode.InvalidOption,
      `a log key needs a secret key of at least ${MIN_LOG_KEY_BYTES} bytes`,
    );
  }
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_LOG_KEY_BYTES) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `a log key needs at least ${MIN_LOG_KEY_BYTES} bytes, got ${bytes.length}: write one with openssl rand -hex 32`,
    );
  }
  const key = createSecretKey(bytes);
  bytes.fill(0);
  return key;
}

/**
 * The log key in file `path`, read once: its bytes, less one trailing line break (so a key
 * written by `openssl rand -hex 32 > file` is the same for every process). Throws
 * `MazeError(ERR_INVALID_OPTION)` for a file that cannot be read, is empty or too short.
 */
export function readLogKeyFile(path: string, readFile?: ReadBytes): LogKey {
  const secret = readSecretFile(path, 'logKeyFile', readFile);
  try {
    return logKeyOf(secret);
  } catch (error) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `the logKeyFile ${path}: ${(error as Error).message}`,
    );
  } finally {
    secret.fill(0);
  }
}

/** The tag of the bytes `signed` (a batch without its tag, in parts): lowercase hex. */
export function logTagOf(key: LogKey, signed: readonly Uint8Array[]): string {
  return hmacOf(key, signed).toString('hex');
}

/** Whether `tag` (lowercase hex) is the tag of `signed` under `key`, in constant time. */
export function hasLogTag(key: LogKey, signed: readonly Uint8Array[], tag: string): boolean {
  const expected = hmacOf(key, signed);
  const given = Buffer.from(tag, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function hmacOf(key: LogKey, signed: readonly Uint8Array[]): Buffer {
  const hmac = createHmac('sha256', key);
  for (const part of signed) hmac.update(part);
  return hmac.digest();
}

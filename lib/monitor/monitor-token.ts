/**
 * The monitoring port's bearer token (`--monitor-token-file`, `startMonitor({ token })`):
 * every path but `/healthz` needs `Authorization: Bearer <token>`.
 *
 * Invariants:
 * - The token is compared in constant time: both sides are hashed (SHA-256) first, so
 *   `timingSafeEqual` always compares equal lengths and the time says nothing about the token.
 * - The token is kept only as its digest and never appears in a message, a log or an error:
 *   a bad file is named by its path, a bad token by what is wrong with it.
 * - A token is visible ASCII without spaces (it travels in a header and is typed into curl).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, MazeError } from '../errors.js';
import { readSecretFile } from '../options/secret-file.js';

/** What `Authorization` must start with (the scheme is case-insensitive). */
const BEARER = /^bearer +/i;
/** Printable ASCII, no space: what a header carries unchanged. */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/** The monitor's check of `Authorization` headers against one token. */
export class MonitorToken {
  readonly #digest: Buffer;

  /** Throws `ERR_INVALID_OPTION` for an empty token or one with spaces or control characters. */
  constructor(token: string) {
    this.#digest = digestOf(checkMonitorToken(token));
  }

  /** Whether `authorization` (the header, if any) is `Bearer` and this token. */
  admits(authorization: string | undefined): boolean {
    if (authorization === undefined || !BEARER.test(authorization)) return false;
    return timingSafeEqual(digestOf(authorization.replace(BEARER, '')), this.#digest);
  }
}

/** `token` if it can be one; throws `ERR_INVALID_OPTION` (without quoting it) otherwise. */
function checkMonitorToken(token: unknown): string {
  if (typeof token !== 'string' || !TOKEN_CHARACTERS.test(token)) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      'the monitor token must be printable ASCII without spaces, and not empty',
    );
  }
  return token;
}

function digestOf(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * The token in file `path`, less one trailing line break (so `openssl rand -hex 32 > file`
 * works). Throws `ERR_INVALID_OPTION` for a file that cannot be read, is empty, or holds
 * something that cannot be a token.
 */
export function readMonitorTokenFile(path: string): string {
  const token = readSecretFile(path, 'monitorTokenFile').toString('utf8');
  try {
    return checkMonitorToken(token);
  } catch (error) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `the monitorTokenFile ${path}: ${(error as Error).message}`,
    );
  }
}

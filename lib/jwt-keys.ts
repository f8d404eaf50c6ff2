/**
 * JWT key material read from files, for the server's `--client-auth jwt` and the simulator
 * that signs its clients' tokens: one set of rules for both.
 *
 * Invariants:
 * - A secret is the file's bytes without an editor's final newline, and has at least
 *   `MIN_SECRET_BYTES`. A key is PEM; each kind is for one algorithm only (`algorithmOf`).
 * - A file that cannot be read or holds no usable key throws `MazeError(ERR_INVALID_OPTION)`
 *   naming the option and the file, never what it holds. No `jose` here: the main entry and
 *   option checks stay free of it.
 */
import type { KeyObject } from 'node:crypto';
import { ErrorCode, MazeError } from './errors.js';
import { withoutLineBreak } from './options/secret-file.js';

/**
 * Shortest HS256 secret accepted: RFC 7518 §3.2 asks for a key at least as long as the hash
 * (256 bits); a shorter one can be guessed offline from any token.
 */
const MIN_SECRET_BYTES = 32;

/** The one algorithm each kind of key is for. */
const ALGORITHM_OF_KEY: Readonly<Record<string, string>> = {
  rsa: 'RS256',
  ec: 'ES256',
  ed25519: 'EdDSA',
};

/** The HS256 secret a file holds. */
export function secretOf(label: string, path: string, text: Buffer): Uint8Array {
  const secret = withoutLineBreak(text);
  if (secret.length < MIN_SECRET_BYTES) {
    throw invalid(
      `${label} ${path} holds ${secret.length} bytes; an HS256 secret needs at least ${MIN_SECRET_BYTES}`,
    );
  }
  return secret;
}

/** The algorithm `key` (read from `path`) is for: RS256, ES256 (P-256) or EdDSA (Ed25519). */
export function algorithmOf(label: string, path: string, key: KeyObject): string {
  const type = key.asymmetricKeyType ?? '';
  const algorithm = ALGORITHM_OF_KEY[type];
  if (
    algorithm === undefined ||
    (type === 'ec' && key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
  ) {
    throw invalid(
      `${label} ${path} is a ${type} key; it must be RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA)`,
    );
  }
  return algorithm;
}

export function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

/**
 * The command line's JWT client authentication (`--client-auth jwt`): one implementation of
 * the library's `authenticate` hook, with `jose`. Loaded only when asked for
 * (client-auth-options.ts), so no other path loads `jose`.
 *
 * Invariants:
 * - A token is accepted only if its signature verifies with the configured key under the one
 *   algorithm that key is for (HS256 for a secret; RS256, ES256 or EdDSA for a public key:
 *   never `none`, never a secret checked against a public key), `exp` and `nbf` hold within
 *   `JWT_CLOCK_TOLERANCE_S`, `aud` and `iss` match when configured, and `sub` is a user id
 *   by the id line's rules (decimal digits, `0..MAX_SAFE_INTEGER`).
 * - Each refusal has one reason (`AuthRefusalReason`); the token itself never leaves here
 *   (neither jose's errors nor ours quote it).
 * - A token with `exp` stops being valid at `exp` plus the tolerance: the connection is
 *   closed then unless it sent a fresh one (`expiresAt`).
 */
import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { Authenticate, Authentication } from '../adapter/client-auth.js';
import { readId } from '../core/parser.js';

/**
 * Seconds by which `exp` and `nbf` may be off: the clocks of the machine that mints tokens
 * and of the server may disagree by this much (NTP keeps them within a second or so).
 */
export const JWT_CLOCK_TOLERANCE_S = 10;

/** What tokens are checked against. */
export interface JwtVerifier {
  /** The HS256 secret, or the public key (RS256, ES256, EdDSA). */
  readonly key: Uint8Array | KeyObject;
  /** The one algorithm the key is for. */
  readonly algorithms: readonly string[];
  readonly audience?: string | undefined;
  readonly issuer?: string | undefined;
}

/** Verifies one token: the user its `sub` names (until when), or why it is refused. */
export async function verifyClientToken(
  token: string,
  verifier: JwtVerifier,
): Promise<Authentication> {
  let payload: { readonly sub?: unknown; readonly exp?: unknown };
  try {
    ({ payload } = await jwtVerify(token, verifier.key, {
      algorithms: [...verifier.algorithms],
      clockTolerance: JWT_CLOCK_TOLERANCE_S,
      ...(verifier.audience !== undefined && { audience: verifier.audience }),
      ...(verifier.issuer !== undefined && { issuer: verifier.issuer }),
    }));
  } catch (error) {
    return { refused: refusalOf(error) };
  }
  const sub = payload.sub;
  const userId = typeof sub === 'string' ? readId(sub, 0, sub.length) : -1;
  if (userId < 0) return { refused: 'subject' };
  return typeof payload.exp === 'number'
    ? { userId, expiresAt: (payload.exp + JWT_CLOCK_TOLERANCE_S) * 1000 }
    : { userId };
}

/** The `authenticate` hook of `--client-auth jwt`: the credential is the token. */
export function jwtAuthenticate(verifier: JwtVerifier): Authenticate {
  return (token) => verifyClientToken(token, verifier);
}

// jose's error codes: stable strings, so no instanceof across copies of the package.
function refusalOf(error: unknown): Exclude<Authentication, { userId: number }>['refused'] {
  const { code, claim } = error as { code?: unknown; claim?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'signature';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf') return 'not-yet-valid';
      if (claim === 'aud') return 'audience';
      if (claim === 'iss') return 'issuer';
      if (claim === 'sub') return 'subject';
      return 'malformed';
    default:
      return 'malformed';
  }
}

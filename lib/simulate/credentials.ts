/**
 * What the simulator's clients identify with: their user id, or, for a server with
 * `--client-auth jwt`, a token signed for each user (`jwtSecretFile`, `jwtPrivateKey`).
 *
 * Invariants:
 * - One token per user, signed once, the first time the user connects, and reused on every
 *   reconnection; `sub` is the user id, `exp` lies beyond the whole run (`TOKEN_LIFETIME_S`).
 * - `jose` is loaded only when a key is given, so a plain run never loads it.
 */
import { createPrivateKey } from 'node:crypto';
import { algorithmOf, invalid, secretOf } from '../jwt-keys.js';
import { readSettingFile } from '../options/secret-file.js';
import type { ResolvedSimulateOptions } from './options.js';

/**
 * How long a token stays valid: longer than any run is given (a day), so a verified run
 * never sees a client closed for an expired token.
 */
const TOKEN_LIFETIME_S = 24 * 60 * 60;

/** The options that name key files, as a user gives them. */
const SECRET_FLAG = '--jwt-secret-file';
const PRIVATE_KEY_FLAG = '--jwt-private-key';

/** The first field of a user's id line (the user id, or its token). */
export type IdField = (userId: number) => Promise<string>;

/** The id field of each user the options ask for. Throws `ERR_INVALID_OPTION` for a bad key. */
export async function idFieldsOf(options: ResolvedSimulateOptions): Promise<IdField> {
  const { jwtSecretFile, jwtPrivateKey } = options;
  if (jwtSecretFile === undefined && jwtPrivateKey === undefined) {
    return (userId) => Promise.resolve(String(userId));
  }
  const { key, algorithm } =
    jwtSecretFile === undefined
      ? privateKeyOf(jwtPrivateKey as string)
      : {
          key: secretOf(SECRET_FLAG, jwtSecretFile, readSettingFile(jwtSecretFile, SECRET_FLAG)),
          algorithm: 'HS256',
        };
  const { SignJWT } = await import('jose');
  const expiresAt = Math.floor(Date.now() / 1000) + TOKEN_LIFETIME_S;
  const tokens = new Map<number, Promise<string>>();
  return (userId) => {
    let token = tokens.get(userId);
    if (token === undefined) {
      let claims = new SignJWT({})
        .setProtectedHeader({ alg: algorithm })
        .setSubject(String(userId))
        .setIssuedAt()
        .setExpirationTime(expiresAt);
      if (options.jwtAudience !== undefined) claims = claims.setAudience(options.jwtAudience);
      if (options.jwtIssuer !== undefined) claims = claims.setIssuer(options.jwtIssuer);
      token = claims.sign(key);
      tokens.set(userId, token);
    }
    return token;
  };
}

function privateKeyOf(path: string) {
  const pem = readSettingFile(path, PRIVATE_KEY_FLAG);
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw invalid(`${PRIVATE_KEY_FLAG} ${path} is not a PEM private key`);
  }
  return { key, algorithm: algorithmOf(PRIVATE_KEY_FLAG, path, key) };
}

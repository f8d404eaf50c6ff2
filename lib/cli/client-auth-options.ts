/**
 * How the command line's clients prove who they are (`--client-auth`): the rows of its
 * options, and the `authenticate` hook they stand for, checked and loaded at startup.
 *
 * Invariants:
 * - Without `--client-auth` (or with `none`) nothing changes: no hook, the id line is the id.
 *   A `--jwt-…` option without `--client-auth jwt` is refused, as is `jwt` without exactly
 *   one key: nothing is ignored silently. With `jwt`, an id line is a token line of up to
 *   `MAX_TOKEN_LINE_LENGTH` whatever `--max-id-line-length` says, as that option's row tells.
 * - Keys are read from files (never flags: a secret on the command line shows in `ps`), once,
 *   at startup; a file that cannot be read or is not a key stops startup
 *   (`ERR_INVALID_OPTION`), naming the file, never its content.
 * - `jose` is loaded only here, only for `jwt` (jwt-auth.ts).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Authenticate } from '../adapter/client-auth.js';
import { algorithmOf, invalid, secretOf } from '../jwt-keys.js';
import { flagOf, type OptionRow } from '../options/option.js';
import { readSettingFile } from '../options/secret-file.js';

/** The ways a client can prove its user id. */
export const CLIENT_AUTH_MODES = ['none', 'jwt'] as const;

const SECRET_FLAG = '--jwt-secret-file';
const PUBLIC_KEY_FLAG = '--jwt-public-key';

/** The rows, by option name. */
export const CLIENT_AUTH_OPTIONS = {
  clientAuth: {
    type: 'choice',
    choices: CLIENT_AUTH_MODES,
    default: 'none',
    describe:
      'How clients prove their user id: none (the id line is the id) or jwt (a JSON Web Token whose sub is the id)',
  },
  jwtSecretFile: {
    type: 'string',
    default: undefined,
    describe:
      'File holding the HS256 secret of client tokens (--client-auth jwt; 32 bytes or more)',
  },
  jwtPublicKey: {
    type: 'string',
    default: undefined,
    describe:
      'PEM file of the public key of client tokens: RS256, ES256 or EdDSA (--client-auth jwt)',
  },
  jwtAudience: {
    type: 'string',
    default: undefined,
    describe: 'The aud claim client tokens must carry (--client-auth jwt)',
  },
  jwtIssuer: {
    type: 'string',
    default: undefined,
    describe: 'The iss claim client tokens must carry (--client-auth jwt)',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

/** The settings of the rows, decided. */
export interface ClientAuthArgs {
  readonly clientAuth: (typeof CLIENT_AUTH_MODES)[number];
  readonly jwtSecretFile: string | undefined;
  readonly jwtPublicKey: string | undefined;
  readonly jwtAudience: string | undefined;
  readonly jwtIssuer: string | undefined;
}

/**
 * The `authenticate` hook the settings ask for (`undefined` for `none`). Throws
 * `MazeError(ERR_INVALID_OPTION)` on a contradiction or a file that is not a key.
 */
export async function loadClientAuth(
  args: ClientAuthArgs,
  readFile: (path: string) => Buffer = readFileSync,
): Promise<Authenticate | undefined> {
  const given = (['jwtSecretFile', 'jwtPublicKey', 'jwtAudience', 'jwtIssuer'] as const).filter(
    (name) => args[name] !== undefined,
  );
  if (args.clientAuth === 'none') {
    if (given.length > 0) {
      throw invalid(`--${flagOf({ name: given[0] as string })} needs --client-auth jwt`);
    }
    return undefined;
  }
  const { jwtSecretFile, jwtPublicKey } = args;
  if ((jwtSecretFile === undefined) === (jwtPublicKey === undefined)) {
    throw invalid(
      '--client-auth jwt needs exactly one of --jwt-secret-file (HS256) and --jwt-public-key (RS256, ES256, EdDSA)',
    );
  }
  const { key, algorithm } =
    jwtSecretFile === undefined
      ? publicKeyOf(jwtPublicKey as string, readFile)
      : {
          key: secretOf(
            SECRET_FLAG,
            jwtSecretFile,
            readSettingFile(jwtSecretFile, SECRET_FLAG, readFile),
          ),
          algorithm: 'HS256',
        };
  const { jwtAuthenticate } = await import('./jwt-auth.js');
  return jwtAuthenticate({
    key,
    algorithms: [algorithm],
    audience: args.jwtAudience,
    issuer: args.jwtIssuer,
  });
}

function publicKeyOf(
  path: string,
  readFile: (path: string) => Buffer,
): { key: KeyObject; algorithm: string } {
  const pem = readSettingFile(path, PUBLIC_KEY_FLAG, readFile);
  // Node would derive the public key from a private one: the server must not hold that.
  if (pem.includes('PRIVATE KEY')) {
    throw invalid(
      `${PUBLIC_KEY_FLAG} ${path} holds a private key; give the server the public key only`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw invalid(`${PUBLIC_KEY_FLAG} ${path} is not a PEM public key`);
  }
  return { key, algorithm: algorithmOf(PUBLIC_KEY_FLAG, path, key) };
}

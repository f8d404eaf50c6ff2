/**
 * How a process proves itself to NATS, and checks NATS in turn (docs/cluster.md, "A secured
 * connection to NATS"): the login (a credentials file, a user with a password file, or a
 * token file: at most one) and TLS (the CA of the server's certificate, a client certificate
 * and its key), read from files into the NATS client's options; and which failures to connect
 * are NATS refusing them.
 *
 * Invariants:
 * - Secrets come only from files, never from a setting's value, so they never show in `ps`,
 *   `--help`, the banner or `/stats`; messages name a file and why it was refused, never
 *   quote what it holds. A server URL with credentials in it (`nats://user:pass@host`) is
 *   refused without quoting it.
 * - Everything is checked before connecting: an unreadable or empty file, a credentials file
 *   that cannot sign, a CA that is not a certificate, a key that does not match its
 *   certificate are `ERR_INVALID_OPTION`.
 * - A login NATS refuses, or a TLS handshake that fails on a certificate or on TLS being on at
 *   one end only, is `refusalOf()` a refusal: trying again would not change it.
 */
import { createSecureContext } from 'node:tls';
import {
  credsAuthenticator,
  errors,
  type NodeConnectionOptions,
  type TlsOptions,
} from '@nats-io/transport-node';
import { ErrorCode, MazeError } from '../errors.js';
import { checkCertificateList } from '../net/pem.js';
import {
  type ReadBytes,
  readSettingFile as readBytes,
  readSecretFile,
} from '../options/secret-file.js';
import { messageOf } from './nats-error.js';

/** Reads a file for the connection options, as UTF-8 text. */
export type ReadSettingFile = (path: string) => string;

/** The settings this module reads, by their option names (`NATS_OPTIONS`). */
export interface NatsAuthSettings {
  readonly natsCreds?: string | undefined;
  readonly natsUser?: string | undefined;
  readonly natsPasswordFile?: string | undefined;
  readonly natsTokenFile?: string | undefined;
  readonly natsTlsCa?: string | undefined;
  readonly natsTlsCert?: string | undefined;
  readonly natsTlsKey?: string | undefined;
}

/** What NATS refused: the login, or the TLS handshake. */
export type NatsRefusal = 'login' | 'tls';

/** The NATS client's options that carry the login and TLS. */
export type NatsAuthOptions = Pick<
  NodeConnectionOptions,
  'authenticator' | 'user' | 'pass' | 'token' | 'tls'
>;

/**
 * The server URLs of `natsUrl` (comma-separated). Throws `MazeError(ERR_INVALID_OPTION)` for
 * none, or for one with credentials before its host.
 */
export function natsServersOf(natsUrl: string | undefined): string[] {
  const servers = (natsUrl ?? '')
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server !== '');
  if (servers.length === 0) throw invalid('natsUrl is required: nats://host:4222');
  // `user:pass@host` or `token@host`, with or without a scheme; a path never comes before it.
  if (servers.some((server) => /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/]*@/i.test(server))) {
    throw invalid(
      'natsUrl must not carry credentials (user:password@ or token@ before the host): a URL shows in ps and in logs; give natsUser with natsPasswordFile, natsTokenFile or natsCreds',
    );
  }
  return servers;
}

/**
 * The login and TLS options of `settings`, every file read and checked now. Throws
 * `MazeError(ERR_INVALID_OPTION)` for conflicting or half-given settings and for a file that
 * cannot be read or used.
 */
export function natsAuthOptions(
  settings: NatsAuthSettings,
  readFile: ReadSettingFile,
): NatsAuthOptions {
  const ways = [
    settings.natsCreds === undefined ? undefined : 'natsCreds',
    settings.natsUser === undefined && settings.natsPasswordFile === undefined
      ? undefined
      : 'natsUser/natsPasswordFile',
    settings.natsTokenFile === undefined ? undefined : 'natsTokenFile',
  ].filter((way) => way !== undefined);
  if (ways.length > 1) {
    throw invalid(`give one way to log in to NATS, not ${ways.join(' and ')}`);
  }
  if ((settings.natsUser === undefined) !== (settings.natsPasswordFile === undefined)) {
    throw invalid('natsUser and natsPasswordFile go together: give both or neither');
  }
  if ((settings.natsTlsCert === undefined) !== (settings.natsTlsKey === undefined)) {
    throw invalid('natsTlsCert and natsTlsKey go together: give both or neither');
  }
  const options: NatsAuthOptions = {};
  if (settings.natsCreds !== undefined) {
    options.authenticator = credsOf(settings.natsCreds, readFile);
  }
  if (settings.natsUser !== undefined && settings.natsPasswordFile !== undefined) {
    options.user = settings.natsUser;
    options.pass = secretIn(settings.natsPasswordFile, 'natsPasswordFile', readFile);
  }
  if (settings.natsTokenFile !== undefined) {
    options.token = secretIn(settings.natsTokenFile, 'natsTokenFile', readFile);
  }
  const tls = tlsOf(settings, readFile);
  if (tls !== undefined) options.tls = tls;
  return options;
}

/**
 * What NATS refused when `error` (from the client's `connect()`) is a refusal: an
 * authorization violation or expired credentials (`login`), or a TLS handshake that failed
 * on a certificate or on TLS at one end only (`tls`); `undefined` for anything else (not
 * reachable, a timeout), which may pass.
 */
export function refusalOf(error: unknown): NatsRefusal | undefined {
  if (
    error instanceof errors.AuthorizationError ||
    error instanceof errors.UserAuthenticationExpiredError
  ) {
    return 'login';
  }
  if (!(error instanceof Error)) return undefined;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  // Node's certificate checks (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED, …) and
  // OpenSSL's failures; the client's own words when only one end has TLS.
  if (TLS_CERT_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_')) {
    return 'tls';
  }
  if (/does not support 'tls'|tls is not available|requires tls/i.test(messageOf(error))) {
    return 'tls';
  }
  return undefined;
}

/** Node's codes for a peer certificate it does not accept (`tls.TLSSocket.authorizationError`). */
const TLS_CERT_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'HOSTNAME_MISMATCH',
]);

/** The credentials file at `path`, made into an authenticator that has signed once. */
function credsOf(path: string, readFile: ReadSettingFile): NatsAuthOptions['authenticator'] {
  const creds = new TextEncoder().encode(readSettingFile(path, 'natsCreds', readFile));
  const authenticator = credsAuthenticator(creds);
  try {
    // Parses the file and signs with its seed, as connecting will: a bad file fails here.
    authenticator('follower-maze');
  } catch (error) {
    throw invalid(
      `the natsCreds file ${path} is not a NATS credentials file (a user JWT and an NKey seed): ${messageOf(error)}`,
    );
  }
  return authenticator;
}

/** The secret in the file at `path`: its text less one trailing line break, not empty. */
function secretIn(path: string, name: string, readFile: ReadSettingFile): string {
  return readSecretFile(path, name, bytesOf(readFile)).toString('utf8');
}

function tlsOf(settings: NatsAuthSettings, readFile: ReadSettingFile): TlsOptions | undefined {
  const { natsTlsCa, natsTlsCert, natsTlsKey } = settings;
  if (natsTlsCa === undefined && natsTlsCert === undefined) return undefined;
  const tls: TlsOptions = {};
  if (natsTlsCa !== undefined) {
    tls.ca = readSettingFile(natsTlsCa, 'natsTlsCa', readFile);
    try {
      checkCertificateList(tls.ca);
    } catch (error) {
      throw invalid(
        `the natsTlsCa file ${natsTlsCa} is not a list of PEM certificates: ${messageOf(error)}`,
      );
    }
  }
  if (natsTlsCert !== undefined && natsTlsKey !== undefined) {
    tls.cert = readSettingFile(natsTlsCert, 'natsTlsCert', readFile);
    tls.key = readSettingFile(natsTlsKey, 'natsTlsKey', readFile);
    try {
      createSecureContext({ cert: tls.cert, key: tls.key });
    } catch (error) {
      throw invalid(
        `the natsTlsCert ${natsTlsCert} and natsTlsKey ${natsTlsKey} are not a PEM certificate and its key: ${messageOf(error)}`,
      );
    }
  }
  return tls;
}

function readSettingFile(path: string, name: string, readFile: ReadSettingFile): string {
  return readBytes(path, name, bytesOf(readFile)).toString('utf8');
}

/** `readFile` as the shared readers take it. */
function bytesOf(readFile: ReadSettingFile): ReadBytes {
  return (path) => Buffer.from(readFile(path), 'utf8');
}

function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

/**
 * The command line's JWT authentication (`--client-auth jwt`): tokens signed with the test
 * keys (fixtures/tls/jwt-*) are accepted or refused with the right reason, and the options
 * are checked at startup.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { importPKCS8, type JWTPayload, SignJWT } from 'jose';
import { loadClientAuth } from '../../lib/cli/client-auth-options.js';
import { JWT_CLOCK_TOLERANCE_S } from '../../lib/cli/jwt-auth.js';
import { ErrorCode } from '../../lib/errors.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const fixture = (name: string): string => new URL(name, FIXTURES).pathname;
const SECRET = readFileSync(fixture('jwt-hs256.secret'));
const OTHER_SECRET = readFileSync(fixture('jwt-hs256-other.secret'));
const NOW = Math.floor(Date.now() / 1000);
const SENDER = { connection: 'client#1', remoteAddress: null, userId: undefined };

const NO_JWT = {
  clientAuth: 'jwt',
  jwtSecretFile: undefined,
  jwtPublicKey: undefined,
  jwtAudience: undefined,
  jwtIssuer: undefined,
} as const;

async function hs256(claims: JWTPayload, secret: Uint8Array = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(secret);
}

async function signedWith(kind: 'rs256' | 'es256' | 'eddsa', claims: JWTPayload): Promise<string> {
  const alg = { rs256: 'RS256', es256: 'ES256', eddsa: 'EdDSA' }[kind];
  const key = await importPKCS8(readFileSync(fixture(`jwt-${kind}-key.pem`), 'utf8'), alg);
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(key);
}

async function withSecret(options: { audience?: string; issuer?: string } = {}) {
  const authenticate = await loadClientAuth({
    ...NO_JWT,
    jwtSecretFile: fixture('jwt-hs256.secret'),
    jwtAudience: options.audience,
    jwtIssuer: options.issuer,
  });
  if (authenticate === undefined) throw new Error('no hook');
  return (token: string) => authenticate(token, SENDER);
}

describe('JWT client authentication', () => {
  it('accepts an HS256 token: sub is the user, exp plus the tolerance its expiry', async () => {
    const verify = await withSecret();
    expect(await verify(await hs256({ sub: '42', exp: NOW + 60 }))).toEqual({
      userId: 42,
      expiresAt: (NOW + 60 + JWT_CLOCK_TOLERANCE_S) * 1000,
    });
    expect(await verify(await hs256({ sub: '007' }))).toEqual({ userId: 7 });
    expect(await verify(await hs256({ sub: '0' }))).toEqual({ userId: 0 });
  });

  it.each([['rs256'], ['es256'], ['eddsa']] as const)(
    'accepts a %s token with its public key, and only that algorithm',
    async (kind) => {
      const authenticate = await loadClientAuth({
        ...NO_JWT,
        jwtPublicKey: fixture(`jwt-${kind}-public.pem`),
      });
      const verify = (token: string) => authenticate?.(token, SENDER);
      expect(await verify(await signedWith(kind, { sub: '9' }))).toEqual({ userId: 9 });
      const other = kind === 'rs256' ? 'es256' : 'rs256';
      expect(await verify(await signedWith(other, { sub: '9' }))).toEqual({ refused: 'signature' });
      expect(await verify(await hs256({ sub: '9' }))).toEqual({ refused: 'signature' });
      // The public key's own bytes as an HMAC secret (the old algorithm confusion).
      const pem = readFileSync(fixture(`jwt-${kind}-public.pem`));
      expect(await verify(await hs256({ sub: '9' }, pem))).toEqual({ refused: 'signature' });
    },
  );

  it.each([
    ['another secret', () => hs256({ sub: '1' }, OTHER_SECRET), 'signature'],
    ['expired beyond the tolerance', () => hs256({ sub: '1', exp: NOW - 60 }), 'expired'],
    ['not yet valid', () => hs256({ sub: '1', nbf: NOW + 60 }), 'not-yet-valid'],
    ['without sub', () => hs256({}), 'subject'],
    ['a sub that is not an id', () => hs256({ sub: 'alice' }), 'subject'],
    ['a negative sub', () => hs256({ sub: '-1' }), 'subject'],
    ['a sub over the id bounds', () => hs256({ sub: '9007199254740992' }), 'subject'],
    [
      'a sub that is a number, not a string',
      () => hs256({ sub: 5 } as unknown as JWTPayload),
      'subject',
    ],
    ['not a token', async () => 'abc', 'malformed'],
    ['three garbage parts', async () => 'a.b.c', 'malformed'],
    [
      'unsigned (alg none)',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"1"}').toString('base64url')}.`,
      'signature',
    ],
  ])('refuses a token %s', async (_, token, reason) => {
    const verify = await withSecret();
    expect(await verify(await token())).toEqual({ refused: reason });
  });

  it('accepts a token expired within the clock tolerance', async () => {
    const verify = await withSecret();
    expect(await verify(await hs256({ sub: '1', exp: NOW - 2 }))).toMatchObject({ userId: 1 });
  });

  it('checks aud and iss when configured', async () => {
    const verify = await withSecret({ audience: 'maze', issuer: 'https://auth.example' });
    const good = { sub: '3', aud: 'maze', iss: 'https://auth.example' };
    expect(await verify(await hs256(good))).toEqual({ userId: 3 });
    expect(await verify(await hs256({ ...good, aud: 'other' }))).toEqual({ refused: 'audience' });
    expect(await verify(await hs256({ sub: '3', iss: good.iss }))).toEqual({ refused: 'audience' });
    expect(await verify(await hs256({ ...good, iss: 'evil' }))).toEqual({ refused: 'issuer' });
  });

  it('is off without --client-auth, and refuses contradictory or bad key options', async () => {
    const none = { ...NO_JWT, clientAuth: 'none' } as const;
    expect(await loadClientAuth(none)).toBeUndefined();
    const refusals: [object, RegExp][] = [
      [
        { ...none, jwtSecretFile: fixture('jwt-hs256.secret') },
        /--jwt-secret-file needs --client-auth jwt/,
      ],
      [NO_JWT, /exactly one of --jwt-secret-file/],
      [
        {
          ...NO_JWT,
          jwtSecretFile: fixture('jwt-hs256.secret'),
          jwtPublicKey: fixture('jwt-rs256-public.pem'),
        },
        /exactly one of/,
      ],
      [
        { ...NO_JWT, jwtSecretFile: fixture('missing.secret') },
        /cannot read .*missing\.secret: ENOENT/,
      ],
      [{ ...NO_JWT, jwtPublicKey: fixture('jwt-hs256.secret') }, /is not a PEM public key/],
      [{ ...NO_JWT, jwtPublicKey: fixture('jwt-rs256-key.pem') }, /holds a private key/],
    ];
    for (const [args, message] of refusals) {
      await expect(loadClientAuth(args as typeof NO_JWT)).rejects.toMatchObject({
        code: ErrorCode.InvalidOption,
        message: expect.stringMatching(message),
      });
    }
    await expect(
      loadClientAuth({ ...NO_JWT, jwtSecretFile: 'short' }, () => Buffer.from('too short\n')),
    ).rejects.toMatchObject({ message: expect.stringMatching(/holds 9 bytes; .* at least 32/) });
  });
});

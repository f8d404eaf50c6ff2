/**
 * The login and TLS settings of the NATS connection (lib/cluster/nats-auth.ts) without a
 * server: each way to log in and TLS read from files into the client's options, every file
 * checked before connecting with a message that names it and never quotes a secret, a URL
 * with credentials refused, and which client errors count as NATS refusing this process.
 * With a real nats-server: __tests__/e2e/cluster-nats-secured.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { errors } from '@nats-io/transport-node';
import {
  natsAuthOptions,
  natsServersOf,
  type ReadSettingFile,
  refusalOf,
} from '../../lib/cluster/nats-auth.js';
import { ErrorCode } from '../../lib/errors.js';
import { credsText, natsOperator } from '../helpers/nats-jwt.js';

const TLS = new URL('../fixtures/tls/', import.meta.url).pathname;
const SECRET = 'pw-do-not-show-7f3a';

function fixture(name: string): string {
  return readFileSync(`${TLS}${name}`, 'utf8');
}

/** The `MazeError` code and message `action` throws. */
function thrown(action: () => unknown): { code: string; message: string } {
  try {
    action();
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message };
  }
  throw new Error('nothing thrown');
}

function filesOf(files: Record<string, string>): ReadSettingFile {
  return (path) => {
    const text = files[path];
    if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
    return text;
  };
}

describe('natsServersOf', () => {
  it('takes comma-separated servers and needs one', () => {
    expect(natsServersOf(' nats://a:4222 , b:4223,')).toEqual(['nats://a:4222', 'b:4223']);
    expect(thrown(() => natsServersOf(' , '))).toEqual({
      code: ErrorCode.InvalidOption,
      message: 'natsUrl is required: nats://host:4222',
    });
  });

  it.each([
    `nats://maze:${SECRET}@a:4222`,
    `nats://a:4222,tls://${SECRET}@b:4222`,
    `maze:${SECRET}@a:4222`,
  ])('refuses credentials in a URL without quoting them: %s', (url) => {
    const refusal = thrown(() => natsServersOf(url));
    expect(refusal.code).toBe(ErrorCode.InvalidOption);
    expect(refusal.message).toMatch(/^natsUrl must not carry credentials/);
    expect(refusal.message).not.toContain(SECRET);
  });
});

describe('natsAuthOptions', () => {
  const operator = natsOperator();
  const creds = operator.newUserCreds();
  const files = filesOf({
    '/s/password': `${SECRET}\n`,
    '/s/password-crlf': `${SECRET}\r\n`,
    '/s/token': SECRET,
    '/s/empty': '\n',
    '/s/user.creds': creds,
    '/s/bad.creds': credsText('a.b.c', `SU${SECRET}`),
    // The first certificate is good, the second is not.
    '/s/ca-then-broken.pem': `${fixture('ca.pem')}-----BEGIN CERTIFICATE-----\nMIIBroken\n-----END CERTIFICATE-----\n`,
    '/s/not.creds': SECRET,
    '/s/ca.pem': fixture('ca.pem'),
    '/s/client.pem': fixture('client.pem'),
    '/s/client-key.pem': fixture('client-key.pem'),
    '/s/server-key.pem': fixture('server-key.pem'),
  });

  it('logs in with a password file, a token file or a credentials file', () => {
    expect(natsAuthOptions({ natsUser: 'maze', natsPasswordFile: '/s/password' }, files)).toEqual({
      user: 'maze',
      pass: SECRET,
    });
    expect(
      natsAuthOptions({ natsUser: 'maze', natsPasswordFile: '/s/password-crlf' }, files).pass,
    ).toBe(SECRET);
    expect(natsAuthOptions({ natsTokenFile: '/s/token' }, files)).toEqual({ token: SECRET });
    const { authenticator } = natsAuthOptions({ natsCreds: '/s/user.creds' }, files);
    // The user's JWT, and the nonce signed with its seed.
    expect(typeof authenticator === 'function' && authenticator('nonce')).toMatchObject({
      jwt: expect.stringMatching(/^ey/),
      nkey: expect.stringMatching(/^U/),
      sig: expect.any(String),
    });
    expect(natsAuthOptions({}, files)).toEqual({});
  });

  it('turns TLS on with the CA, and shows the client certificate and key', () => {
    expect(natsAuthOptions({ natsTlsCa: '/s/ca.pem' }, files)).toEqual({
      tls: { ca: fixture('ca.pem') },
    });
    expect(
      natsAuthOptions(
        { natsTlsCa: '/s/ca.pem', natsTlsCert: '/s/client.pem', natsTlsKey: '/s/client-key.pem' },
        files,
      ),
    ).toEqual({
      tls: { ca: fixture('ca.pem'), cert: fixture('client.pem'), key: fixture('client-key.pem') },
    });
  });

  it.each([
    [
      { natsTokenFile: '/s/token', natsUser: 'u' },
      'give one way to log in to NATS, not natsUser/natsPasswordFile and natsTokenFile',
    ],
    [
      { natsCreds: '/s/user.creds', natsTokenFile: '/s/token' },
      'give one way to log in to NATS, not natsCreds and natsTokenFile',
    ],
    [{ natsUser: 'u' }, 'natsUser and natsPasswordFile go together: give both or neither'],
    [
      { natsPasswordFile: '/s/password' },
      'natsUser and natsPasswordFile go together: give both or neither',
    ],
    [
      { natsTlsCert: '/s/client.pem' },
      'natsTlsCert and natsTlsKey go together: give both or neither',
    ],
    [
      { natsUser: 'u', natsPasswordFile: '/nowhere' },
      "cannot read the natsPasswordFile /nowhere: ENOENT: no such file, open '/nowhere'",
    ],
    [{ natsTokenFile: '/s/empty' }, 'the natsTokenFile /s/empty is empty'],
  ])('refuses %j', (settings, message) => {
    expect(thrown(() => natsAuthOptions(settings, files))).toEqual({
      code: ErrorCode.InvalidOption,
      message,
    });
  });

  it.each([
    [
      { natsCreds: '/s/not.creds' },
      /^the natsCreds file \/s\/not\.creds is not a NATS credentials file/,
    ],
    [
      { natsCreds: '/s/bad.creds' },
      /^the natsCreds file \/s\/bad\.creds is not a NATS credentials file/,
    ],
    [
      { natsTlsCa: '/s/client-key.pem' },
      /^the natsTlsCa file \/s\/client-key\.pem is not a list of PEM certificates/,
    ],
    [
      { natsTlsCa: '/s/ca-then-broken.pem' },
      /^the natsTlsCa file \/s\/ca-then-broken\.pem is not a list of PEM certificates/,
    ],
    [
      { natsTlsCert: '/s/client.pem', natsTlsKey: '/s/server-key.pem' },
      /^the natsTlsCert \/s\/client\.pem and natsTlsKey \/s\/server-key\.pem are not a PEM certificate and its key: .*key values mismatch/,
    ],
  ])('checks what a file holds before connecting, without quoting it: %j', (settings, message) => {
    const refusal = thrown(() => natsAuthOptions(settings, files));
    expect(refusal.code).toBe(ErrorCode.InvalidOption);
    expect(refusal.message).toMatch(message);
    expect(refusal.message).not.toContain(SECRET);
    expect(refusal.message).not.toContain('PRIVATE KEY');
  });
});

describe('refusalOf', () => {
  it('takes a refused login or a failed certificate check for a refusal, nothing else', () => {
    expect(refusalOf(new errors.AuthorizationError('Authorization Violation'))).toBe('login');
    expect(
      refusalOf(new errors.UserAuthenticationExpiredError('user authentication expired')),
    ).toBe('login');
    const untrusted = Object.assign(new Error('unable to verify the first certificate'), {
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    expect(refusalOf(untrusted)).toBe('tls');
    expect(refusalOf(new errors.ConnectionError("server does not support 'tls'"))).toBe('tls');
    expect(refusalOf(new errors.TimeoutError())).toBeUndefined();
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(refusalOf(refused)).toBeUndefined();
    expect(refusalOf('Authorization Violation')).toBeUndefined();
  });
});

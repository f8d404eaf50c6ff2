/**
 * NATS decentralized authentication for the tests, built as `nsc` would: an operator, its
 * system account and one account with JetStream, their JWTs (ed25519-nkey, signed with
 * @nats-io/nkeys), a nats-server configuration that trusts the operator and preloads both
 * accounts (`resolver: MEMORY`), and the `.creds` text of a user of the account.
 */
import { randomBytes } from 'node:crypto';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';

/** No limit, in an account's or user's limits. */
const NO_LIMIT = -1;

/** An operator with its accounts, ready for nats-server. */
export interface NatsOperator {
  /** nats-server configuration text (`operator`, `resolver`, `resolver_preload`). */
  readonly config: string;
  /** The `.creds` text of a new user of the account: its JWT and its NKey seed. */
  newUserCreds(): string;
}

function base64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}

/** A JWT of `claims` about `subject`, issued and signed by `issuer`. */
function jwt(issuer: KeyPair, subject: string, name: string, claims: object): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const payload = base64url(
    JSON.stringify({
      jti: base64url(randomBytes(16)),
      iat: Math.floor(Date.now() / 1000),
      iss: issuer.getPublicKey(),
      name,
      sub: subject,
      nats: { ...claims, version: 2 },
    }),
  );
  const signature = base64url(issuer.sign(new TextEncoder().encode(`${header}.${payload}`)));
  return `${header}.${payload}.${signature}`;
}

/** A new operator, a system account (JetStream needs one) and an account with JetStream. */
export function natsOperator(): NatsOperator {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const limits = {
    subs: NO_LIMIT,
    data: NO_LIMIT,
    payload: NO_LIMIT,
    imports: NO_LIMIT,
    exports: NO_LIMIT,
    wildcards: true,
    conn: NO_LIMIT,
    leaf: NO_LIMIT,
  };
  const operatorJwt = jwt(operator, operator.getPublicKey(), 'operator', {
    type: 'operator',
    system_account: system.getPublicKey(),
  });
  const systemJwt = jwt(operator, system.getPublicKey(), 'SYS', { type: 'account', limits });
  const accountJwt = jwt(operator, account.getPublicKey(), 'maze', {
    type: 'account',
    limits: {
      ...limits,
      mem_storage: NO_LIMIT,
      disk_storage: NO_LIMIT,
      streams: NO_LIMIT,
      consumer: NO_LIMIT,
    },
  });
  return {
    config: [
      `operator: ${operatorJwt}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${system.getPublicKey()}: ${systemJwt}`,
      `  ${account.getPublicKey()}: ${accountJwt}`,
      '}',
      '',
    ].join('\n'),
    newUserCreds() {
      const user = createUser();
      const userJwt = jwt(account, user.getPublicKey(), 'follower-maze', {
        type: 'user',
        pub: {},
        sub: {},
        subs: NO_LIMIT,
        data: NO_LIMIT,
        payload: NO_LIMIT,
      });
      return credsText(userJwt, new TextDecoder().decode(user.getSeed()));
    },
  };
}

/** A `.creds` file's text, as `nsc generate creds` writes it. */
export function credsText(userJwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    userJwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    'NKEYs are sensitive and should be treated as secrets.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
}

/**
 * A `nats-server` secured as an operator secures one beyond loopback, for the end-to-end
 * suites: TLS with a client certificate required (both from the test CA) and the user
 * `maze` with a password; and the flags that let the cluster processes in.
 */
import { type NatsServer, startNatsServer } from './nats.js';

const TLS = new URL('../fixtures/tls/', import.meta.url).pathname;

/** Flags that trust the server's certificate and show a client certificate. */
export const NATS_TLS_FLAGS: readonly string[] = [
  '--nats-tls-ca',
  `${TLS}ca.pem`,
  '--nats-tls-cert',
  `${TLS}client.pem`,
  '--nats-tls-key',
  `${TLS}client-key.pem`,
];

/**
 * Starts it with `password` for `maze` (starting with a letter: nats-server reads a value
 * that starts with a digit as a number).
 */
export function startTlsNatsServer(password: string): Promise<NatsServer> {
  return startNatsServer({
    config: [
      'tls {',
      `  cert_file: "${TLS}server.pem"`,
      `  key_file: "${TLS}server-key.pem"`,
      `  ca_file: "${TLS}ca.pem"`,
      '  verify: true',
      '}',
      'authorization { users = [ { user: maze, password: $MAZE_PASSWORD } ] }',
      '',
    ].join('\n'),
    env: { MAZE_PASSWORD: password },
  });
}

/** Flags that log in as `maze` with the password in `passwordFile`. */
export function natsUserFlags(passwordFile: string): string[] {
  return ['--nats-user', 'maze', '--nats-password-file', passwordFile];
}

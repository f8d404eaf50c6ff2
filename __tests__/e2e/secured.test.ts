/**
 * Everything secured at once, as an operator deploys it beyond loopback, with the built
 * binaries: TLS on both ports with a trusted event source only (mutual TLS), clients that
 * identify with JSON Web Tokens and resume, and, for the cluster, NATS with TLS, client
 * certificates and a user, and a log key. The simulator, given the matching options, must
 * verify every notification. Every wait is bounded; every process and server is stopped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import type { RunningBinary } from '../helpers/binary.js';
import { gateway, ingest, serve, simulate, stop } from '../helpers/cluster-processes.js';
import { describeWithNats } from '../helpers/nats.js';
import { NATS_TLS_FLAGS, natsUserFlags, startTlsNatsServer } from '../helpers/nats-tls.js';

const TLS = new URL('../fixtures/tls/', import.meta.url).pathname;
const RUN_MS = 90_000;
const AUDIENCE = 'maze-secured';

/** The server side of TLS on both ports, the event source required to show a certificate. */
const SERVER_TLS = [
  '--tls-cert',
  `${TLS}server.pem`,
  '--tls-key',
  `${TLS}server-key.pem`,
  '--event-tls-ca',
  `${TLS}ca.pem`,
];
/** The simulator's side of it: trust the server's CA, show the source's certificate. */
const SIMULATOR_TLS = [
  '--tls-ca',
  `${TLS}ca.pem`,
  '--event-tls-cert',
  `${TLS}source.pem`,
  '--event-tls-key',
  `${TLS}source-key.pem`,
];

const dir = mkdtempSync(join(tmpdir(), 'follower-maze-secured-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const running: RunningBinary[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((process) => stop(process)));
});

/** Writes `text` to a file readable by its owner only. */
function secretFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** Runs the simulator with `args` and expects every notification verified. */
async function expectVerified(args: string[]): Promise<void> {
  const { code, summary } = await simulate(
    [...SIMULATOR_TLS, '--jwt-audience', AUDIENCE, '--log-interval', '0', ...args],
    RUN_MS,
  );
  expect({ code, ok: summary.ok, failure: summary.failure }).toEqual({
    code: 0,
    ok: true,
    failure: undefined,
  });
  expect(summary.notifications).toBeGreaterThan(10_000);
}

describe('serve with TLS, mutual TLS for the source and JWT clients', () => {
  it('passes simulate over TLS with signed tokens, clients dropping and resuming', async () => {
    const server = await serve([
      ...SERVER_TLS,
      '--client-auth',
      'jwt',
      '--jwt-secret-file',
      `${TLS}jwt-hs256.secret`,
      '--jwt-audience',
      AUDIENCE,
      '--resume-bytes',
      String(4 * 1024 * 1024),
    ]);
    running.push(server);
    await expectVerified([
      '--event-port',
      String(server.eventPort),
      '--client-port',
      String(server.clientPort),
      '--jwt-secret-file',
      `${TLS}jwt-hs256.secret`,
      '--total-events',
      '20000',
      '--concurrency-level',
      '20',
      '--reconnect-every',
      '200',
    ]);
  }, 120_000);
});

describeWithNats('an ingest and two gateways, all secured, on a secured NATS', () => {
  it('passes simulate through both gateways', async () => {
    const password = `s${randomBytes(12).toString('hex')}`;
    const nats = await startTlsNatsServer(password);
    const natsSecured = [
      ...NATS_TLS_FLAGS,
      ...natsUserFlags(secretFile('nats-password', password)),
      '--log-key-file',
      secretFile('log-key', randomBytes(32).toString('hex')),
    ];
    const events = await ingest(nats, 'SECURED', [...natsSecured, ...SERVER_TLS]);
    running.push(events);
    const gatewayFlags = [
      ...natsSecured,
      '--tls-cert',
      `${TLS}server.pem`,
      '--tls-key',
      `${TLS}server-key.pem`,
      '--client-auth',
      'jwt',
      '--jwt-public-key',
      `${TLS}jwt-es256-public.pem`,
      '--jwt-audience',
      AUDIENCE,
    ];
    const gateways = await Promise.all([1, 2].map(() => gateway(nats, 'SECURED', gatewayFlags)));
    running.push(...gateways);
    await expectVerified([
      '--event-port',
      String(events.port),
      '--client-port',
      gateways.map((started) => started.port).join(','),
      '--jwt-private-key',
      `${TLS}jwt-es256-key.pem`,
      '--total-events',
      '10000',
      '--concurrency-level',
      '20',
      '--number-of-users',
      '100',
    ]);
  }, 150_000);
});

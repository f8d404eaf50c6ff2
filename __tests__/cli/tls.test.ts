/**
 * TLS on the command line (lib/cli/tls-files.ts, server-process.ts): the settings checked at
 * start, `simulate` over TLS against `serve` with mutual TLS for the source, certificate
 * rotation by SIGHUP (a bad file keeps the old one) and the monitor over HTTPS.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from '@jest/globals';
import { openTls, type TlsArgs } from '../../lib/cli/tls-files.js';
import { ErrorCode, MazeError } from '../../lib/errors.js';
import { run } from '../helpers/binary.js';
import { serve } from '../helpers/cluster-processes.js';
import { Collector, WAIT_MS, withTimeout } from '../helpers/sockets.js';
import { handshakeOf } from '../helpers/tls.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url).pathname;
const fixture = (name: string): string => join(FIXTURES, name);
const CA = readFileSync(fixture('ca.pem'), 'utf8');
const fingerprint = (name: string): string =>
  new X509Certificate(readFileSync(fixture(name))).fingerprint256;

const SERVER_FLAGS = ['--tls-cert', fixture('server.pem'), '--tls-key', fixture('server-key.pem')];

const opened: TLSSocket[] = [];
const directories: string[] = [];
afterEach(() => {
  for (const socket of opened.splice(0)) socket.destroy();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true });
});

function tlsConnect(port: number): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port, ca: CA });
  opened.push(socket);
  return handshakeOf(socket);
}

function codeThrown(action: () => void): string {
  try {
    action();
  } catch (error) {
    return error instanceof MazeError ? `${error.code}: ${error.message}` : String(error);
  }
  return 'no error';
}

describe('TLS settings', () => {
  const none: TlsArgs = {
    tlsCert: undefined,
    tlsKey: undefined,
    monitorTls: false,
    monitorPort: undefined,
  };
  const files = { tlsCert: fixture('server.pem'), tlsKey: fixture('server-key.pem') };

  it('is off without a certificate', () => {
    expect(openTls(none)).toBeUndefined();
  });

  it.each([
    [
      'a key without a certificate',
      { ...none, tlsKey: fixture('server-key.pem') },
      /--tls-key needs --tls-cert/,
    ],
    [
      'a certificate without a key',
      { ...none, tlsCert: fixture('server.pem') },
      /--tls-cert needs --tls-key/,
    ],
    [
      'an event CA without TLS',
      { ...none, eventTlsCa: fixture('ca.pem') },
      /--event-tls-ca needs --tls-cert/,
    ],
    [
      'a client CA without TLS',
      { ...none, clientTlsCa: fixture('ca.pem') },
      /--client-tls-ca needs --tls-cert/,
    ],
    [
      '--monitor-tls without TLS',
      { ...none, monitorTls: true, monitorPort: 0 },
      /--monitor-tls needs --tls-cert/,
    ],
    [
      '--monitor-tls without a monitoring port',
      { ...none, ...files, monitorTls: true },
      /needs --monitor-port/,
    ],
    [
      'an unreadable file',
      { ...none, ...files, eventTlsCa: fixture('missing.pem') },
      /--event-tls-ca .*missing\.pem cannot be read/,
    ],
    [
      'a key of another certificate',
      { ...none, ...files, tlsKey: fixture('source-key.pem') },
      /do not make a server context/,
    ],
    [
      'a CA file without a certificate',
      { ...none, ...files, clientTlsCa: fixture('ca-key.pem') },
      /not a list of PEM certificates/,
    ],
  ] as const)('refuses %s', (_what, args, message) => {
    const thrown = codeThrown(() => openTls(args));
    expect(thrown.startsWith(`${ErrorCode.InvalidOption}: `)).toBe(true);
    expect(thrown).toMatch(message);
  });

  it('exits 2 with one line for an invalid combination, before binding anything', async () => {
    const finished = await run([
      '--event-port',
      '0',
      '--client-port',
      '0',
      '--event-tls-ca',
      fixture('ca.pem'),
    ]).finished(10_000);
    expect(finished.code).toBe(2);
    expect(finished.stdout).toBe('');
    expect(finished.stderr).toMatch(/--event-tls-ca needs --tls-cert and --tls-key/);
  });
});

describe('serve with TLS', () => {
  it('is verified by simulate over TLS, the source presenting its certificate, and refuses an untrusted source', async () => {
    const server = await serve([...SERVER_FLAGS, '--event-tls-ca', fixture('ca.pem')]);
    const simulate = (source: string): Promise<{ code: number | null; stdout: string }> =>
      run([
        'simulate',
        '--event-port',
        String(server.eventPort),
        '--client-port',
        String(server.clientPort),
        '--total-events',
        '5000',
        '--concurrency-level',
        '10',
        '--log-interval',
        '0',
        '--timeout',
        '5000',
        '--tls-ca',
        fixture('ca.pem'),
        '--event-tls-cert',
        fixture(`${source}.pem`),
        '--event-tls-key',
        fixture(`${source}-key.pem`),
      ]).finished(60_000);

    const refused = await simulate('untrusted-source');
    expect(refused.code).toBe(1);
    await server.waitForLine('stderr', /problem ERR_TLS_HANDSHAKE \[event-port\]: .*1 certificate/);

    const verified = await simulate('source');
    expect(verified.stdout).toMatch(/ALL NOTIFICATIONS RECEIVED/);
    expect(verified.code).toBe(0);
    server.child.kill('SIGTERM');
    expect(await withTimeout(server.exited, 10_000, 'the server to exit')).toBe(0);
  });

  it('rotates its certificate on SIGHUP without dropping a connection, and keeps it when a file is bad', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'follower-maze-tls-'));
    directories.push(directory);
    const cert = join(directory, 'cert.pem');
    const key = join(directory, 'key.pem');
    copyFileSync(fixture('server.pem'), cert);
    copyFileSync(fixture('server-key.pem'), key);
    const server = await serve(['--tls-cert', cert, '--tls-key', key, '--stats-interval', '20']);

    const early = await tlsConnect(server.clientPort);
    expect(early.getPeerX509Certificate()?.fingerprint256).toBe(fingerprint('server.pem'));
    const earlyReceived = new Collector(early);
    early.write('1\n');
    await server.waitForLine('stdout', / clientsConnected=1 /);
    const source = await tlsConnect(server.eventPort);
    source.write('1|B\n');
    await earlyReceived.waitForLength(4);

    copyFileSync(fixture('server-rotated.pem'), cert);
    copyFileSync(fixture('server-rotated-key.pem'), key);
    server.child.kill('SIGHUP');
    await server.waitForLine('stderr', /SIGHUP received, TLS certificate, key and CAs reloaded/);
    const late = await tlsConnect(server.clientPort);
    expect(late.getPeerX509Certificate()?.fingerprint256).toBe(fingerprint('server-rotated.pem'));
    const lateReceived = new Collector(late);
    late.write('1\n');
    await server.waitForLine('stdout', / clientsConnected=2 /);

    writeFileSync(key, 'not a key');
    server.child.kill('SIGHUP');
    await server.waitForLine('stderr', /problem ERR_TLS_RELOAD.*SIGHUP: .*kept/);
    const after = await tlsConnect(server.clientPort);
    expect(after.getPeerX509Certificate()?.fingerprint256).toBe(fingerprint('server-rotated.pem'));

    source.write('2|B\n');
    await earlyReceived.waitForLength(8);
    await lateReceived.waitForLength(4);
    expect(earlyReceived.text).toBe('1|B\n2|B\n');
    expect(lateReceived.text).toBe('2|B\n');
    source.end();
    server.child.kill('SIGTERM');
    expect(await withTimeout(server.exited, 10_000, 'the server to exit')).toBe(0);
  });

  it('serves the monitor over HTTPS with --monitor-tls and a token, the TLS counters in its metrics', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'follower-maze-monitor-tls-'));
    directories.push(directory);
    const tokenFile = join(directory, 'token');
    writeFileSync(tokenFile, 'monitor-secret\n', { mode: 0o600 });
    const server = await serve([
      ...SERVER_FLAGS,
      '--monitor-port',
      '0',
      '--monitor-tls',
      '--monitor-token-file',
      tokenFile,
    ]);
    const line = await server.waitForLine('stderr', /^follower-maze monitor: https:\/\//);
    const port = Number(/:(\d+)$/.exec(line)?.[1]);
    const get = (path: string, token?: string): Promise<{ status: number; body: string }> =>
      withTimeout(
        new Promise((resolve, reject) => {
          const headers = token === undefined ? {} : { authorization: `Bearer ${token}` };
          const asked = request({ host: '127.0.0.1', port, path, ca: CA, headers }, (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
          });
          asked.on('error', reject);
          asked.end();
        }),
        WAIT_MS,
        `the answer to ${path}`,
      );
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/metrics')).status).toBe(401);
    expect((await get('/metrics', 'wrong')).status).toBe(401);
    const metrics = await get('/metrics', 'monitor-secret');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^follower_maze_client_tls_failures_total 0$/m);
    expect(metrics.body).toMatch(/^follower_maze_event_tls_failures_total 0$/m);
    server.child.kill('SIGTERM');
    expect(await withTimeout(server.exited, 10_000, 'the server to exit')).toBe(0);
    expect(server.stderr.join('\n')).not.toContain('monitor-secret');
  });
});

/**
 * The monitoring port against peers that misuse it, on 127.0.0.1: the bearer token, the
 * cached `/stats` and `/metrics`, pipelined requests that are never read, a peer slow to send
 * its request (slowloris), `/healthz` while every ordinary slot (and every health slot) is
 * held, silent connections crowding HTTPS handshakes, and a request target that is not a URL. Every wait is bounded; every socket and monitor opened here is closed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, type Problem } from '../../lib/errors.js';
import { serveMonitorSources } from '../../lib/monitor/maze-sources.js';
import { MONITOR_MAX_CONNECTIONS } from '../../lib/monitor/monitor-connections.js';
import { MONITOR_HANDSHAKE_TIMEOUT_MS } from '../../lib/monitor/monitor-handshakes.js';
import { type MonitorServer, startMonitor } from '../../lib/monitor/monitor-server.js';
import { readMonitorTokenFile } from '../../lib/monitor/monitor-token.js';
import type { MonitorSources } from '../../lib/monitor/sources.js';
import { ServerTls } from '../../lib/net/tls.js';
import { useMonitors } from '../helpers/monitors.js';
import {
  sleep,
  type TcpPeer,
  useTcpMazes,
  useTcpPeers,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';

const startMaze = useTcpMazes();
const startMonitorOf = useMonitors();
const peers = useTcpPeers();

const TOKEN = 'Zm9sbG93ZXItbWF6ZQ-test.token~1';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const pem = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');

/** The status of an HTTPS GET of `path` trusting the test CA, or why it failed, within `ms`. */
function httpsStatus(port: number, path: string, ms: number): Promise<number | string> {
  return new Promise((resolve) => {
    const request = httpsRequest(
      { host: '127.0.0.1', port, path, ca: pem('ca.pem'), timeout: ms },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 'no status');
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer within ${ms} ms`)));
    request.on('error', (error) => resolve(String(error)));
    request.end();
  });
}

/** A source that counts how often each part is asked for. */
function countingSources(problems: Problem[] = []): MonitorSources & {
  readonly calls: { stats: number; clients: number };
} {
  const calls = { stats: 0, clients: 0 };
  return {
    calls,
    health: () => ({ ready: true }),
    stats: () => {
      calls.stats++;
      return { things: calls.stats };
    },
    statMetrics: {},
    clients: (page) => {
      calls.clients++;
      return { total: 0, items: [], ...page };
    },
    report: (problem) => problems.push(problem),
  };
}

async function get(
  monitor: MonitorServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const response = await fetch(`http://127.0.0.1:${monitor.address.port}${path}`, {
    headers,
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

/** Waits until the server closes `peer`'s connection; rejects after `ms`. */
async function closedByServer(peer: TcpPeer, ms: number): Promise<string> {
  await withTimeout(peer.received.done, ms, 'the monitor to close the connection');
  return peer.received.text;
}

describe('the bearer token', () => {
  it('is needed on every path but /healthz: none or a wrong one is 401, the right one 200', async () => {
    const maze = await startMaze();
    const monitor = await startMonitor({
      sources: serveMonitorSources(maze.server),
      host: '127.0.0.1',
      token: TOKEN,
    });
    try {
      for (const path of ['/metrics', '/stats', '/clients', '/nope']) {
        const missing = await get(monitor, path);
        expect(missing.status).toBe(401);
        expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="follower-maze"');
        const wrong = await get(monitor, path, { authorization: `Bearer ${TOKEN}x` });
        expect(wrong.status).toBe(401);
        expect(wrong.headers.get('www-authenticate')).toBe(
          'Bearer realm="follower-maze", error="invalid_token"',
        );
        expect(wrong.body).not.toContain(TOKEN);
        // The token without its scheme, or with another scheme, is no token.
        expect((await get(monitor, path, { authorization: TOKEN })).status).toBe(401);
        expect((await get(monitor, path, { authorization: `Basic ${TOKEN}` })).status).toBe(401);
      }
      expect((await get(monitor, '/healthz')).status).toBe(200);
      expect((await get(monitor, '/stats', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      expect((await get(monitor, '/metrics', { authorization: `bearer ${TOKEN}` })).status).toBe(
        200,
      );
      const stats = await get(monitor, '/stats', { authorization: `Bearer ${TOKEN}` });
      expect(stats.body).not.toContain(TOKEN);
      expect((await get(monitor, '/nope', { authorization: `Bearer ${TOKEN}` })).status).toBe(404);
    } finally {
      await monitor.close();
    }
  });

  it('is refused when it cannot be sent in a header, without quoting it', async () => {
    const sources = countingSources();
    for (const token of ['', 'two words', 'line\nbreak', 'é']) {
      await expect(startMonitor({ sources, token })).rejects.toMatchObject({
        code: ErrorCode.InvalidOption,
        message: 'the monitor token must be printable ASCII without spaces, and not empty',
      });
    }
  });

  it('is checked before the budget: peers without it cannot delay an authorized scrape', async () => {
    const monitor = await startMonitor({
      sources: countingSources(),
      host: '127.0.0.1',
      token: TOKEN,
    });
    try {
      const flooders: TcpPeer[] = [];
      for (let index = 0; index < MONITOR_MAX_CONNECTIONS - 1; index++) {
        const flooder = await peers.connect(monitor.address.port);
        // Four pipelined pages of 1,000 each: as many as a connection may have waiting.
        flooder.socket.write('GET /clients?limit=1000 HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(4));
        flooders.push(flooder);
      }
      await waitUntil(
        () => flooders.some((flooder) => /^HTTP\/1\.1 401 /m.test(flooder.received.text)),
        'a flooder answered 401',
      );
      const scrape = await fetch(`http://127.0.0.1:${monitor.address.port}/metrics`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: AbortSignal.timeout(2_000),
      }).then(
        (response) => response.status,
        (error: unknown) => String(error),
      );
      expect(scrape).toBe(200);
    } finally {
      await monitor.close();
    }
  });

  it('is read from a file less one line break; an empty or missing file is ERR_INVALID_OPTION', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'monitor-token-'));
    try {
      const file = join(directory, 'token');
      writeFileSync(file, `${TOKEN}\n`);
      expect(readMonitorTokenFile(file)).toBe(TOKEN);
      writeFileSync(file, '\n');
      expect(() => readMonitorTokenFile(file)).toThrow(
        expect.objectContaining({
          code: ErrorCode.InvalidOption,
          message: `the monitorTokenFile ${file} is empty`,
        }),
      );
      writeFileSync(file, `${TOKEN} ${TOKEN}\n`);
      let error: unknown;
      try {
        readMonitorTokenFile(file);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toMatchObject({ code: ErrorCode.InvalidOption });
      expect((error as Error).message).not.toContain(TOKEN);
      expect(() => readMonitorTokenFile(join(directory, 'missing'))).toThrow(
        expect.objectContaining({
          code: ErrorCode.InvalidOption,
          message: `cannot read the monitorTokenFile ${join(directory, 'missing')}: ENOENT`,
        }),
      );
    } finally {
      await rm(directory, { recursive: true });
    }
  });
});

describe('the cache', () => {
  it('answers /stats and /metrics from one computation per second', async () => {
    const sources = countingSources();
    const monitor = await startMonitorOf(sources);
    const bodies = await Promise.all(Array.from({ length: 5 }, () => get(monitor, '/stats')));
    expect(new Set(bodies.map((answer) => answer.body)).size).toBe(1);
    expect(JSON.parse(bodies[0]?.body ?? '')).toMatchObject({ things: 1 });
    expect(sources.calls.stats).toBe(1);

    const before = sources.calls.stats;
    const scrapes = await Promise.all(Array.from({ length: 5 }, () => get(monitor, '/metrics')));
    expect(new Set(scrapes.map((answer) => answer.body)).size).toBe(1);
    expect(sources.calls.stats).toBe(before + 1);
  });
});

describe('pipelined requests', () => {
  it('are answered in order while the peer reads them', async () => {
    const sources = countingSources();
    const monitor = await startMonitorOf(sources);
    const peer = await peers.connect(monitor.address.port);
    peer.socket.write(
      'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(2) +
        'GET /clients HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
    );
    const text = await closedByServer(peer, 5_000);
    expect(text.match(/^HTTP\/1\.1 200 OK/gm)).toHaveLength(3);
    expect(sources.calls.clients).toBe(1);
  });

  it('are cut off when the peer asks for more than a few answers it does not read', async () => {
    const monitor = await startMonitorOf(countingSources());
    const peer = await peers.connect(monitor.address.port);
    peer.socket.pause();
    // Cheap and urgent: the budget alone would answer 10 at once and 10 more every second.
    peer.socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(100));
    await sleep(1_500);
    // Read now: the answers that were sent (the connection is held, unread, for 30 s or more).
    peer.socket.resume();
    await waitUntil(() => /^HTTP\/1\.1 200 OK/m.test(peer.received.text), 'the first answer');
    await sleep(500);
    const answers = peer.received.text.match(/^HTTP\/1\.1 200 OK/gm)?.length ?? 0;
    expect(answers).toBeGreaterThan(0);
    expect(answers).toBeLessThanOrEqual(4);
    expect(peer.socket.destroyed).toBe(false);
    expect((await get(monitor, '/healthz')).status).toBe(200);
  }, 20_000);

  it('are cut off when the peer asks again with more than 256 KiB of answers unread', async () => {
    // A /stats answer of several MiB: most of it stays unsent while the peer does not read.
    const many = Object.fromEntries(
      Array.from({ length: 500_000 }, (_, index) => [`s${index}`, 1]),
    );
    const sources = { ...countingSources(), stats: () => many };
    const monitor = await startMonitorOf(sources);
    const peer = await peers.connect(monitor.address.port);
    peer.socket.pause();
    peer.socket.write('GET /stats HTTP/1.1\r\nhost: x\r\n\r\n');
    await sleep(500);
    peer.socket.write('GET /stats HTTP/1.1\r\nhost: x\r\n\r\n');
    await sleep(500);
    peer.socket.resume();
    await waitUntil(
      () => /"uptimeSeconds":[\d.e+-]+\}/.test(peer.received.text),
      'the first answer read whole',
      15_000,
    );
    await sleep(500);
    expect(peer.received.text.match(/^HTTP\/1\.1 200 OK/gm)).toHaveLength(1);
    expect(peer.socket.destroyed).toBe(false);
  }, 30_000);
});

describe('slow peers', () => {
  it('drops a peer that sends its request headers too slowly (408)', async () => {
    const monitor = await startMonitorOf(countingSources());
    const peer = await peers.connect(monitor.address.port);
    peer.socket.write('GET /stats HTTP/1.1\r\nhost: x\r\n');
    // One header byte every 200 ms: the connection stays busy but the headers never end.
    const drip = setInterval(() => peer.socket.write('x'), 200);
    try {
      const text = await closedByServer(peer, 15_000);
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
  }, 20_000);
});

describe('/healthz', () => {
  it('is answered while every ordinary connection is held; the rest waits for a slot', async () => {
    const problems: Problem[] = [];
    const monitor = await startMonitorOf(countingSources(problems));
    const held = [];
    for (let index = 0; index < MONITOR_MAX_CONNECTIONS; index++) {
      held.push(await peers.connect(monitor.address.port));
    }
    const probe = await get(monitor, '/healthz');
    expect(probe.status).toBe(200);
    expect(probe.headers.get('connection')).toBe('close');
    const busy = await get(monitor, '/stats');
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');

    // Even with the health slots held by peers that say nothing, a probe takes one.
    for (let index = 0; index < 4; index++) held.push(await peers.connect(monitor.address.port));
    expect((await get(monitor, '/healthz')).status).toBe(200);
    expect(problems).toEqual([]);
  });

  it.each([
    ['asks for /metrics on it', 'GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n'],
    ['pipelines 2 requests on it', 'GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n'.repeat(2)],
  ])('is answered while every health slot is held by a peer that %s', async (_, request) => {
    const monitor = await startMonitorOf(countingSources());
    const held = [];
    for (let index = 0; index < MONITOR_MAX_CONNECTIONS; index++) {
      held.push(await peers.connect(monitor.address.port));
    }
    const hogs: TcpPeer[] = [];
    for (let index = 0; index < 4; index++) {
      const hog = await peers.connect(monitor.address.port);
      hog.socket.write(request);
      hogs.push(hog);
    }
    await waitUntil(
      () => hogs.every((hog) => /^HTTP\/1\.1 503 /m.test(hog.received.text)),
      'every health slot answered 503',
    );
    const probe = await fetch(`http://127.0.0.1:${monitor.address.port}/healthz`, {
      signal: AbortSignal.timeout(1_000),
    }).then(
      (response) => response.status,
      (error: unknown) => String(error),
    );
    expect(probe).toBe(200);
  });
});

describe('HTTPS handshakes', () => {
  it('close a peer silent for a second, and give way to a probe when silent peers hold them', async () => {
    const monitor = await startMonitor({
      sources: countingSources(),
      host: '127.0.0.1',
      tls: new ServerTls({ cert: pem('server.pem'), key: pem('server-key.pem') }),
    });
    try {
      const silent: TcpPeer[] = [];
      for (let index = 0; index < 64; index++) {
        silent.push(await peers.connect(monitor.address.port));
      }
      expect(await httpsStatus(monitor.address.port, '/healthz', 2_000)).toBe(200);
      // Those not closed to make room are closed after a second without a byte.
      await closedByServer(silent[silent.length - 1] as TcpPeer, 2_500);
    } finally {
      await monitor.close();
    }
  });

  it('count one whose last flight arrived while the loop was busy past its deadline as done', async () => {
    const monitor = await startMonitor({
      sources: countingSources(),
      host: '127.0.0.1',
      tls: new ServerTls({ cert: pem('server.pem'), key: pem('server-key.pem') }),
    });
    const connectedAt = performance.now();
    const socket = tlsConnect({ host: '127.0.0.1', port: monitor.address.port, ca: pem('ca.pem') });
    try {
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (text: string) => {
        received += text;
      });
      socket.on('error', () => {});
      // On the client's side the handshake is done once its last flight is handed to the
      // kernel; the monitor reads that flight only after the busy spell, past its deadline.
      socket.once('secureConnect', () => {
        socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
        const until = connectedAt + MONITOR_HANDSHAKE_TIMEOUT_MS + 300;
        while (performance.now() < until) {
          // Busy past the handshake deadline: nothing is read meanwhile.
        }
      });
      await withTimeout(
        new Promise((resolve) => socket.once('close', resolve)),
        MONITOR_HANDSHAKE_TIMEOUT_MS + 5_000,
        'the answer',
      );
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      socket.destroy();
      await monitor.close();
    }
  });
});

describe('a malformed request', () => {
  it('is the client’s 400, not a 500 with ERR_MONITOR', async () => {
    const problems: Problem[] = [];
    const monitor = await startMonitorOf(countingSources(problems));
    const peer = await peers.connect(monitor.address.port);
    peer.socket.write('GET http://[::1 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    const text = await closedByServer(peer, 5_000);
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text).toContain('"error":"the request target is not a path"');
    expect(problems).toEqual([]);
  });
});

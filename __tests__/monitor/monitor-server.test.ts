/**
 * The HTTP monitoring port over a real `listen()` server on 127.0.0.1: `/healthz` before and
 * during shutdown, `/stats` against `maze.stats()`, `/clients` paging with user ids and peer
 * addresses, 404/405/400, bind failures, and failures that must not crash the process.
 * Every request is bounded; every server and socket opened here is closed.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, type Problem } from '../../lib/errors.js';
import { serveMonitorSources } from '../../lib/monitor/maze-sources.js';
import { MAX_MONITOR_PAGE_LIMIT } from '../../lib/monitor/monitor-requests.js';
import { type MonitorServer, startMonitor } from '../../lib/monitor/monitor-server.js';
import { useMonitors } from '../helpers/monitors.js';
import { type TcpMaze, useTcpMazes, waitUntil } from '../helpers/sockets.js';

const startMaze = useTcpMazes();
const startMonitorOf = useMonitors();

async function served(): Promise<{ maze: TcpMaze; monitor: MonitorServer }> {
  const maze = await startMaze();
  return { maze, monitor: await startMonitorOf(serveMonitorSources(maze.server)) };
}

async function request(
  monitor: MonitorServer,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; type: string | null; body: string; headers: Headers }> {
  const response = await fetch(`http://127.0.0.1:${monitor.address.port}${path}`, {
    ...init,
    signal: AbortSignal.timeout(5_000),
  });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: await response.text(),
    headers: response.headers,
  };
}

async function json(monitor: MonitorServer, path: string): Promise<unknown> {
  const answer = await request(monitor, path);
  expect(answer.type).toBe('application/json; charset=utf-8');
  return JSON.parse(answer.body);
}

describe('startMonitor', () => {
  it('binds 127.0.0.1 on a free port by default and closes idempotently', async () => {
    const maze = await startMaze();
    const monitor = await startMonitor({ sources: serveMonitorSources(maze.server) });
    expect(monitor.address.address).toBe('127.0.0.1');
    expect(monitor.address.port).toBeGreaterThan(0);
    expect((await request(monitor, '/healthz')).status).toBe(200);
    await Promise.all([monitor.close(), monitor.close()]);
    await expect(request(monitor, '/healthz')).rejects.toThrow();
  });

  it('rejects with ERR_LISTEN when the port is taken, ERR_INVALID_OPTION on a bad port', async () => {
    const maze = await startMaze();
    const sources = serveMonitorSources(maze.server);
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      await expect(startMonitor({ sources, port })).rejects.toMatchObject({
        code: ErrorCode.ListenFailed,
        message: expect.stringContaining('monitoring'),
      });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
    await expect(startMonitor({ sources, port: 65_536 })).rejects.toMatchObject({
      code: ErrorCode.InvalidOption,
    });
  });
});

describe('/healthz', () => {
  it('is 200 while serving and 503 with a reason once the server is closing', async () => {
    const { maze, monitor } = await served();
    const ok = await request(monitor, '/healthz');
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ status: 'ok' });

    const closing = maze.server.close();
    const down = await request(monitor, '/healthz');
    expect(down.status).toBe(503);
    expect(down.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(down.body)).toEqual({
      status: 'unavailable',
      reason: 'the server is shutting down',
    });
    await closing;
  });
});

describe('/stats', () => {
  it('is maze.stats() as JSON, plus uptimeSeconds', async () => {
    const { maze, monitor } = await served();
    await maze.identifiedClient('5\n');
    const source = await maze.connectSource();
    source.socket.write('1|B\n2|S|9\n');
    await waitUntil(() => maze.maze.stats().eventsApplied === 2, 'two events applied');

    const { uptimeSeconds, ...stats } = (await json(monitor, '/stats')) as Record<string, unknown>;
    expect(stats).toEqual({ ...maze.maze.stats() });
    expect(stats.notificationsSent).toBe(1);
    expect(uptimeSeconds).toEqual(expect.any(Number));
  });
});

describe('/clients', () => {
  it('pages through the clients with user ids, peer addresses, queues and notifications', async () => {
    const { maze, monitor } = await served();
    const first = await maze.identifiedClient('11\n');
    const second = await maze.identifiedClient('12\n');
    const third = await maze.connectClient();
    const source = await maze.connectSource();
    source.socket.write('1|B\n');
    await first.received.waitForLength(4);
    await second.received.waitForLength(4);

    const page = (await json(monitor, '/clients?offset=0&limit=2')) as {
      total: number;
      offset: number;
      limit: number;
      items: Record<string, unknown>[];
    };
    expect(page).toMatchObject({ total: 3, offset: 0, limit: 2 });
    expect(page.items).toEqual([
      {
        connection: first.connection,
        userId: 11,
        remoteAddress: `127.0.0.1:${first.socket.localPort}`,
        queuedBytes: 0,
        notificationsSent: 1,
      },
      {
        connection: second.connection,
        userId: 12,
        remoteAddress: `127.0.0.1:${second.socket.localPort}`,
        queuedBytes: 0,
        notificationsSent: 1,
      },
    ]);

    const rest = (await json(monitor, '/clients?offset=2&limit=2')) as typeof page;
    expect(rest).toMatchObject({ total: 3, offset: 2, limit: 2 });
    expect(rest.items).toEqual([
      {
        connection: third.connection,
        userId: null,
        remoteAddress: `127.0.0.1:${third.socket.localPort}`,
        queuedBytes: 0,
        notificationsSent: 0,
      },
    ]);
    expect(await json(monitor, '/clients')).toMatchObject({ total: 3, offset: 0, limit: 100 });
  });

  it.each([
    'limit=0',
    `limit=${MAX_MONITOR_PAGE_LIMIT + 1}`,
    'limit=abc',
    'limit=-1',
    'limit=1.5',
    'offset=-3',
    'offset=',
  ])('answers 400 to %s', async (query) => {
    const { monitor } = await served();
    const answer = await request(monitor, `/clients?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.type).toBe('application/json; charset=utf-8');
    expect(JSON.parse(answer.body)).toEqual({ error: expect.any(String) });
  });

  it('is 404 for sources without clients', async () => {
    const monitor = await startMonitorOf({
      health: () => ({ ready: true }),
      stats: () => ({}),
      statMetrics: {},
    });
    expect((await request(monitor, '/clients')).status).toBe(404);
  });
});

describe('routing', () => {
  it('answers 404 to an unknown path and 405 (allow: GET) to anything but GET', async () => {
    const { monitor } = await served();
    const missing = await request(monitor, '/nope');
    expect(missing.status).toBe(404);
    expect(missing.type).toBe('application/json; charset=utf-8');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const answer = await request(monitor, '/stats', { method });
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe('GET');
    }
  });

  it('answers 500 and reports ERR_MONITOR when a source throws, and goes on serving', async () => {
    const problems: Problem[] = [];
    let broken = true;
    const monitor = await startMonitorOf({
      health: () => ({ ready: true }),
      stats: () => {
        if (broken) throw new Error('stats broke');
        return { things: 1 };
      },
      statMetrics: {},
      report: (problem) => problems.push(problem),
    });
    const failed = await request(monitor, '/stats');
    expect(failed.status).toBe(500);
    expect(JSON.parse(failed.body)).toEqual({ error: 'stats broke' });
    expect(problems).toEqual([
      {
        code: ErrorCode.MonitorFailed,
        message: 'monitoring request GET /stats failed: stats broke',
        context: { connection: 'monitor-port' },
      },
    ]);
    broken = false;
    expect(await json(monitor, '/stats')).toMatchObject({ things: 1 });
  });
});

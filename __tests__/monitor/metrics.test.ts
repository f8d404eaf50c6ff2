/**
 * `/metrics` read by a real Prometheus text-format parser (`parse-prometheus-text-format`):
 * the exposition parses, every `MazeStats` key is exported under exactly one metric of the
 * right type and value, and the process metrics are there. Also checks the naming rules of
 * `MAZE_STAT_METRICS` and that two monitors in one process never share a registry.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from '@jest/globals';
import { createMaze } from '../../lib/adapter/maze.js';
import { MAZE_STAT_METRICS, serveMonitorSources } from '../../lib/monitor/maze-sources.js';
import type { MonitorServer } from '../../lib/monitor/monitor-server.js';
import { useMonitors } from '../helpers/monitors.js';
import { sleep, useTcpMazes, waitUntil } from '../helpers/sockets.js';

/** One metric family as the parser returns it (`type` in capitals: `COUNTER`, `GAUGE`, …). */
interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: readonly { readonly value?: string; readonly labels?: object }[];
}

// The parser ships CommonJS without types.
const parsePrometheusText = createRequire(import.meta.url)('parse-prometheus-text-format') as (
  text: string,
) => MetricFamily[];

const startMaze = useTcpMazes();
const startMonitorOf = useMonitors();

async function scrape(monitor: MonitorServer): Promise<{ type: string | null; text: string }> {
  const response = await fetch(`http://127.0.0.1:${monitor.address.port}/metrics`, {
    signal: AbortSignal.timeout(5_000),
  });
  expect(response.status).toBe(200);
  return { type: response.headers.get('content-type'), text: await response.text() };
}

function families(text: string): Map<string, MetricFamily> {
  return new Map(parsePrometheusText(text).map((family) => [family.name, family]));
}

describe('MAZE_STAT_METRICS', () => {
  const metrics = Object.values(MAZE_STAT_METRICS);

  it('classifies every key of MazeStats, and nothing else', async () => {
    const maze = createMaze();
    expect(Object.keys(MAZE_STAT_METRICS).sort()).toEqual(Object.keys(maze.stats()).sort());
    await maze.close();
  });

  it('gives every stat its own name', () => {
    expect(new Set(metrics.map((metric) => metric.name)).size).toBe(metrics.length);
  });

  it('names counters follower_maze_…_total and gauges follower_maze_… without it', () => {
    for (const metric of metrics) {
      expect(metric.name).toMatch(/^follower_maze_[a-z][a-z_]*[a-z]$/);
      expect(metric.name.endsWith('_total')).toBe(metric.kind === 'counter');
      expect(metric.help).not.toBe('');
    }
  });
});

describe('/metrics', () => {
  it('parses, with every stat under exactly one metric of the right type and value', async () => {
    const maze = await startMaze();
    const monitor = await startMonitorOf(serveMonitorSources(maze.server));
    await maze.identifiedClient('3\n');
    await maze.identifiedClient('4\n');
    const source = await maze.connectSource();
    source.socket.write('1|F|3|4\n2|B\n3|S|4\n4|P|4|3\n5|U|3|4\nnot an event\n');
    await waitUntil(() => maze.maze.stats().eventsReceived === 6, 'six event lines received');
    await waitUntil(() => maze.maze.stats().problems === 1, 'the bad line reported');

    const { type, text } = await scrape(monitor);
    expect(type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const parsed = families(text);
    const stats = maze.maze.stats();

    for (const [stat, metric] of Object.entries(MAZE_STAT_METRICS)) {
      const family = parsed.get(metric.name);
      expect(family).toMatchObject({ type: metric.kind.toUpperCase(), help: metric.help });
      expect(family?.metrics).toHaveLength(1);
      expect(Number(family?.metrics[0]?.value)).toBe(Number(stats[stat as keyof typeof stats]));
    }
    expect(Number(parsed.get('follower_maze_events_received_total')?.metrics[0]?.value)).toBe(6);
    expect(Number(parsed.get('follower_maze_notifications_sent_total')?.metrics[0]?.value)).toBe(
      stats.notificationsSent,
    );
    expect(Number(parsed.get('follower_maze_clients_connected')?.metrics[0]?.value)).toBe(2);
    expect(Number(parsed.get('follower_maze_event_source_connected')?.metrics[0]?.value)).toBe(1);

    // Process metrics, prefixed too; nothing unprefixed (prom-client's global registry unused).
    expect(parsed.get('follower_maze_process_cpu_seconds_total')?.type).toBe('COUNTER');
    expect(parsed.get('follower_maze_process_resident_memory_bytes')?.type).toBe('GAUGE');
    expect(parsed.get('follower_maze_nodejs_eventloop_lag_seconds')?.type).toBe('GAUGE');
    for (const name of parsed.keys()) expect(name).toMatch(/^follower_maze_/);
  });

  it('follows the counters from scrape to scrape', async () => {
    const maze = await startMaze();
    const monitor = await startMonitorOf(serveMonitorSources(maze.server));
    const value = async (name: string): Promise<number> =>
      Number(families((await scrape(monitor)).text).get(name)?.metrics[0]?.value);
    // A scrape is cached for a second: scrape until one has seen `expected` (or give up).
    const newest = async (name: string, expected: number): Promise<number> => {
      const deadline = Date.now() + 5_000;
      let seen = await value(name);
      while (seen !== expected && Date.now() < deadline) {
        await sleep(100);
        seen = await value(name);
      }
      return seen;
    };

    expect(await value('follower_maze_events_received_total')).toBe(0);
    const source = await maze.connectSource();
    source.socket.write('1|B\n2|B\n');
    await waitUntil(() => maze.maze.stats().eventsReceived === 2, 'two event lines received');
    expect(await newest('follower_maze_events_received_total', 2)).toBe(2);
    source.socket.write('3|B\n');
    await waitUntil(() => maze.maze.stats().eventsReceived === 3, 'three event lines received');
    expect(await newest('follower_maze_events_received_total', 3)).toBe(3);
    expect(await value('follower_maze_next_sequence')).toBe(4);
  });

  it('counts each exact resume in the replay histogram, and refused ones apart', async () => {
    const maze = await startMaze({ resumeBytes: 1024 * 1024 });
    const monitor = await startMonitorOf(serveMonitorSources(maze.server));
    const source = await maze.connectSource();
    source.socket.write('1|B\n2|P|1|7\n3|B\n');
    await waitUntil(() => maze.maze.stats().eventsApplied === 3, 'three events applied');
    const epoch = maze.maze.epoch;
    for (const idLine of [`7|0|${epoch}\n`, `7|2|${epoch}\n`, `7|9|${epoch}\n`]) {
      const client = await maze.connectClient();
      client.socket.write(idLine);
    }
    await waitUntil(
      () => maze.maze.stats().clientsResumed + maze.maze.stats().resumesRefused === 3,
      'three resumes',
    );
    const scraped = families((await scrape(monitor)).text);
    const histogram = scraped.get('follower_maze_resume_replayed_notifications');
    expect(histogram?.type).toBe('HISTOGRAM');
    // Two exact resumes replayed 3 and 1 notifications; "7|9" is ahead, refused.
    expect(histogram?.metrics[0]).toMatchObject({
      count: '2',
      sum: '4',
      buckets: expect.objectContaining({ '0': '0', '1': '1', '10': '2' }),
    });
    expect(scraped.get('follower_maze_resumes_refused_total')?.metrics[0]?.value).toBe('1');
  });

  it('keeps each monitor in its own registry', async () => {
    const first = await startMaze();
    const second = await startMaze();
    const monitorA = await startMonitorOf(serveMonitorSources(first.server));
    const monitorB = await startMonitorOf(serveMonitorSources(second.server));
    const source = await first.connectSource();
    source.socket.write('1|B\n');
    await waitUntil(() => first.maze.stats().eventsReceived === 1, 'one event line received');

    const received = async (monitor: MonitorServer): Promise<number> =>
      Number(
        families((await scrape(monitor)).text).get('follower_maze_events_received_total')
          ?.metrics[0]?.value,
      );
    expect(await received(monitorA)).toBe(1);
    expect(await received(monitorB)).toBe(0);
  });
});

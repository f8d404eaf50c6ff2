/**
 * A server command's monitoring port (`startMonitorFor()`) on `serve`'s sources: off unless
 * given, and when given it serves the running server and prints its address on stderr.
 */
import { describe, expect, it } from '@jest/globals';
import { Logger } from '../../lib/cli/logger.js';
import { startMonitorFor } from '../../lib/cli/server-process.js';
import { serveMonitorSources } from '../../lib/monitor/maze-sources.js';
import type { MazeServer } from '../../lib/net/listen.js';
import { useTcpMazes } from '../helpers/sockets.js';

const startMaze = useTcpMazes();

/** A logger writing text lines at a fixed time into `err`. */
function capture(): { err: string[]; logger: Logger } {
  const err: string[] = [];
  const logger = new Logger((line) => err.push(line), {
    level: 'info',
    format: 'text',
    now: () => new Date(0),
  });
  return { err, logger };
}

/** `serve`'s monitoring sources, as the command loads them. */
const sourcesOf = (server: MazeServer) => async () => serveMonitorSources(server);

describe('startMonitorFor', () => {
  it('starts nothing and prints nothing when monitoring is off', async () => {
    const maze = await startMaze();
    const lines = capture();
    expect(await startMonitorFor(sourcesOf(maze.server), undefined, lines.logger)).toBeUndefined();
    expect(lines.err).toEqual([]);
  });

  it('serves the running server on loopback and prints its address on stderr', async () => {
    const maze = await startMaze();
    const lines = capture();
    const monitor = await startMonitorFor(sourcesOf(maze.server), { port: 0 }, lines.logger);
    try {
      expect(monitor).toBeDefined();
      const port = monitor?.address.port;
      expect(lines.err).toEqual([
        `1970-01-01T00:00:00.000Z INFO  follower-maze monitor: http://127.0.0.1:${port}`,
      ]);
      const response = await fetch(`http://127.0.0.1:${port}/healthz`, {
        signal: AbortSignal.timeout(5_000),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    } finally {
      await monitor?.close();
    }
  });
});

/**
 * `serve`'s monitoring port (`startServeMonitor()`): off unless given, and when given it
 * serves the running server and prints its address on stderr.
 */
import { describe, expect, it } from '@jest/globals';
import { startServeMonitor } from '../lib/cli/serve.js';
import { useTcpMazes } from './helpers/sockets.js';

const startMaze = useTcpMazes();

function capture(): {
  out: string[];
  err: string[];
  output: { out(l: string): void; err(l: string): void };
} {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (line) => out.push(line), err: (line) => err.push(line) } };
}

describe('startServeMonitor', () => {
  it('starts nothing and prints nothing when monitoring is off', async () => {
    const maze = await startMaze();
    const lines = capture();
    expect(await startServeMonitor(maze.server, undefined, lines.output)).toBeUndefined();
    expect([...lines.out, ...lines.err]).toEqual([]);
  });

  it('serves the running server on loopback and prints its address on stderr', async () => {
    const maze = await startMaze();
    const lines = capture();
    const monitor = await startServeMonitor(maze.server, { port: 0 }, lines.output);
    try {
      expect(monitor).toBeDefined();
      const port = monitor?.address.port;
      expect(lines.out).toEqual([]);
      expect(lines.err).toEqual([`follower-maze monitor: http://127.0.0.1:${port}`]);
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

/**
 * The serve command's pieces in process: the option table, its validation and mapping to
 * `listen()`, the log formats, and `runServe()` on a port that is in use.
 */

import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createMaze } from '../lib/adapter/maze.js';
import { formatAddress, formatProblem, formatStats, runServe } from '../lib/cli/serve.js';
import {
  SERVE_OPTIONS,
  type ServeArgs,
  serveYargsOptions,
  toListenOptions,
  validateServeArgs,
} from '../lib/cli/serve-options.js';
import * as constants from '../lib/core/constants.js';
import { ErrorCode } from '../lib/core/errors.js';

function defaults(): ServeArgs {
  const args: Record<string, unknown> = {};
  for (const spec of SERVE_OPTIONS) args[spec.key] = spec.default;
  return args as unknown as ServeArgs;
}

describe('serve options', () => {
  it('has one option per tunable, with the library defaults', () => {
    expect(SERVE_OPTIONS.map((spec) => spec.flag)).toEqual([
      'event-port',
      'client-port',
      'host',
      'max-line-length',
      'identify-timeout',
      'max-clients',
      'client-buffer-limit',
      'total-buffer-limit',
      'slow-client-timeout',
      'reorder-capacity',
      'reorder-bytes',
      'start-sequence',
      'max-follow-edges',
      'reset-on-disconnect',
      'source-idle-timeout',
      'stats-interval',
      'shutdown-timeout',
    ]);
    const args = defaults();
    expect(args).toMatchObject({
      eventPort: constants.DEFAULT_EVENT_PORT,
      clientPort: constants.DEFAULT_CLIENT_PORT,
      host: constants.DEFAULT_HOST,
      statsInterval: constants.DEFAULT_STATS_INTERVAL_MS,
    });
    // Every maze option the CLI sets resolves to the same value as the library default.
    const { host, eventPort, clientPort, ...mazeOptions } = toListenOptions(args);
    expect([host, eventPort, clientPort]).toEqual(['127.0.0.1', 9090, 9099]);
    expect(createMaze(mazeOptions).options).toEqual(createMaze().options);
  });

  it('builds camel-case keys from the flags', () => {
    for (const spec of SERVE_OPTIONS) {
      expect(spec.key).toBe(
        spec.flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()),
      );
    }
    expect(Object.keys(serveYargsOptions())).toEqual(SERVE_OPTIONS.map((spec) => spec.flag));
  });

  it('accepts the defaults and the limits', () => {
    expect(validateServeArgs({ ...defaults() })).toBeUndefined();
    expect(validateServeArgs({ ...defaults(), eventPort: 0, statsInterval: 0 })).toBeUndefined();
  });

  it.each([
    [{ eventPort: -1 }, '--event-port must be an integer from 0 to 65535 (got -1)'],
    [
      { clientPort: Number.NaN },
      '--client-port must be an integer from 0 to 65535 (got not a number)',
    ],
    [{ identifyTimeout: 0 }, '--identify-timeout must be an integer from 1 to 2147483647 (got 0)'],
    [
      { reorderCapacity: 2.5 },
      '--reorder-capacity must be an integer from 1 to 9007199254740991 (got 2.5)',
    ],
    [{ reorderBytes: 0 }, '--reorder-bytes must be an integer from 1 to 9007199254740991 (got 0)'],
    [
      { sourceIdleTimeout: -1 },
      '--source-idle-timeout must be an integer from 0 to 2147483647 (got -1)',
    ],
    [
      { maxFollowEdges: 2 ** 27 + 1 },
      '--max-follow-edges must be an integer from 1 to 134217728 (got 134217729)',
    ],
    [{ host: '' }, '--host must not be empty'],
    [{ startSequence: [1, 2] }, '--start-sequence is given more than once'],
  ])('rejects %j', (override, message) => {
    expect(validateServeArgs({ ...defaults(), ...override })).toBe(message);
  });
});

describe('log formats', () => {
  it('puts a problem and its context on one line', () => {
    expect(
      formatProblem({
        code: ErrorCode.ClientSlow,
        message: 'too slow; disconnected',
        context: { connection: 'client#4', userId: 17 },
      }),
    ).toBe('problem ERR_CLIENT_SLOW [client#4 user 17]: too slow; disconnected');
    expect(formatProblem({ code: ErrorCode.StreamError, message: 'boom', context: {} })).toBe(
      'problem ERR_STREAM: boom',
    );
  });

  it('writes IPv6 hosts in brackets', () => {
    expect(formatAddress({ address: '127.0.0.1', family: 'IPv4', port: 9090 })).toBe(
      '127.0.0.1:9090',
    );
    expect(formatAddress({ address: '::1', family: 'IPv6', port: 9099 })).toBe('[::1]:9099');
  });

  it('prints every counter as key=value', () => {
    const line = formatStats(createMaze().stats());
    expect(line).toMatch(/^stats eventsReceived=0 .* nextSequence=1 .* clientsConnected=0 /);
    expect(line).toMatch(/ bytesOut=0 /);
    expect(line).toMatch(/ slowClientDisconnects=0 /);
  });
});

describe('runServe', () => {
  let blocker: Server | undefined;
  const exitCode = process.exitCode;

  afterEach(async () => {
    process.exitCode = exitCode;
    const server = blocker;
    blocker = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('prints one line and sets exit code 1 when a port is in use', async () => {
    blocker = createServer();
    const server = blocker;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const lines: string[] = [];
    const output = {
      out: (line: string) => lines.push(line),
      err: (line: string) => lines.push(line),
    };
    const result = await runServe({ ...defaults(), eventPort: 0, clientPort: port }, output);
    expect(result).toBeUndefined();
    expect(process.exitCode).toBe(1);
    expect(lines).toEqual([
      `follower-maze: cannot listen for client connections on 127.0.0.1:${port}: address already in use (EADDRINUSE)`,
    ]);
  });
});

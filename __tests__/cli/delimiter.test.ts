/**
 * `--delimiter` end to end with the built binary: `serve` and `simulate` given the same
 * delimiter verify every notification byte for byte; a simulator with another delimiter
 * than the server's fails as a protocol failure (exit 1), never as a pass; a bad value is a
 * usage error (exit 2) naming the flag or the variable.
 */
import { describe, expect, it } from '@jest/globals';
import { run } from '../helpers/binary.js';
import { serve, simulate, stop } from '../helpers/cluster-processes.js';
import { withTimeout } from '../helpers/sockets.js';

const SIMULATION_MS = 30_000;
const EXIT_MS = 10_000;
/** Short runs; `--timeout` bounds the wait for the warm-up of a mismatched pair. */
const SMALL = ['--total-events', '5000', '--concurrency-level', '10', '--log-interval', '0'];
const EXPECTED = 'must be one character (code below 256), none of "0123456789\\r\\nFUBPS"';

function portsOf(server: { eventPort: number; clientPort: number }): string[] {
  return ['--event-port', String(server.eventPort), '--client-port', String(server.clientPort)];
}

describe('--delimiter (built binary)', () => {
  it.each([
    [';', 'lf'],
    [',', 'crlf'],
    [' ', 'lf'],
  ])(
    'serve --delimiter %j passes simulate given the same (%s)',
    async (delimiter, terminator) => {
      const server = await serve(['--delimiter', delimiter]);
      const { code, summary } = await simulate(
        [...portsOf(server), ...SMALL, '--delimiter', delimiter, '--event-terminator', terminator],
        SIMULATION_MS,
      );
      expect({ code, ok: summary.ok, failure: summary.failure }).toEqual({
        code: 0,
        ok: true,
        failure: undefined,
      });
      expect(summary.notifications).toBeGreaterThan(1_000);
      expect(await stop(server)).toBe(0);
    },
    SIMULATION_MS + 15_000,
  );

  it.each([
    [[], 'delimiter=|'],
    [['--delimiter', ';'], 'delimiter=;'],
    [['--delimiter', ' '], 'delimiter=" "'],
    [['--delimiter', '\t'], 'delimiter="\\t"'],
  ])('shows the delimiter of %j in its limits banner as %s', async (args, shown) => {
    const server = await serve(args);
    const limits = await server.waitForLine('stderr', /follower-maze limits:/, EXIT_MS);
    expect(limits).toContain(
      ` maxFollowEdges=8388608 resumeBytes=0 ${shown} resetOnDisconnect=false `,
    );
    expect(await stop(server)).toBe(0);
  });

  it(
    'takes FOLLOWER_MAZE_DELIMITER, the same variable for serve and simulate',
    async () => {
      const env = { FOLLOWER_MAZE_DELIMITER: ';' };
      const server = await serve([], { env });
      const simulation = run(['simulate', ...portsOf(server), ...SMALL, '--json'], env);
      expect(await withTimeout(simulation.exited, SIMULATION_MS, 'the simulation')).toBe(0);
      expect(JSON.parse(simulation.stdout.at(-1) ?? '{}')).toMatchObject({ ok: true });
      expect(await stop(server)).toBe(0);
    },
    SIMULATION_MS + 15_000,
  );

  it(
    'fails a simulator whose delimiter is not the server’s as a protocol failure',
    async () => {
      const server = await serve();
      const { code, summary } = await simulate(
        [...portsOf(server), ...SMALL, '--delimiter', ';', '--timeout', '5000'],
        SIMULATION_MS,
      );
      expect({ code, ok: summary.ok }).toEqual({ code: 1, ok: false });
      expect(summary.failure).toMatchObject({
        kind: 'verification',
        code: 'ERR_SIM_NO_WARMUP',
        message: expect.stringContaining('another byte than ";" (--delimiter'),
      });
      // The server saw lines without a sequence number: `;` is no delimiter of its.
      expect(server.stderr.join('\n')).toMatch(/ERR_EVENT_BAD_SEQUENCE/);
      expect(await stop(server)).toBe(0);
    },
    SIMULATION_MS + 15_000,
  );

  it.each([
    ['5', 'serve'],
    [';;', 'gateway'],
    ['\r', 'ingest'],
    ['B', 'serve'],
    ['S', 'simulate'],
    ['7', 'simulate'],
  ])('exits 2 on --delimiter %j (%s), naming the flag', async (delimiter, command) => {
    const binary = run([command, '--delimiter', delimiter]);
    expect(await withTimeout(binary.exited, EXIT_MS, 'the exit')).toBe(2);
    expect(binary.rawStderr.join('\n')).toContain(
      `--delimiter ${EXPECTED}, got ${JSON.stringify(delimiter)}`,
    );
  });

  it('exits 2 on FOLLOWER_MAZE_DELIMITER=U, naming the variable', async () => {
    const binary = run(['serve'], { FOLLOWER_MAZE_DELIMITER: 'U' });
    expect(await withTimeout(binary.exited, EXIT_MS, 'the exit')).toBe(2);
    expect(binary.rawStderr.join('\n')).toContain(`FOLLOWER_MAZE_DELIMITER ${EXPECTED}, got "U"`);
  });
});

/**
 * `follower-maze simulate` as a user runs it: the built binary (`npm run build` first; `npm test`
 * does it in `pretest`), against in-test servers on 127.0.0.1.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { SUCCESS_LINE } from '../../lib/simulate/result.js';
import { BINARY, type Finished, run as runBinary } from '../helpers/binary.js';
import { type NaiveServer, unusedPort, useNaiveServers } from '../helpers/simulate-servers.js';

const RUN_LIMIT_MS = 20_000;

/** Runs `simulate` with `args` to its end, within RUN_LIMIT_MS. */
function run(args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return runBinary(['simulate', ...args], env).finished(RUN_LIMIT_MS);
}

/** Runs `simulate` with `args` against `server`'s two ports. */
function runAgainst(server: NaiveServer, args: string[]): Promise<Finished> {
  return run([
    '--event-port',
    String(server.eventPort),
    '--client-port',
    String(server.clientPort),
    ...args,
  ]);
}

const startServer = useNaiveServers();

const SMALL = ['--total-events', '5000', '--concurrency-level', '10', '--log-interval', '0'];

describe('follower-maze simulate (built binary)', () => {
  it('is built', () => {
    expect(existsSync(BINARY)).toBe(true);
  });

  it('exits 0 and prints the summary and the success line against a correct server', async () => {
    const result = await runAgainst(await startServer(), SMALL);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^simulating 5000 events from 100 users to 10 clients at 127\.0\.0\.1/,
    );
    expect(result.stdout).toMatch(
      /^events: \d+ \(\d+ warm-up\) to 10 clients of 100 users, seed 666$/m,
    );
    expect(result.stdout).toMatch(/^time: [\d.]+ s, \d+ events\/s, \d+ notifications\/s$/m);
    expect(lines.at(-1)).toBe(SUCCESS_LINE);
  });

  it('reads FOLLOWER_MAZE_* variables, a flag winning', async () => {
    const server = await startServer();
    const result = await run(['--event-port', String(server.eventPort), '--json'], {
      FOLLOWER_MAZE_EVENT_PORT: '1',
      FOLLOWER_MAZE_CLIENT_PORT: String(server.clientPort),
      FOLLOWER_MAZE_TOTAL_EVENTS: '2000',
      FOLLOWER_MAZE_CONCURRENCY_LEVEL: '4',
      FOLLOWER_MAZE_LOG_INTERVAL: '0',
    });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ ok: true, exitCode: 0, clients: 4, users: 40, seed: 666 });
    expect(summary.events).toBe(2000 + summary.warmupEvents);
  });

  it('reads the original environment variables and flags, as aliases', async () => {
    const server = await startServer();
    const result = await run(['--eventListenerPort', String(server.eventPort), '--json'], {
      clientListenerPort: String(server.clientPort),
      totalEvents: '3000',
      concurrencyLevel: '5',
      randomSeed: '12',
      logInterval: '0',
    });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({ ok: true, exitCode: 0, clients: 5, users: 50, seed: 12 });
    expect(summary.events).toBe(3000 + summary.warmupEvents);
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(1);
  });

  it('prints periodic progress lines on a non-TTY stderr', async () => {
    const result = await runAgainst(await startServer(), [
      '--total-events',
      '60000',
      '--concurrency-level',
      '10',
      '--log-interval',
      '20',
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^[\d.]+s: sent \d+\/\d+ events \([\d.]+%, \d+\/s\), received \d+ notifications \(\d+\/s\), \d+ pending$/m,
    );
    expect(result.stderr).not.toContain('\r');
  });

  it('reports the drops and resumes of --reconnect-every', async () => {
    const result = await runAgainst(await startServer(), [
      ...SMALL,
      '--reconnect-every',
      '30',
      '--reconnect-pause',
      '5',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const line =
      /^reconnects: (\d+) drops, (\d+) resumes \((\d+) exact, 0 refused: 0 trimmed, 0 ahead\), \d+ notifications owed on resume$/m.exec(
        result.stdout,
      );
    expect(Number(line?.[1])).toBeGreaterThan(0);
    expect(line?.[2]).toBe(line?.[1]);
    expect(line?.[3]).toBe(line?.[1]);
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(SUCCESS_LINE);
  });

  it('exits 1 and names the problem when the server drops a notification', async () => {
    const result = await runAgainst(await startServer({ kind: 'drop', at: 300 }), SMALL);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^FAILED ERR_SIM_MISSING: client#\d+ \(user \d+\), line \d+: expected event \d+/m,
    );
    expect(result.stdout).not.toContain(SUCCESS_LINE);
  });

  it('exits 1 with a JSON failure under --json', async () => {
    const server = await startServer({ kind: 'duplicate', at: 300 });
    const result = await runAgainst(server, [...SMALL, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      exitCode: 1,
      failure: { code: 'ERR_SIM_OUT_OF_ORDER', kind: 'verification' },
    });
  });

  it('documents the list form of --client-port in --help', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    // yargs wraps at the terminal width: a line break may fall between any two words.
    expect(result.stdout).toMatch(
      /--client-port[\s\S]*comma-separated\s+list\s+spreads\s+them\s+round-robin/,
    );
    // The example: its command wraps around its description, so each is checked alone.
    expect(result.stdout).toContain('9099,9199,9299');
    expect(result.stdout).toMatch(/verify\s+a\s+cluster/);
  });

  it('labels each option in --help with its type and default', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    const text = result.stdout.replace(/\s+/g, ' ');
    expect(text).toContain(
      '--total-events Events to stream (after the warm-up broadcasts) [number] [default: 10000000]',
    );
    expect(text).toContain(
      '--event-port, --event-listener-port Port the event source connects to [number] [default: 9090]',
    );
    expect(text).toMatch(/--event-terminator [^[]*\[choices: "lf", "crlf"\] \[default: lf\]/);
    expect(text).toMatch(/--event-mix [^[]*\[string\] \[default: F:30,U:10,B:5,P:25,S:30\]/);
    expect(text).toContain(
      '--json Print only a one-line JSON summary on stdout [boolean] [default: false]',
    );
  });

  it('exits 2 when the server cannot be reached', async () => {
    const port = String(await unusedPort());
    const result = await run(['--event-port', port, '--client-port', port, ...SMALL]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^FAILED ERR_SIM_CONNECT: cannot connect client#\d+ to 127\.0\.0\.1:\d+: ECONNREFUSED/m,
    );
  });

  it.each([
    [['--timeout', 'soon'], {}, /^follower-maze simulate: --timeout must be an integer from 1/],
    [
      ['--total-events', 'abc'],
      {},
      /^follower-maze simulate: --total-events must be an integer from 0 to 1000000000000000, got "abc"$/m,
    ],
    [
      [],
      { FOLLOWER_MAZE_TOTAL_EVENTS: 'abc' },
      /^follower-maze simulate: FOLLOWER_MAZE_TOTAL_EVENTS must be an integer from 0 to 1000000000000000, got "abc"$/m,
    ],
    [['--event-terminator', 'cr'], {}, /--event-terminator must be one of lf, crlf, got "cr"/],
    [[], { totalEvents: '-5' }, /: totalEvents must be an integer from 0/],
    [
      ['--client-port', '9099,,9100'],
      {},
      /--client-port must be a port from 1 to 65535 or a comma-separated list of distinct ones, got "9099,,9100"/,
    ],
    [[], { clientListenerPort: '9099,9099' }, /list of distinct ones, got "9099,9099"/],
    [['--no-such-option'], {}, /unknown option --such-option/],
  ])('exits 2 on a usage error: %j %j', async (args, env, message) => {
    const result = await run(args, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });
});

describe('follower-maze simulate interrupted (built binary)', () => {
  it('prints the partial summary and exits 130 on SIGINT', async () => {
    const server = await startServer();
    const simulation = runBinary([
      'simulate',
      '--event-port',
      String(server.eventPort),
      '--client-port',
      String(server.clientPort),
      '--total-events',
      '10000000',
      '--concurrency-level',
      '10',
      '--log-interval',
      '50',
    ]);
    // The first progress line: events are streaming.
    await simulation.waitForLine('stderr', /received [1-9]\d* notifications/, 10_000);
    simulation.child.kill('SIGINT');
    const { code, signal, stdout, stderr } = await simulation.finished(10_000);
    expect({ code, signal }).toEqual({ code: 130, signal: null });
    expect(stdout).toMatch(/^events: [1-9]\d* \(\d+ warm-up\) to 10 clients/m);
    expect(stdout).toMatch(/^notifications: [1-9]\d* of \d+ expected$/m);
    expect(stderr).toMatch(
      /^FAILED ERR_SIM_INTERRUPTED: interrupted after \d+ events sent and \d+ notifications verified; the figures are partial$/m,
    );
  });
});

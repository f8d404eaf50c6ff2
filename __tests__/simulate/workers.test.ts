/**
 * A run spread over worker processes and source addresses (`--workers`,
 * `--source-addresses`), through the built binary (the workers are its modules): the same
 * verification as one process, down to the digest, and a worker's failure is the run's.
 */
import { describe, expect, it } from '@jest/globals';
import { BINARY, run as runBinary, runCommand } from '../helpers/binary.js';
import { type NaiveServer, useNaiveServers } from '../helpers/simulate-servers.js';

const RUN_LIMIT_MS = 30_000;

const startServer = useNaiveServers();

/** `simulate --json` against `server` with `args`: exit code and the parsed summary. */
async function simulateJson(
  server: NaiveServer,
  args: string[],
): Promise<{ code: number | null; summary: Record<string, unknown> }> {
  const finished = await runBinary([
    'simulate',
    '--event-port',
    String(server.eventPort),
    '--client-port',
    String(server.clientPort),
    '--json',
    ...args,
  ]).finished(RUN_LIMIT_MS);
  return { code: finished.code, summary: JSON.parse(finished.stdout) };
}

const RUN = ['--total-events', '3000', '--concurrency-level', '100', '--stalled-clients', '4'];

describe('simulate over worker processes', () => {
  it('verifies every client, from every source address, as one process does', async () => {
    const spreadServer = await startServer();
    const spread = await simulateJson(spreadServer, [
      ...RUN,
      '--workers',
      '2',
      '--source-addresses',
      '127.0.0.2,127.0.0.3',
    ]);
    const single = await simulateJson(await startServer(), [...RUN, '--workers', '1']);
    expect(spread.code).toBe(0);
    expect(single.code).toBe(0);
    expect(spread.summary).toMatchObject({
      ok: true,
      clients: 100,
      stalledClients: 4,
      notifications: spread.summary.expectedNotifications,
      // The warm-up is timing's, the digest only the stream's.
      digest: single.summary.digest,
    });
    expect(spread.summary.notifications).toBeGreaterThan(10_000);
    // Every worker's latencies, merged.
    expect(spread.summary.latency).toMatchObject({
      p50: expect.any(Number),
      max: expect.any(Number),
    });
    expect(spread.summary.workersStartSeconds).toBeGreaterThan(0);
    expect(single.summary.workersStartSeconds).toBeNull();
    expect(spread.summary.connectSeconds).toEqual(expect.any(Number));
    expect(spread.summary.registerSeconds).toEqual(expect.any(Number));
    expect([...spreadServer.clientSources()].sort()).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it("fails the run with a worker's failure", async () => {
    const server = await startServer({ kind: 'drop', at: 2_000 });
    const { code, summary } = await simulateJson(server, [...RUN, '--workers', '3']);
    expect(code).toBe(1);
    expect(summary).toMatchObject({
      ok: false,
      failure: { code: 'ERR_SIM_MISSING', context: { connection: expect.any(String) } },
    });
  });

  it('names the client a server starved in the warm-up, not those it never registered', async () => {
    const server = await startServer({ kind: 'starve', keep: 10, lateMs: 60_000 });
    const { code, summary } = await simulateJson(server, [
      ...RUN,
      '--workers',
      '2',
      '--timeout',
      '1000',
    ]);
    expect(code).toBe(1);
    expect(summary).toMatchObject({
      ok: false,
      failure: {
        code: 'ERR_SIM_TIMEOUT',
        context: { connection: expect.stringMatching(/^client#\d+$/), lineNumber: 11 },
      },
    });
  });

  it('resumes dropped clients in every worker', async () => {
    const spread = await simulateJson(await startServer(), [
      ...RUN,
      '--workers',
      '2',
      '--reconnect-every',
      '40',
    ]);
    expect(spread.code).toBe(0);
    expect(spread.summary).toMatchObject({ ok: true, clients: 100 });
    expect((spread.summary.reconnects as { drops: number }).drops).toBeGreaterThan(0);
  });

  it('stops on Ctrl-C sent to the whole process group, with the partial figures of every worker', async () => {
    const server = await startServer();
    // In a group of its own, as a terminal's foreground job: Ctrl-C reaches every process.
    const simulation = runCommand(
      process.execPath,
      [
        BINARY,
        'simulate',
        '--event-port',
        String(server.eventPort),
        '--client-port',
        String(server.clientPort),
        '--total-events',
        '10000000',
        '--concurrency-level',
        '10',
        '--workers',
        '2',
        '--log-interval',
        '50',
      ],
      { group: true },
    );
    await simulation.waitForLine('stderr', /received [1-9]\d* notifications/, 10_000);
    process.kill(-(simulation.child.pid as number), 'SIGINT');
    const { code, signal, stdout, stderr } = await simulation.finished(10_000);
    expect({ code, signal }).toEqual({ code: 130, signal: null });
    expect(stdout).toMatch(/^notifications: [1-9]\d* of \d+ expected$/m);
    expect(stderr).toMatch(/^FAILED ERR_SIM_INTERRUPTED: interrupted after \d+ events sent/m);
  });
});

/**
 * Exact resume end to end: `follower-maze simulate --reconnect-every` (the built binary)
 * against the built `serve` and against a cluster of two gateways on a real nats-server.
 * Clients drop at random points, mid-line too, come back as `USERID|LASTSEQ|EPOCH` and must
 * receive exactly what a connection that never dropped would have, which the simulator
 * checks line by line; without history every resume that misses something is refused.
 * Every wait is bounded; every process is stopped.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { gateway, ingest, serve, simulate, stop } from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';

const RUN_MS = 60_000;
/** A history that holds every event of these runs. */
const HISTORY = ['--resume-bytes', String(16 * 1024 * 1024)];

/** Runs `simulate --json` with `args` (ports first) and returns its exit code and summary. */
function simulateWith(args: string[]): ReturnType<typeof simulate> {
  return simulate(
    ['--total-events', '30000', '--concurrency-level', '20', '--log-interval', '0', ...args],
    RUN_MS,
  );
}

/** `--event-port` and `--client-port` of a serving process. */
function portsOf(server: { eventPort: number; clientPort: number }): string[] {
  return ['--event-port', String(server.eventPort), '--client-port', String(server.clientPort)];
}

describe('simulate --reconnect-every against serve (built binaries)', () => {
  it('verifies every resume exact, with the digest of a run whose clients never drop', async () => {
    const steadyServer = await serve();
    const steady = await simulateWith(portsOf(steadyServer));
    expect(await stop(steadyServer)).toBe(0);
    expect(steady.code).toBe(0);
    expect(steady.summary.reconnects).toBeNull();

    const server = await serve(HISTORY);
    const resumed = await simulateWith([...portsOf(server), '--reconnect-every', '100']);
    expect(await stop(server)).toBe(0);
    expect(resumed.code).toBe(0);
    expect(resumed.summary.ok).toBe(true);
    const reconnects = resumed.summary.reconnects;
    expect(reconnects?.drops).toBeGreaterThan(100);
    expect(reconnects).toMatchObject({
      resumes: reconnects?.drops,
      refused: { trimmed: 0, ahead: 0 },
      skipped: 0,
      repeats: 0,
    });
    expect(resumed.summary.digest).toBe(steady.summary.digest);
  }, 120_000);

  it('is told of every resume that misses events without history (the default)', async () => {
    const server = await serve();
    const { code, summary } = await simulateWith([...portsOf(server), '--reconnect-every', '300']);
    expect(await stop(server)).toBe(0);
    expect(code).toBe(0);
    const reconnects = summary.reconnects;
    expect(reconnects?.refused.trimmed).toBeGreaterThan(0);
    expect(reconnects?.refused.ahead).toBe(0);
    expect(reconnects?.resumes).toBe(reconnects?.drops);
  }, 60_000);
});

describeWithNats('simulate --reconnect-every against a cluster (built binaries)', () => {
  let nats: NatsServer;

  beforeAll(async () => {
    nats = await startNatsServer();
  });

  it('verifies clients that resume on the other gateway', async () => {
    const stream = 'RESUME_MOVE';
    const events = await ingest(nats, stream);
    const gateways = [await gateway(nats, stream, HISTORY), await gateway(nats, stream, HISTORY)];
    const { code, summary } = await simulateWith([
      '--event-port',
      String(events.port),
      '--client-port',
      gateways.map((started) => started.port).join(','),
      '--reconnect-every',
      '200',
    ]);
    for (const process of [events, ...gateways]) expect(await stop(process)).toBe(0);
    expect(code).toBe(0);
    const reconnects = summary.reconnects;
    expect(reconnects?.drops).toBeGreaterThan(20);
    expect(reconnects?.resumes).toBe(reconnects?.drops);
    // A gateway behind the one the client left says so; none trims with a 16 MiB history.
    expect(reconnects?.refused.trimmed).toBe(0);
    expect(reconnects?.skipped).toBe(0);
  }, 120_000);
});

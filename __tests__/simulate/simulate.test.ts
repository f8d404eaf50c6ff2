import { afterEach, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';
import { listen, type MazeServer } from '../../lib/net/listen.js';
import { DropSchedule, NO_DROP } from '../../lib/simulate/drops.js';
import {
  type SimulateOptions,
  SimulationErrorCode,
  type SimulationResult,
  simulate,
} from '../../lib/simulate/index.js';
import { resolveSimulateOptions } from '../../lib/simulate/options.js';
import {
  EXIT_INTERRUPTED,
  exitCodeOf,
  type SimulationProgress,
} from '../../lib/simulate/result.js';
import { runSimulation, WARMUP_SILENCE_MS } from '../../lib/simulate/simulate.js';
import {
  type Fault,
  portsOf,
  type TestCluster,
  unusedPort,
  useNaiveServers,
  useTestClusters,
} from '../helpers/simulate-servers.js';

const startNaive = useNaiveServers();
const startCluster = useTestClusters();
let real: MazeServer | undefined;
afterEach(async () => {
  await real?.close();
  real = undefined;
});

const SMALL: SimulateOptions = {
  totalEvents: 20_000,
  concurrencyLevel: 20,
  timeout: 5_000,
  logInterval: 0,
  linger: 50,
};

async function againstNaive(
  options: SimulateOptions = {},
  fault?: Fault,
): Promise<SimulationResult> {
  return simulate({ ...portsOf(await startNaive(fault)), ...SMALL, ...options });
}

// ERR_SIM_NO_WARMUP says how to get a fresh server of each kind: a plain serve forgets
// on a restart or with --reset-on-disconnect (which a server on NATS refuses); a server on
// NATS, or a cluster, keeps its log and needs a new stream.
function expectFreshServerAdvice(message: string): void {
  expect(message).toContain(
    'restart a plain serve, or start it with --reset-on-disconnect; a server on NATS' +
      ' (serve --nats-url, or an ingest with gateways) keeps its event log across restarts,' +
      ' so restart it, and every gateway, on a new stream (another --nats-stream and' +
      ' --nats-subject)',
  );
}

function expectSuccess(result: SimulationResult): void {
  if (!result.ok) throw new Error(`expected success, got ${result.failure.message}`);
  expect(exitCodeOf(result)).toBe(0);
  expect(result.notifications).toBe(result.expectedNotifications);
  expect(result.notifications).toBeGreaterThan(0);
}

describe('simulate against a correct naive server', () => {
  it.each([
    ['lf', 'lf'],
    ['crlf', 'crlf'],
    ['crlf', 'lf'],
    ['lf', 'crlf'],
  ] as const)('passes with %s events and %s ids', async (eventTerminator, idTerminator) => {
    const naive = await startNaive();
    const result = await simulate({ ...portsOf(naive), ...SMALL, eventTerminator, idTerminator });
    expectSuccess(result);
    expect(result.events).toBe(20_000 + result.warmupEvents);
    expect(result.clients).toBe(20);
    expect(result.users).toBe(200);
    expect(naive.notifications()).toBe(result.notifications);
  });

  it('gives the same digest for a seed whatever the warm-up, another for another seed', async () => {
    const first = await againstNaive({ randomSeed: 7 });
    // Clients registered late: more warm-up broadcasts, so every later number shifts.
    const late = await againstNaive({ randomSeed: 7 }, { kind: 'late-register', ms: 150 });
    const other = await againstNaive({ randomSeed: 8 });
    for (const result of [first, late, other]) expectSuccess(result);
    expect(late.warmupEvents).toBeGreaterThan(first.warmupEvents);
    expect(late.digest).toMatch(/^[0-9a-f]{8}$/);
    expect(late.digest).toBe(first.digest);
    expect(other.digest).not.toBe(first.digest);
  });

  it('waits for a server that registers clients late (warm-up)', async () => {
    const result = await againstNaive({ totalEvents: 2_000 }, { kind: 'late-register', ms: 150 });
    expectSuccess(result);
    expect(result.warmupEvents).toBeGreaterThan(2);
  });

  it('sends no warm-up broadcast while the last one is still on its way to registered clients', async () => {
    // Every line 100 ms late; one client registered only after 600 ms.
    const naive = await startNaive({ kind: 'slow', ms: 100, lateMs: 600 });
    const result = await simulate({ ...portsOf(naive), ...SMALL, totalEvents: 100 });
    expectSuccess(result);
    // Every 20 ms until the first delivery (100 ms after the first broadcast) and those
    // sent before it arrived (up to 100 ms later); from then on, each only once the last
    // one was delivered, 100 ms or more after it. Without waiting: every 20 ms all along.
    const times = naive.broadcastTimes().slice(0, result.warmupEvents);
    const first = times[0] as number;
    const paced = times.filter((time) => time > first + 200);
    expect(paced.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < paced.length; i++) {
      expect((paced[i] as number) - (paced[i - 1] as number)).toBeGreaterThanOrEqual(90);
    }
  });

  it('reports progress every logInterval', async () => {
    const progress: SimulationProgress[] = [];
    const result = await againstNaive({
      totalEvents: 50_000,
      logInterval: 20,
      onProgress: (snapshot) => progress.push(snapshot),
    });
    expectSuccess(result);
    expect(progress.length).toBeGreaterThan(0);
    const last = progress.at(-1) as SimulationProgress;
    expect(last.eventsTotal).toBe(result.events);
    expect(last.eventsSent).toBeLessThanOrEqual(result.events);
    expect(last.notificationsReceived).toBeLessThanOrEqual(result.notifications);
  });

  it('sends nothing and succeeds with totalEvents 0 (after the warm-up)', async () => {
    const result = await againstNaive({ totalEvents: 0 });
    expectSuccess(result);
    expect(result.events).toBe(result.warmupEvents);
  });
});

describe('simulate with reconnecting clients (naive server)', () => {
  it('verifies exact resumes after drops at random points, with the digest of a run without', async () => {
    const steady = await againstNaive({ randomSeed: 9 });
    const result = await againstNaive({ randomSeed: 9, reconnectEvery: 40, reconnectPause: 5 });
    expectSuccess(steady);
    expectSuccess(result);
    expect(steady.reconnects).toBeNull();
    const reconnects = result.reconnects;
    expect(reconnects?.drops).toBeGreaterThan(100);
    expect(reconnects).toMatchObject({
      resumes: reconnects?.drops,
      refused: { trimmed: 0, ahead: 0 },
      skipped: 0,
      repeats: 0,
    });
    expect(reconnects?.owedOnResume).toBeGreaterThan(0);
    expect(result.digest).toBe(steady.digest);
  });

  it('counts resumes refused as trimmed and verifies the stream from NEXT on', async () => {
    const result = await againstNaive(
      { reconnectEvery: 200, reconnectPause: 5 },
      { kind: 'gap', reason: 'trimmed' },
    );
    expectSuccess(result);
    const reconnects = result.reconnects;
    expect(reconnects?.resumes).toBeGreaterThan(10);
    expect(reconnects?.refused).toEqual({ trimmed: reconnects?.resumes, ahead: 0 });
    expect(reconnects?.skipped).toBeGreaterThan(0);
  });

  it('ignores the repeats after a resume refused as ahead', async () => {
    const result = await againstNaive(
      { reconnectEvery: 200, reconnectPause: 5 },
      { kind: 'gap', reason: 'ahead' },
    );
    expectSuccess(result);
    const reconnects = result.reconnects;
    expect(reconnects?.resumes).toBeGreaterThan(10);
    expect(reconnects?.refused).toEqual({ trimmed: 0, ahead: reconnects?.resumes });
    expect(reconnects?.repeats).toBeGreaterThan(0);
    expect(reconnects?.skipped).toBe(0);
  });

  it('verifies clients whose first connection drops before any notification: they resume after their epoch line’s number', async () => {
    const seed = 9;
    const reconnectEvery = 2;
    // Where the run's schedules drop the first connections (as `simulate` builds them):
    // within the line after the epoch line, having received no notification.
    const opening = Buffer.from(`!EPOCH|1|0\n${'9'.repeat(40)}\n`, 'latin1');
    const early = Array.from({ length: SMALL.concurrencyLevel as number }, (_, index) =>
      new DropSchedule(seed, index, reconnectEvery, 1).cut(opening, opening.length),
    ).filter((cut) => cut !== NO_DROP && cut < opening.length);
    expect(early.length).toBeGreaterThan(0);
    real = await listen({ eventPort: 0, clientPort: 0, resumeBytes: 16 * 1024 * 1024 });
    const result = await simulate({
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
      ...SMALL,
      // Every other notification drops a connection: a short run.
      totalEvents: 2_000,
      randomSeed: seed,
      reconnectEvery,
      reconnectPause: 5,
    });
    expectSuccess(result);
    expect(result.reconnects).toMatchObject({ refused: { trimmed: 0, ahead: 0 }, skipped: 0 });
    expect(real.maze.stats()).toMatchObject({ resumesRefused: 0 });
  });

  it('fails when a resume sends again the last line received', async () => {
    const result = await againstNaive(
      { reconnectEvery: 40, reconnectPause: 5 },
      { kind: 'resend-last' },
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.failure.code).toBe(SimulationErrorCode.OutOfOrder);
    expect(result.reconnects?.resumes).toBeGreaterThan(0);
  });

  it.each(['missing', 'changing', 'last'] as const)(
    'fails with ERR_SIM_EPOCH when the epoch line is %s on a resumed connection (last: names LASTSEQ - 1 without a gap line)',
    async (fault) => {
      const result = await againstNaive(
        { reconnectEvery: 40, reconnectPause: 5 },
        { kind: 'epoch', fault },
      );
      expect(result.ok).toBe(false);
      expect(result.ok ? undefined : result.failure.code).toBe(SimulationErrorCode.Epoch);
      expect(result.reconnects?.resumes).toBeGreaterThan(0);
    },
  );
});

describe('simulate: connection and usage errors', () => {
  it('an unreachable server is a connection failure (exit code 2)', async () => {
    const port = await unusedPort();
    const result = await simulate({
      eventPort: port,
      clientPort: port,
      ...SMALL,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject({ code: SimulationErrorCode.Connect, kind: 'connection' });
    expect(result.failure.message).toMatch(
      new RegExp(`^cannot connect client#\\d+ to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`),
    );
    expect(exitCodeOf(result)).toBe(2);
  });

  it('an unreachable event port is a connection failure too', async () => {
    const naive = await startNaive();
    const result = await simulate({
      eventPort: await unusedPort(),
      clientPort: naive.clientPort,
      ...SMALL,
    });
    expect(result.ok ? undefined : result.failure.message).toMatch(/^cannot connect event-source/);
    expect(exitCodeOf(result)).toBe(2);
  });

  it('rejects invalid options with ERR_INVALID_OPTION', async () => {
    await expect(simulate({ concurrencyLevel: 0 })).rejects.toMatchObject({
      code: ErrorCode.InvalidOption,
    });
  });
});

describe('simulate against our server (lib/net listen)', () => {
  it.each([
    ['lf', 'lf'],
    ['crlf', 'crlf'],
  ] as const)('passes with %s events and %s ids', async (eventTerminator, idTerminator) => {
    real = await listen({ eventPort: 0, clientPort: 0 });
    const result = await simulate({
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
      ...SMALL,
      concurrencyLevel: 50,
      eventTerminator,
      idTerminator,
    });
    expectSuccess(result);
    expect(real.maze.stats()).toMatchObject({ eventsApplied: result.events });
  });

  it('passes a run with the default clients and users', async () => {
    real = await listen({ eventPort: 0, clientPort: 0 });
    const result = await simulate({
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
      totalEvents: 50_000,
      logInterval: 0,
    });
    expectSuccess(result);
    expect(result.clients).toBe(100);
    expect(result.users).toBe(1_000);
    expect(result.rate).toBeNull();
    expect(result.latency).not.toBeNull();
  });

  it('paces the source with --rate and reports plausible latency', async () => {
    real = await listen({ eventPort: 0, clientPort: 0 });
    const result = await simulate({
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
      totalEvents: 2_000,
      rate: 2_000,
      logInterval: 0,
      linger: 0,
    });
    expectSuccess(result);
    expect(result.rate).toBe(2_000);
    // Never faster than asked on average (no wall-clock lower bound on a shared machine).
    expect(result.sendRate).toBeGreaterThan(0);
    expect(result.sendRate).toBeLessThanOrEqual(2_000 * 1.05);
    const latency = result.latency;
    if (latency === null) throw new Error('no latency reported');
    expect(latency.p50).toBeGreaterThan(0);
    expect(latency.p50).toBeLessThanOrEqual(latency.p90);
    expect(latency.p90).toBeLessThanOrEqual(latency.p99);
    expect(latency.p99).toBeLessThanOrEqual(latency.p999);
    expect(latency.p999).toBeLessThanOrEqual(latency.max);
  });

  it.each([
    ['leaves out of the latency, still verified, what is written within', 500, 60_000, false],
    ['records the latency of what is written after', 2_000, 100, true],
  ])('%s --latency-warmup', async (_what, totalEvents, warmup, recorded) => {
    real = await listen({ eventPort: 0, clientPort: 0 });
    const result = await simulate({
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
      totalEvents,
      rate: 5_000,
      latencyWarmup: warmup,
      logInterval: 0,
      linger: 0,
    });
    expectSuccess(result);
    expect(result.notifications).toBeGreaterThan(0);
    expect(result.latencyWarmup).toBe(warmup);
    expect(result.latency !== null).toBe(recorded);
  });

  it('keeps verifying the other clients beside a stalled one', async () => {
    real = await listen({ eventPort: 0, clientPort: 0 });
    const result = await simulate({
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
      ...SMALL,
      stalledClients: 1,
    });
    expectSuccess(result);
    expect(result.stalledClients).toBe(1);
  });
});

describe('simulate waitForPorts: servers still starting', () => {
  it('tries refused ports again until the server listens', async () => {
    const eventPort = await unusedPort();
    const clientPort = await unusedPort();
    const running = simulate({
      eventListenerPort: eventPort,
      clientListenerPort: clientPort,
      ...SMALL,
      totalEvents: 2_000,
      waitForPorts: 10_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    real = await listen({ eventPort, clientPort });
    expectSuccess(await running);
  });

  it('gives up, a connection failure, once waitForPorts ms have passed', async () => {
    const port = await unusedPort();
    const startedAt = Date.now();
    const result = await simulate({
      eventListenerPort: port,
      clientListenerPort: port,
      ...SMALL,
      waitForPorts: 400,
    });
    const took = Date.now() - startedAt;
    expect(result.ok ? undefined : result.failure.message).toMatch(
      new RegExp(`^cannot connect client#\\d+ to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`),
    );
    expect(exitCodeOf(result)).toBe(2);
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(3_000);
  });
});

describe('simulate twice against one server (lib/net listen)', () => {
  it('fails fast with ERR_SIM_NO_WARMUP and says what to do, not ERR_SIM_NOT_REGISTERED after timeout', async () => {
    real = await listen({ eventPort: 0, clientPort: 0 });
    const ports = {
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
    };
    expectSuccess(await simulate({ ...ports, ...SMALL, totalEvents: 2_000 }));
    const startedAt = Date.now();
    const second = await simulate({ ...ports, ...SMALL, totalEvents: 2_000, timeout: 20_000 });
    expect(Date.now() - startedAt).toBeLessThan(WARMUP_SILENCE_MS + 3_000);
    expect(second.ok).toBe(false);
    if (second.ok) return;
    expect(second.failure.code).toBe(SimulationErrorCode.NoWarmup);
    expect(second.failure.message).toMatch(/already applied these sequence numbers/);
    expectFreshServerAdvice(second.failure.message);
    expect(exitCodeOf(second)).toBe(1);
  });

  it('gives a cluster the same advice: the simulator cannot tell the kinds of server apart', async () => {
    const cluster = await startCluster(2);
    const ports = {
      eventListenerPort: cluster.eventPort,
      clientListenerPort: cluster.clientPorts.join(','),
    };
    expectSuccess(await simulate({ ...ports, ...SMALL, totalEvents: 2_000 }));
    const second = await simulate({ ...ports, ...SMALL, totalEvents: 2_000 });
    expect(second.ok ? undefined : second.failure.code).toBe(SimulationErrorCode.NoWarmup);
    expectFreshServerAdvice(second.ok ? '' : second.failure.message);
  });

  it('passes twice against a server that resets when the event source disconnects', async () => {
    real = await listen({ eventPort: 0, clientPort: 0, resetOnDisconnect: true });
    const ports = {
      eventPort: real.eventAddress.port,
      clientPort: real.clientAddress.port,
    };
    expectSuccess(await simulate({ ...ports, ...SMALL, totalEvents: 2_000 }));
    expectSuccess(await simulate({ ...ports, ...SMALL, totalEvents: 2_000 }));
  });
});

describe('simulate against a cluster (one event port, several client ports)', () => {
  // Every gateway applied every event, and together they sent what the clients verified.
  function expectEveryGatewayServed(cluster: TestCluster, result: SimulationResult): void {
    const stats = cluster.mazes.map((maze) => maze.stats());
    for (const gateway of stats) expect(gateway.eventsApplied).toBe(result.events);
    const sent = stats.reduce((total, gateway) => total + gateway.notificationsSent, 0);
    expect(sent).toBe(result.notifications);
  }

  it('spreads the clients round-robin over three ports and verifies them all', async () => {
    const cluster = await startCluster(3);
    const result = await simulate({
      ...SMALL,
      eventPort: cluster.eventPort,
      clientPort: cluster.clientPorts.join(','),
    });
    expectSuccess(result);
    expect(result.clients).toBe(20);
    // Client i on port i mod 3: 0, 3, …, 18 | 1, 4, …, 19 | 2, 5, …, 17.
    expect(cluster.accepted()).toEqual([7, 7, 6]);
    expectEveryGatewayServed(cluster, result);
  });

  it('goes on round-robin with the stalled clients, after the verified ones', async () => {
    const cluster = await startCluster(2);
    const result = await simulate({
      ...SMALL,
      eventPort: cluster.eventPort,
      clientPort: cluster.clientPorts,
      concurrencyLevel: 5,
      stalledClients: 1,
    });
    expectSuccess(result);
    // Verified clients 0..4 on ports 0, 1, 0, 1, 0; the stalled one (client 5) on port 1.
    expect(cluster.accepted()).toEqual([3, 3]);
  });

  it('waits in the warm-up for the clients of a gateway that registers them late', async () => {
    const cluster = await startCluster(2, { lateRegisterMs: 150 });
    const result = await simulate({
      ...SMALL,
      totalEvents: 2_000,
      eventPort: cluster.eventPort,
      clientPort: cluster.clientPorts.join(','),
    });
    expectSuccess(result);
    expect(result.warmupEvents).toBeGreaterThan(2);
    expect(cluster.accepted()).toEqual([10, 10]);
    expectEveryGatewayServed(cluster, result);
  });

  it('fails to connect, exit code 2, when one of the ports has no server', async () => {
    const cluster = await startCluster(1);
    const port = await unusedPort();
    const result = await simulate({
      ...SMALL,
      eventPort: cluster.eventPort,
      clientPort: `${cluster.clientPorts[0]},${port}`,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject({ code: SimulationErrorCode.Connect, kind: 'connection' });
    expect(result.failure.message).toMatch(
      new RegExp(`^cannot connect client#\\d+ to 127\\.0\\.0\\.1:${port}: ECONNREFUSED`),
    );
    // The odd clients are the ones on the second port.
    expect(result.failure.context.connection).toMatch(/^client#\d*[13579]$/);
    expect(exitCodeOf(result)).toBe(2);
  });
});

describe('simulate: interrupted', () => {
  it('stops on abort with ERR_SIM_INTERRUPTED, the partial figures and exit code 130', async () => {
    const naive = await startNaive();
    const interrupt = new AbortController();
    const result = await runSimulation(
      resolveSimulateOptions({
        ...portsOf(naive),
        ...SMALL,
        totalEvents: 10_000_000,
        logInterval: 20,
        onProgress: (progress: SimulationProgress) => {
          if (progress.notificationsReceived > 0) interrupt.abort();
        },
      }),
      { signal: interrupt.signal },
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure).toMatchObject({
      code: SimulationErrorCode.Interrupted,
      kind: 'interrupted',
    });
    expect(result.failure.message).toMatch(
      /^interrupted after \d+ events sent and \d+ notifications verified; the figures are partial$/,
    );
    expect(result.events).toBeGreaterThan(0);
    expect(result.events).toBeLessThan(10_000_000);
    expect(result.notifications).toBeGreaterThan(0);
    expect(exitCodeOf(result)).toBe(EXIT_INTERRUPTED);
  });
});

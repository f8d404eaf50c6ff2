/** `runSimulateCommand` in-process, with fake stdout/stderr: output formats and exit codes. */
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { runSimulateCommand } from '../../lib/cli/simulate-run.js';
import {
  exitCodeOf,
  formatJson,
  formatSummary,
  type SimulationResult,
  SUCCESS_LINE,
} from '../../lib/simulate/result.js';
import {
  portsOf,
  unusedPort,
  useNaiveServers,
  useTestClusters,
} from '../helpers/simulate-servers.js';

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function io(tty = false, env: Record<string, string> = {}) {
  return { stdout: new Capture(tty), stderr: new Capture(tty), env };
}

const startServer = useNaiveServers();
const startCluster = useTestClusters();

describe('runSimulateCommand', () => {
  it('redraws one progress line on a TTY, then prints the summary', async () => {
    const out = io(true);
    const code = await runSimulateCommand(
      {
        ...portsOf(await startServer()),
        totalEvents: 60_000,
        concurrencyLevel: 10,
        logInterval: 10,
      },
      out,
    );
    expect(code).toBe(0);
    expect(out.stderr.text).toMatch(/^\r[\d.]+s: sent /);
    expect(out.stderr.text).toContain('\u001b[K');
    expect(out.stderr.text.endsWith('\n')).toBe(true);
    expect(out.stderr.text.split('\n')).toHaveLength(2);
    expect(out.stdout.text.trimEnd().split('\n').at(-1)).toBe(SUCCESS_LINE);
  });

  it('takes options from the environment, by the original names too', async () => {
    const ports = portsOf(await startServer());
    const out = io(false, {
      FOLLOWER_MAZE_EVENT_PORT: String(ports.eventPort),
      clientListenerPort: String(ports.clientPort),
      totalEvents: '1000',
      concurrencyLevel: '4',
      logInterval: '0',
    });
    expect(await runSimulateCommand({ json: true }, out)).toBe(0);
    expect(JSON.parse(out.stdout.text)).toMatchObject({ ok: true, clients: 4, users: 40 });
    expect(out.stderr.text).toBe('');
  });

  it('takes a list of client ports from the environment and names them all', async () => {
    const cluster = await startCluster(2);
    const ports = cluster.clientPorts.join(',');
    const out = io(false, {
      FOLLOWER_MAZE_EVENT_PORT: String(cluster.eventPort),
      FOLLOWER_MAZE_CLIENT_PORT: ports,
      totalEvents: '1000',
      concurrencyLevel: '4',
      logInterval: '0',
    });
    expect(await runSimulateCommand({}, out)).toBe(0);
    expect(out.stdout.text.split('\n')[0]).toBe(
      `simulating 1000 events from 40 users to 4 clients at 127.0.0.1` +
        ` (events :${cluster.eventPort}, clients :${ports}), seed 666`,
    );
    expect(out.stdout.text.trimEnd().split('\n').at(-1)).toBe(SUCCESS_LINE);
    expect(cluster.accepted()).toEqual([2, 2]);
  });

  it('prints the failure on stderr and returns 1', async () => {
    const out = io();
    const code = await runSimulateCommand(
      {
        ...portsOf(await startServer({ kind: 'swap', at: 100 })),
        totalEvents: 2_000,
        concurrencyLevel: 5,
        logInterval: 0,
      },
      out,
    );
    expect(code).toBe(1);
    expect(out.stderr.text).toMatch(
      /^FAILED ERR_SIM_MISSING: client#\d+ \(user \d+\), line \d+: expected event/,
    );
    expect(out.stdout.text).not.toContain(SUCCESS_LINE);
  });

  it('prints only the failure, with its code, when nothing listens (returns 2)', async () => {
    const port = await unusedPort();
    const out = io();
    const code = await runSimulateCommand(
      { eventListenerPort: port, clientListenerPort: port, concurrencyLevel: 2, logInterval: 0 },
      out,
    );
    expect(code).toBe(2);
    expect(out.stderr.text).toMatch(
      new RegExp(
        `^FAILED ERR_SIM_CONNECT: cannot connect client#\\d+ to 127\\.0\\.0\\.1:${port}: ECONNREFUSED [^\\n]*\\n$`,
      ),
    );
    // The line saying what it is about to do, and no summary of zeros.
    expect(out.stdout.text.split('\n')).toEqual([expect.stringMatching(/^simulating /), '']);
  });

  it('returns 2 on an invalid option, before connecting', async () => {
    const out = io();
    expect(await runSimulateCommand({ concurrencyLevel: 'many' }, out)).toBe(2);
    expect(out.stderr.text).toBe(
      'follower-maze simulate: --concurrency-level must be an integer from 1 to 100000, got "many"\n',
    );
    expect(out.stdout.text).toBe('');
  });
});

describe('result formatting', () => {
  const summary = {
    events: 1_001,
    warmupEvents: 1,
    notifications: 5_000,
    expectedNotifications: 5_000,
    clients: 10,
    users: 100,
    seed: 666,
    seconds: 0.5,
    eventsPerSecond: 2_002,
    notificationsPerSecond: 10_000,
    rate: null,
    sendRate: 2_100,
    latency: null,
    latencyWarmup: 0,
    workersStartSeconds: null,
    connectSeconds: 0.1,
    registerSeconds: 0.02,
    stalledClients: 0,
    reconnects: null,
    digest: '0badf00d',
  };

  it('formats a success', () => {
    const result: SimulationResult = { ok: true, ...summary };
    expect(formatSummary(result)).toEqual([
      'events: 1001 (1 warm-up) to 10 clients of 100 users, seed 666',
      'notifications: 5000 of 5000 expected',
      'time: 0.500 s, 2002 events/s, 10000 notifications/s',
      'pace: as fast as possible, sent 2100 events/s',
      'digest: 0badf00d',
      SUCCESS_LINE,
    ]);
    expect(exitCodeOf(result)).toBe(0);
  });

  it('shows the pace asked for, the latency percentiles and the stalled clients', () => {
    const latency = { p50: 0.25, p90: 0.5, p99: 1.25, p999: 2.5, max: 10 };
    const result: SimulationResult = {
      ok: true,
      ...summary,
      rate: 2_000,
      sendRate: 1_999.6,
      latency,
      stalledClients: 1,
    };
    const lines = formatSummary(result);
    expect(lines).toContain('pace: 2000 events/s asked, 2000 events/s sent');
    expect(lines).toContain('latency ms: p50 0.250, p90 0.500, p99 1.250, p99.9 2.500, max 10.000');
    expect(lines).toContain('stalled clients: 1 (identified, never read, not verified)');
    const json = JSON.parse(formatJson(result));
    expect(json.latency).toEqual(latency);
    expect(json.rate).toBe(2_000);
    expect(json.stalledClients).toBe(1);
  });

  it('shows the drops and resumes of reconnecting clients', () => {
    const reconnects = {
      drops: 40,
      resumes: 39,
      refused: { trimmed: 2, ahead: 1 },
      owedOnResume: 812,
      skipped: 0,
      repeats: 0,
    };
    const result: SimulationResult = { ok: true, ...summary, reconnects };
    expect(formatSummary(result)).toContain(
      'reconnects: 40 drops, 39 resumes (36 exact, 3 refused: 2 trimmed, 1 ahead),' +
        ' 812 notifications owed on resume',
    );
    expect(
      formatSummary({ ...result, reconnects: { ...reconnects, skipped: 17, repeats: 4 } }),
    ).toContain(
      'reconnects: 40 drops, 39 resumes (36 exact, 3 refused: 2 trimmed, 1 ahead),' +
        ' 812 notifications owed on resume, 17 skipped by refused resumes, 4 repeats ignored',
    );
    expect(JSON.parse(formatJson(result)).reconnects).toEqual(reconnects);
    expect(formatSummary({ ok: true, ...summary }).join('\n')).not.toContain('reconnects');
    expect(JSON.parse(formatJson({ ok: true, ...summary })).reconnects).toBeNull();
  });

  it('says when the start of the stream was left out of the latency', () => {
    const latency = { p50: 0.25, p90: 0.5, p99: 1.25, p999: 2.5, max: 10 };
    const result: SimulationResult = { ok: true, ...summary, latency, latencyWarmup: 2_000 };
    expect(formatSummary(result)).toContain(
      'latency ms (after the first 2000 ms): p50 0.250, p90 0.500, p99 1.250, p99.9 2.500, max 10.000',
    );
    expect(JSON.parse(formatJson(result)).latencyWarmup).toBe(2_000);
    expect(formatSummary({ ok: true, ...summary, latencyWarmup: 2_000 })).toContain(
      'latency ms: none recorded after the first 2000 ms',
    );
  });

  it('gives latency null in JSON when nothing was received', () => {
    expect(JSON.parse(formatJson({ ok: true, ...summary })).latency).toBeNull();
  });

  it('formats a connection failure as the failure alone', () => {
    const result: SimulationResult = {
      ok: false,
      ...summary,
      failure: { code: 'ERR_SIM_CONNECT', kind: 'connection', message: 'refused', context: {} },
    };
    expect(formatSummary(result)).toEqual(['FAILED ERR_SIM_CONNECT: refused']);
    // A verification failure keeps its figures.
    expect(
      formatSummary({
        ...result,
        failure: { code: 'ERR_SIM_TIMEOUT', kind: 'verification', message: 'late', context: {} },
      }),
    ).toEqual([
      ...formatSummary({ ok: true, ...summary }).slice(0, 4),
      'FAILED ERR_SIM_TIMEOUT: late',
    ]);
  });

  it('maps a connection failure to 2, a verification failure to 1, an interruption to 130', () => {
    const failure = { message: 'x', context: {} } as const;
    expect(
      exitCodeOf({
        ok: false,
        ...summary,
        failure: { ...failure, code: 'ERR_SIM_CONNECT', kind: 'connection' },
      }),
    ).toBe(2);
    expect(
      exitCodeOf({
        ok: false,
        ...summary,
        failure: { ...failure, code: 'ERR_SIM_TIMEOUT', kind: 'verification' },
      }),
    ).toBe(1);
    expect(
      exitCodeOf({
        ok: false,
        ...summary,
        failure: { ...failure, code: 'ERR_SIM_INTERRUPTED', kind: 'interrupted' },
      }),
    ).toBe(130);
  });
});

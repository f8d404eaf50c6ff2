#!/usr/bin/env node
/**
 * What the monitoring port can cost the event path (docs/performance.md#the-monitor-under-attack):
 *
 *   node scripts/monitor-attack.mjs [--rate 100000] [--seconds 15] [--events 2000000] [--clients 100]
 *        [--users 1000] [--idle-clients 1000] [--attackers 16] [--runs 3]
 *        [--attacks none,metrics,clients,pipeline,slowloris] [--bin dist/bin/follower-maze.js]
 *
 * Each run starts the BUILT server (`--monitor-port 0`) as a child process, connects
 * `idle-clients` clients of users no event names (so `/clients?limit=1000` pages are full
 * and cost nothing else), then the built `follower-maze simulate --json` streams events at a
 * steady `rate` per second for `seconds` (`--rate 0`: `events` events as fast as it can) and
 * verifies its `clients` clients byte for byte. The event mix
 * has no broadcasts (they would go to the idle clients too). Meanwhile this process:
 * - runs one attack on the monitoring port, with `attackers` connections:
 *   `metrics`   keep-alive clients asking `/metrics` again as soon as each answer arrives;
 *   `clients`   the same on `/clients?limit=1000`;
 *   `pipeline`  connections that write pipelined `GET /metrics` without end and never read
 *               (a connection the server closes is opened again at once);
 *   `slowloris` connections that send a request line, then one header byte per second
 *               (again opened anew when the server closes one);
 *   `none`      nothing: the baseline;
 * - probes `/healthz` once per second on a fresh connection (`connection: close`), as a
 *   supervisor does, each probe answered 200 within `PROBE_TIMEOUT_MS` or counted missed.
 * Per run it reports the simulator's events/s and notification latency (p50, p99), the
 * server's CPU time per event over the stream (what the attack costs the event path, whether
 * or not the machine has cores to spare: at a steady rate the throughput only drops once the
 * server runs out of CPU), its peak RSS (VmHWM) and the probes answered. The runs go round by round (every attack once per round), so a noisy machine
 * spreads over all of them; the medians per attack follow, with the throughput relative to
 * `none`. It exits 1 if a simulation fails or the server reports a problem it should not.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { killChildren, STOP_TIMEOUT_MS, stopChild, track } from './bench/children.mjs';
import { HOST, runSimulator } from './bench/simulator-run.mjs';
import { DEFAULT_SERVER_BIN, procStatusKiB, startServer } from './support/server-process.mjs';

const ATTACKS = ['none', 'metrics', 'clients', 'pipeline', 'slowloris'];
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '15' },
    events: { type: 'string', default: '2000000' },
    clients: { type: 'string', default: '100' },
    users: { type: 'string', default: '1000' },
    'idle-clients': { type: 'string', default: '1000' },
    attackers: { type: 'string', default: '16' },
    runs: { type: 'string', default: '3' },
    attacks: { type: 'string', default: ATTACKS.join(',') },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const RATE = Number(values.rate);
/** At full speed (`--rate 0`), a stream of a fixed size instead. */
const EVENTS = RATE > 0 ? RATE * Number(values.seconds) : Number(values.events);
const CLIENTS = Number(values.clients);
const USERS = Number(values.users);
const IDLE_CLIENTS = Number(values['idle-clients']);
const ATTACKERS = Number(values.attackers);
const RUNS = Number(values.runs);
const attacks = values.attacks.split(',');
for (const attack of attacks) {
  if (!ATTACKS.includes(attack)) throw new Error(`--attacks: ${attack} is not one of ${ATTACKS}`);
}
/** No broadcasts: they would reach the idle clients as well. */
const EVENT_MIX = 'F:30,U:10,P:30,S:30';
/** A probe not answered 200 within this is missed (a supervisor's usual timeout). */
const PROBE_TIMEOUT_MS = 1_000;
const SIMULATION_TIMEOUT_MS = 600_000;
/** USER_HZ of /proc/<pid>/stat: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;
const MONITOR_LINE = /follower-maze monitor: http:\/\/[^:\s]+:(\d+)/;

process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killChildren();
    process.exit(1);
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One attack on the monitor at `port`; returns its stop().
 * @param {string} attack
 * @param {number} port
 */
function startAttack(attack, port) {
  let running = true;
  let opened = 0;
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  const agent = new Agent({ keepAlive: true, maxSockets: ATTACKERS });
  /** @param {string} path */
  const hammer = async (path) => {
    while (running) {
      await new Promise((resolve) => {
        const request = get({ host: HOST, port, path, agent }, (response) => {
          response.resume();
          response.once('end', resolve);
          response.once('error', resolve);
        });
        request.once('error', () => sleep(10).then(resolve));
      });
    }
  };
  /** @param {(socket: import('node:net').Socket) => void} onConnect */
  const raw = (onConnect) => {
    const open = () => {
      if (!running) return;
      const socket = connect({ host: HOST, port });
      sockets.add(socket);
      opened++;
      socket.once('connect', () => onConnect(socket));
      socket.on('error', () => undefined);
      socket.once('close', () => {
        sockets.delete(socket);
        setTimeout(open, 1);
      });
    };
    open();
  };
  const pipelined = Buffer.from(`GET /metrics HTTP/1.1\r\nhost: ${HOST}\r\n\r\n`.repeat(256));
  for (let index = 0; index < ATTACKERS; index++) {
    if (attack === 'metrics') hammer('/metrics');
    else if (attack === 'clients') hammer('/clients?limit=1000');
    else if (attack === 'pipeline') {
      raw((socket) => {
        socket.pause(); // never read a byte of the answers
        const flood = () => {
          while (running && !socket.destroyed && socket.write(pipelined));
        };
        socket.on('drain', flood);
        flood();
      });
    } else if (attack === 'slowloris') {
      raw((socket) => {
        socket.write(`GET /metrics HTTP/1.1\r\nhost: ${HOST}\r\nx-slow: `);
        const drip = setInterval(() => socket.write('a'), 1_000);
        socket.once('close', () => clearInterval(drip));
      });
    }
  }
  /** Stops the attack; returns how many raw connections it opened. */
  return () => {
    running = false;
    agent.destroy();
    for (const socket of sockets) socket.destroy();
    return opened;
  };
}

/**
 * Probes `/healthz` on a fresh connection once per second until stopped.
 * @param {number} port
 */
function startProbes(port) {
  let sent = 0;
  let answered = 0;
  let slowestMs = 0;
  /** @type {Map<string, number>} */
  const missed = new Map();
  /** @param {string} why */
  const miss = (why) => missed.set(why, (missed.get(why) ?? 0) + 1);
  const probe = () => {
    sent++;
    const started = performance.now();
    const request = get(
      { host: HOST, port, path: '/healthz', agent: false, headers: { connection: 'close' } },
      (response) => {
        response.resume();
        response.once('end', () => {
          if (response.statusCode === 200) {
            answered++;
            slowestMs = Math.max(slowestMs, performance.now() - started);
          } else miss(`status ${response.statusCode}`);
          request.destroy();
        });
      },
    );
    request.setTimeout(PROBE_TIMEOUT_MS, () => request.destroy(new Error('timeout')));
    request.on('error', (error) => miss(error.message));
  };
  const timer = setInterval(probe, 1_000);
  return async () => {
    clearInterval(timer);
    // The last probe's answer, if any, comes within its timeout.
    await sleep(PROBE_TIMEOUT_MS);
    return { sent, answered, slowestMs, missed: Object.fromEntries(missed) };
  };
}

/**
 * Connects `count` identified clients of users above the simulation's; returns them.
 * @param {number} port
 * @param {number} count
 */
async function connectIdleClients(port, count) {
  /** @type {import('node:net').Socket[]} */
  const idle = [];
  for (let index = 0; index < count; index++) {
    const socket = connect({ host: HOST, port });
    socket.on('error', () => undefined);
    socket.write(`${USERS + 1 + index}\n`);
    idle.push(socket);
    await once(socket, 'connect');
  }
  return idle;
}

/** @param {string} attack */
async function runOnce(attack) {
  const { child, ports } = startServer({
    bin: values.bin,
    serverArgs: ['--monitor-port', '0'],
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (text) => {
    stderr = (stderr + text).slice(-20_000);
  });
  const { eventPort, clientPort } = await ports;
  while (!MONITOR_LINE.test(stderr)) await sleep(10);
  const monitorPort = Number(MONITOR_LINE.exec(stderr)?.[1]);
  const idle = await connectIdleClients(clientPort, IDLE_CLIENTS);
  const stopAttack = startAttack(attack, monitorPort);
  const stopProbes = startProbes(monitorPort);
  const cpuBefore = cpuSecondsOf(/** @type {number} */ (child.pid));
  try {
    const { summary } = await runSimulator({
      bin: values.bin,
      eventPort,
      clientPorts: [clientPort],
      load: {
        events: EVENTS,
        clients: CLIENTS,
        users: USERS,
        maxBatch: 100,
        eventMix: EVENT_MIX,
        rate: RATE,
      },
      timeoutMs: SIMULATION_TIMEOUT_MS,
    });
    const cpuSeconds = cpuSecondsOf(/** @type {number} */ (child.pid)) - cpuBefore;
    const attackConnections = stopAttack();
    const peakRssMiB = (procStatusKiB(/** @type {number} */ (child.pid), 'VmHWM') ?? 0) / 1024;
    const probes = await stopProbes();
    // ERR_MONITOR would be the monitor failing; anything else is the event path's.
    const problems = stderr.match(/problem ERR_\w+[^\n]*/g) ?? [];
    return {
      eventsPerSecond: summary.eventsPerSecond,
      cpuMicrosPerEvent: (cpuSeconds * 1e6) / EVENTS,
      p50: summary.latency?.p50 ?? Number.NaN,
      p99: summary.latency?.p99 ?? Number.NaN,
      peakRssMiB,
      probes,
      problems,
      attackConnections,
    };
  } finally {
    stopAttack();
    for (const socket of idle) socket.destroy();
    await stopChild(child, { name: 'the server', signal: 'SIGTERM', ms: STOP_TIMEOUT_MS });
  }
}

/**
 * CPU time (user + system) process `pid` has used so far, in seconds (/proc/<pid>/stat).
 * @param {number} pid
 */
function cpuSecondsOf(pid) {
  // The fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** @param {number[]} numbers */
const median = (numbers) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)];

/** @type {Map<string, Awaited<ReturnType<typeof runOnce>>[]>} */
const results = new Map(attacks.map((attack) => [attack, []]));
console.log(
  `monitor-attack: ${EVENTS} events${RATE > 0 ? ` at ${RATE}/s` : ' at full speed'}, ${CLIENTS} verified clients of ${USERS} users, ${IDLE_CLIENTS} idle clients, ${ATTACKERS} attackers, ${RUNS} round(s)`,
);
for (let round = 1; round <= RUNS; round++) {
  for (const attack of attacks) {
    const result = await runOnce(attack);
    results.get(attack)?.push(result);
    console.log(
      `round ${round} ${attack}: ${Math.round(result.eventsPerSecond)} events/s, server ${result.cpuMicrosPerEvent.toFixed(2)} µs CPU/event, latency p50 ${result.p50} ms p99 ${result.p99} ms, peak RSS ${result.peakRssMiB.toFixed(1)} MiB, ${result.attackConnections} attacking connections, /healthz ${result.probes.answered}/${result.probes.sent} (slowest ${Math.round(result.probes.slowestMs)} ms${Object.keys(result.probes.missed).length > 0 ? `, missed: ${JSON.stringify(result.probes.missed)}` : ''})` +
        (result.problems.length > 0 ? `, problems: ${result.problems.slice(0, 3).join('; ')}` : ''),
    );
    if (result.problems.length > 0) process.exitCode = 1;
  }
}

const baseline = results.get('none');
/** @param {(run: Awaited<ReturnType<typeof runOnce>>) => number} figure */
const baselineOf = (figure) => (baseline?.length ? median(baseline.map(figure)) : Number.NaN);
/** @param {number} value @param {number} base */
const relative = (value, base) =>
  Number.isNaN(base) ? 'n/a' : `${((value / base) * 100).toFixed(1)}%`;
const baseRate = baselineOf((run) => run.eventsPerSecond);
const baseCpu = baselineOf((run) => run.cpuMicrosPerEvent);
console.log(
  '\n| Attack | Events/s | vs none | Server CPU/event | vs none | Latency p50 / p99 | Peak RSS | /healthz answered |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const [attack, runs] of results) {
  const rate = median(runs.map((run) => run.eventsPerSecond));
  const cpu = median(runs.map((run) => run.cpuMicrosPerEvent));
  const p50 = median(runs.map((run) => run.p50));
  const p99 = median(runs.map((run) => run.p99));
  const rss = median(runs.map((run) => run.peakRssMiB));
  const answered = runs.reduce((sum, run) => sum + run.probes.answered, 0);
  const sent = runs.reduce((sum, run) => sum + run.probes.sent, 0);
  console.log(
    `| ${attack} | ${Math.round(rate).toLocaleString('en')} | ${relative(rate, baseRate)} | ${cpu.toFixed(2)} µs | ${relative(cpu, baseCpu)} | ${p50} / ${p99} ms | ${rss.toFixed(1)} MiB | ${answered}/${sent} |`,
  );
}

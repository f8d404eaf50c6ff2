#!/usr/bin/env node
/**
 * Delivery under a flood of bad TLS handshakes against the client port (docs/security.md):
 *
 *   node scripts/tls-handshake-flood.mjs [--events 500000] [--rate 50000] [--clients 100]
 *        [--flood-rate 1000] [--runs 3] [--bin dist/bin/follower-maze.js]
 *
 * Each run starts the BUILT server with TLS on both ports and mutual TLS for the source
 * (`--tls-cert --tls-key --event-tls-ca`, the test certificates), then the built
 * `follower-maze simulate --json` with `--tls-ca` and the source's certificate: `clients`
 * TLS clients, `events` events paced at `rate` per second, every notification verified byte
 * for byte, the latency of the first 2 s left out. Meanwhile this script opens `flood-rate`
 * connections per second to the client port, half of them sending 517 random bytes where a
 * ClientHello belongs (the server fails them at its first record), half of them real TLS
 * handshakes that refuse the server's certificate (the server does all of its handshake work,
 * key exchange and signature, for nothing). Runs with and without the flood alternate
 * (`runs` of each), so a noisy machine weighs on both alike.
 *
 * Prints per run and as medians: the simulator's verdict, notifications verified, events/s,
 * latency p50/p99, the flood connections opened, the failed handshakes the server counted
 * (`clientTlsFailures` of its last stats line: handshakes still running when the flood
 * stops are counted later, at their deadline) and the server's CPU seconds. Exit code 1 if
 * any run fails verification.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_SERVER_BIN, parseStatsLine, startServer } from './support/server-process.mjs';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '500000' },
    rate: { type: 'string', default: '50000' },
    clients: { type: 'string', default: '100' },
    'flood-rate': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const EVENTS = Number(values.events);
const RATE = Number(values.rate);
const CLIENTS = Number(values.clients);
const FLOOD_RATE = Number(values['flood-rate']);
const RUNS = Number(values.runs);
const FIXTURES = fileURLToPath(new URL('../__tests__/fixtures/tls/', import.meta.url));
const fixture = (name) => `${FIXTURES}${name}`;
/** Flood connections are opened in batches this often. */
const FLOOD_TICK_MS = 10;
/** The simulator's bound on a run: a minute plus twice the paced stream's length. */
const SIMULATION_TIMEOUT_MS = 60_000 + (2 * 1000 * EVENTS) / RATE;

/** Opens flood connections against `port` until `stop()`; counts what it opened. */
function startFlood(port) {
  const counts = { garbage: 0, refusingHandshakes: 0 };
  const open = new Set();
  let debt = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    debt += ((now - last) * FLOOD_RATE) / 1000;
    last = now;
    for (; debt >= 1; debt--) {
      const garbage = (counts.garbage + counts.refusingHandshakes) % 2 === 0;
      const socket = garbage
        ? connectTcp(port, '127.0.0.1', () => socket.write(randomBytes(517)))
        : connectTls({ host: '127.0.0.1', port, ca: 'none', rejectUnauthorized: true });
      if (garbage) counts.garbage++;
      else counts.refusingHandshakes++;
      open.add(socket);
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.on('close', () => open.delete(socket));
    }
  }, FLOOD_TICK_MS);
  return {
    counts,
    stop() {
      clearInterval(timer);
      for (const socket of open) socket.destroy();
    },
  };
}

async function runOnce(flood) {
  const server = startServer({
    bin: values.bin,
    serverArgs: [
      '--tls-cert',
      fixture('server.pem'),
      '--tls-key',
      fixture('server-key.pem'),
      '--event-tls-ca',
      fixture('ca.pem'),
      '--stats-interval',
      '250',
    ],
    stdio: ['ignore', 'pipe', 'ignore'],
    keepChars: 64 * 1024,
  });
  try {
    const { eventPort, clientPort } = await server.ports;
    const simulator = spawn(
      process.execPath,
      [
        values.bin,
        'simulate',
        '--json',
        '--event-port',
        String(eventPort),
        '--client-port',
        String(clientPort),
        '--total-events',
        String(EVENTS),
        '--rate',
        String(RATE),
        '--concurrency-level',
        String(CLIENTS),
        '--latency-warmup',
        '2000',
        '--log-interval',
        '0',
        '--timeout',
        '30000',
        '--tls-ca',
        fixture('ca.pem'),
        '--event-tls-cert',
        fixture('source.pem'),
        '--event-tls-key',
        fixture('source-key.pem'),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    simulator.stdout.on('data', (chunk) => {
      output += chunk;
    });
    const flooding = flood ? startFlood(clientPort) : undefined;
    const killer = setTimeout(() => simulator.kill('SIGKILL'), SIMULATION_TIMEOUT_MS);
    const [code] = await once(simulator, 'exit');
    clearTimeout(killer);
    flooding?.stop();
    const serverCpuSeconds = cpuSecondsOf(server.child.pid);
    // The last stats line, a moment after the flood stopped.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const lines = server.stdout.text().split('\n');
    const stats =
      lines
        .map(parseStatsLine)
        .filter((fields) => fields !== undefined)
        .at(-1) ?? {};
    const summary = JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
    return {
      flood,
      ok: code === 0 && summary.ok === true,
      notifications: summary.notifications ?? 0,
      expected: summary.expectedNotifications ?? 0,
      eventsPerSecond: summary.eventsPerSecond ?? 0,
      p50: summary.latency?.p50 ?? null,
      p99: summary.latency?.p99 ?? null,
      floodOpened:
        flooding === undefined ? 0 : flooding.counts.garbage + flooding.counts.refusingHandshakes,
      clientTlsFailures: Number(stats.clientTlsFailures ?? 0),
      serverCpuSeconds,
    };
  } finally {
    server.child.kill('SIGKILL');
  }
}

/** User + system CPU seconds of process `pid` so far (Linux /proc). */
function cpuSecondsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function median(numbers) {
  const sorted = numbers.filter((n) => n !== null).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const fixed = (value, digits) => (value === null ? '-' : value.toFixed(digits));

function describe(run) {
  return (
    `${run.flood ? 'flood   ' : 'no flood'} ${run.ok ? 'ALL NOTIFICATIONS RECEIVED' : 'FAILED'}` +
    ` ${run.notifications}/${run.expected} notifications, ${Math.round(run.eventsPerSecond)} events/s,` +
    ` latency p50 ${fixed(run.p50, 2)} ms p99 ${fixed(run.p99, 2)} ms,` +
    ` flood connections ${run.floodOpened}, failed handshakes counted ${run.clientTlsFailures},` +
    ` server CPU ${fixed(run.serverCpuSeconds, 2)} s`
  );
}

const runs = [];
process.stdout.write(
  `tls-handshake-flood: ${EVENTS} events at ${RATE}/s to ${CLIENTS} TLS clients, flood ${FLOOD_RATE} connections/s, ${RUNS} runs each\n`,
);
for (let index = 0; index < RUNS; index++) {
  for (const flood of [false, true]) {
    const run = await runOnce(flood);
    runs.push(run);
    process.stdout.write(`run ${index + 1} ${describe(run)}\n`);
  }
}
for (const flood of [false, true]) {
  const mine = runs.filter((run) => run.flood === flood);
  process.stdout.write(
    `median ${describe({
      flood,
      ok: mine.every((run) => run.ok),
      notifications: median(mine.map((run) => run.notifications)),
      expected: median(mine.map((run) => run.expected)),
      eventsPerSecond: median(mine.map((run) => run.eventsPerSecond)),
      p50: median(mine.map((run) => run.p50)),
      p99: median(mine.map((run) => run.p99)),
      floodOpened: median(mine.map((run) => run.floodOpened)),
      clientTlsFailures: median(mine.map((run) => run.clientTlsFailures)),
      serverCpuSeconds: median(mine.map((run) => run.serverCpuSeconds)),
    })}\n`,
  );
}
process.exitCode = runs.every((run) => run.ok) ? 0 : 1;

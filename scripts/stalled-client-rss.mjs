#!/usr/bin/env node
/**
 * Peak RSS of the BUILT server while a client is stalled during a large run (docs/protocol.md §4, 6):
 *
 *   node scripts/stalled-client-rss.mjs [--events 2000000] [--clients 10] [--users 100]
 *        [--event-mix F:10,U:5,B:70,P:5,S:10] [--slow-client-timeout 1000]
 *        [--sample-ms 200] [--seed 1] [--bin dist/bin/follower-maze.js]
 *
 * Starts the server as a child process on free ports and connects one client of user
 * `users + 1` that never reads. Then the built `follower-maze simulate --json` streams
 * `events` events to the server and verifies its own `clients` clients (users drawn from
 * 1..users), every notification byte for byte. The stalled user is outside the simulator's
 * users, so no event names it and it follows nobody: it is owed every broadcast and nothing
 * else, which is why the default mix is mostly broadcasts. Once the kernel buffers (about
 * 4 MiB on loopback) and its 1 MiB server buffer are full, the server stops reading the
 * event source, the slow-client timeout drops the stalled client, the stream goes on, and a
 * new stalled client connects at once: the stall repeats about every 800,000 events of the
 * default mix.
 *
 * The server's VmRSS (/proc/<pid>/status) is sampled every `sample-ms` and filed under the
 * quarter of the stream the server has read by then (from its stats line); the script prints
 * the peak per quarter, the overall peak and the number of stalls, and exits 1 if the
 * simulator finds a client's stream wrong or the server reports any other problem.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_SERVER_BIN, procStatusKiB, startServer } from './support/server-process.mjs';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    clients: { type: 'string', default: '10' },
    users: { type: 'string', default: '100' },
    'event-mix': { type: 'string', default: 'F:10,U:5,B:70,P:5,S:10' },
    'slow-client-timeout': { type: 'string', default: '1000' },
    'sample-ms': { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const EVENTS = Number(values.events);
const CLIENTS = Number(values.clients);
const USERS = Number(values.users);
const STALLED_USER = USERS + 1;
const SLOW_CLIENT_TIMEOUT = Number(values['slow-client-timeout']);
const SAMPLE_MS = Number(values['sample-ms']);
const TIMEOUT_MS = 900_000;
/** How long a simulated client may wait for its next notification: many stalls in a row. */
const SIMULATOR_CLIENT_TIMEOUT_MS = 60_000;

// --- Start the built server. ---------------------------------------------------------------
const {
  child: server,
  stdout,
  ports,
} = startServer({
  bin: values.bin,
  serverArgs: [
    '--slow-client-timeout',
    String(SLOW_CLIENT_TIMEOUT),
    '--stats-interval',
    String(SAMPLE_MS),
  ],
  keepChars: 8192,
  stdio: ['ignore', 'pipe', 'pipe'],
});
/** @type {import('node:child_process').ChildProcess | undefined} */
let simulator;
let finished = false;
const watchdog = setTimeout(() => fail(`no result within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
/** @param {string} message */
function fail(message) {
  console.error(`stalled-client-rss: FAILED: ${message}`);
  simulator?.kill('SIGKILL');
  server.kill('SIGKILL');
  process.exit(1);
}
server.on('exit', (code) => {
  if (!finished) fail(`server exited early (${code})`);
});
let lastStats = '';
let progress = 0; // events the server has read so far, from its stats line
let sourcePaused = false; // the server holds the source for the stalled client (stats line)
server.stdout?.on('data', () => {
  const stats = stdout.text().match(/stats [^\n]*\n/g);
  if (stats !== null) {
    lastStats = stats[stats.length - 1];
    progress = Number(/ eventsReceived=(\d+) /.exec(lastStats)?.[1] ?? progress);
    sourcePaused = / eventSourcePaused=true /.test(lastStats);
  }
});
let stalls = 0;
/** @type {string[]} */
const otherProblems = [];
let streaming = true;
let stalledConnections = 0;
/** @type {import('node:net').Socket | undefined} */
let stalledSocket;
function connectStalled() {
  if (!streaming) return;
  stalledConnections++;
  const socket = connect({ host: '127.0.0.1', port: clientPort });
  socket.pause();
  socket.write(`${STALLED_USER}\n`);
  socket.on('error', () => undefined);
  stalledSocket = socket;
}
server.stderr?.setEncoding('utf8');
server.stderr?.on('data', (text) => {
  for (const line of text.split('\n')) {
    if (line.includes('ERR_CLIENT_SLOW')) {
      stalls++;
      // A paused socket never reads the server's close: drop it and stall a fresh one.
      stalledSocket?.destroy();
      connectStalled();
    } else if (/\bproblem ERR_/.test(line)) otherProblems.push(line);
  }
});
const { eventPort, clientPort } = await ports;

// --- RSS sampling, by how far the server has read the stream. ------------------------------
const peaks = [0, 0, 0, 0];
const samplesPerQuarter = [0, 0, 0, 0];
let samples = 0;
let peakWhilePaused = 0;
let samplesWhilePaused = 0;
const rssKiB = () => procStatusKiB(/** @type {number} */ (server.pid), 'VmRSS') ?? 0;
const startRss = rssKiB();
const sampler = setInterval(() => {
  const quarter = Math.min(3, Math.floor((progress / EVENTS) * 4));
  const rss = rssKiB();
  peaks[quarter] = Math.max(peaks[quarter], rss);
  samplesPerQuarter[quarter]++;
  samples++;
  if (sourcePaused) {
    peakWhilePaused = Math.max(peakWhilePaused, rss);
    samplesWhilePaused++;
  }
}, SAMPLE_MS);

// --- The stalled client first, so that it is owed the whole stream. --------------------------
connectStalled();
await stdout.waitFor(/ clientsConnected=1 /);

// --- The built simulator streams the events and verifies its clients. ------------------------
const started = Date.now();
simulator = spawn(
  process.execPath,
  [
    values.bin,
    'simulate',
    '--json',
    '--host',
    '127.0.0.1',
    '--event-port',
    String(eventPort),
    '--client-port',
    String(clientPort),
    '--total-events',
    String(EVENTS),
    '--concurrency-level',
    String(CLIENTS),
    '--number-of-users',
    String(USERS),
    '--event-mix',
    values['event-mix'],
    '--random-seed',
    values.seed,
    '--timeout',
    String(SIMULATOR_CLIENT_TIMEOUT_MS),
    '--log-interval',
    '0',
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
let simulatorOut = '';
let simulatorErr = '';
simulator.stdout?.setEncoding('utf8').on('data', (text) => {
  simulatorOut += text;
});
simulator.stderr?.setEncoding('utf8').on('data', (text) => {
  simulatorErr = (simulatorErr + text).slice(-2_000);
});
const [code] = await once(simulator, 'close');
const seconds = (Date.now() - started) / 1000;
const lastLine = simulatorOut.trim().split('\n').at(-1) ?? '';
const summary = lastLine.startsWith('{') ? JSON.parse(lastLine) : undefined;
if (code !== 0 || summary?.ok !== true) {
  const failure = summary?.failure ? `${summary.failure.code}: ${summary.failure.message}` : '';
  fail(`the simulator exited with ${code}: ${failure}\n${simulatorErr}`.trim());
}

// One more stats line that has seen the whole stream, for the summary.
const deadline = Date.now() + 5_000;
while (progress < EVENTS && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
}
streaming = false;
clearInterval(sampler);
peaks[3] = Math.max(peaks[3], rssKiB());
if (otherProblems.length > 0) fail(`unexpected problems: ${otherProblems.slice(0, 3).join('; ')}`);

/** @param {number} kib */
const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
/** @param {number} index */
const quarter = (index) =>
  samplesPerQuarter[index] === 0
    ? 'no sample'
    : `${mib(peaks[index])} (${samplesPerQuarter[index]} samples)`;
console.log(
  `stalled-client-rss: ${EVENTS} events in ${seconds.toFixed(1)} s, ${CLIENTS} clients verified by simulate (${summary.notifications} notifications, digest ${summary.digest}), ` +
    `${stalls} stall(s) ended by the ${SLOW_CLIENT_TIMEOUT} ms slow-client timeout, ${stalledConnections} stalled connection(s), ${samples} RSS samples`,
);
console.log(
  `peak RSS: start ${mib(startRss)}; up to 25% ${quarter(0)}, 50% ${quarter(1)}, 75% ${quarter(2)}, 100% ${quarter(3)}; overall ${mib(Math.max(...peaks))}; while the source was held for a stalled client ${mib(peakWhilePaused)} (${samplesWhilePaused} samples)`,
);
console.log(`server ${lastStats.trim()}`);

// --- Shut down. --------------------------------------------------------------------------------
finished = true;
clearTimeout(watchdog);
stalledSocket?.destroy();
server.kill('SIGTERM');
await once(server, 'exit');

#!/usr/bin/env node
/**
 * Peak RSS of the BUILT server while a client is stalled during a large run (SPEC 4, 6):
 *
 *   node scripts/stalled-client-rss.mjs [--events 2000000] [--clients 10] [--users 100]
 *        [--slow-client-timeout 1000] [--sample-ms 200] [--seed 1]
 *        [--bin dist/bin/follower-maze.js]
 *
 * Starts the server as a child process on free ports, connects `clients` normal clients
 * (users 1..clients) and one client of user `clients + 1` that never reads. That user
 * follows everybody, so it is owed every broadcast and every status update; once the kernel
 * buffers and its 1 MiB server buffer are full, the server stops reading the event source,
 * the slow-client timeout drops the stalled client, the stream goes on, and a new stalled
 * client connects at once: the stall repeats for the whole run.
 *
 * The events are generated on the fly (shuffled in batches of up to 100) and sent with
 * backpressure; a small model gives each normal client's expected byte count and hash, which
 * must match exactly at the end. The server's VmRSS (/proc/<pid>/status) is sampled every
 * `sample-ms` and filed under the quarter of the stream the server has read by then (from its
 * stats line); the script prints the peak per quarter, the overall peak and the number of
 * stalls, and exits 1 if a client's stream is wrong.
 */
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { hashBytes, OwedNotifications } from './support/owed-notifications.mjs';
import { mulberry32, randomInt } from './support/random.mjs';
import { DEFAULT_SERVER_BIN, procStatusKiB, startServer } from './support/server-process.mjs';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    clients: { type: 'string', default: '10' },
    users: { type: 'string', default: '100' },
    'slow-client-timeout': { type: 'string', default: '1000' },
    'sample-ms': { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const EVENTS = Number(values.events);
const CLIENTS = Number(values.clients);
const USERS = Number(values.users);
const STALLED_USER = CLIENTS + 1;
const SLOW_CLIENT_TIMEOUT = Number(values['slow-client-timeout']);
const SAMPLE_MS = Number(values['sample-ms']);
const TIMEOUT_MS = 900_000;

const rng = mulberry32(Number(values.seed));

// --- The model: what each normal client (users 1..clients) is owed. ------------------------
const model = new OwedNotifications(Array.from({ length: CLIENTS }, (_, index) => index + 1));
const expected = model.owed;

let nextSequence = 1;
/** The next event in sequence order, applied to the model. */
function nextEvent() {
  const sequence = nextSequence++;
  // First the stalled user follows everybody, so it is owed every status update.
  if (sequence <= USERS) return model.apply('F', sequence, STALLED_USER, sequence);
  const roll = rng() * 100;
  const from = randomInt(rng, 1, USERS);
  const to = randomInt(rng, 1, USERS);
  if (roll < 15) return model.apply('F', sequence, from, to);
  // The stalled user never unfollows, or it would stop being owed status updates.
  if (roll < 20) return model.apply('U', sequence, from === STALLED_USER ? 1 : from, to);
  if (roll < 40) return model.apply('B', sequence, from, to);
  if (roll < 55) return model.apply('P', sequence, from, to);
  return model.apply('S', sequence, from, to);
}

/** About 64 KiB of events, shuffled in batches of up to 100; `undefined` when all are out. */
function nextChunk() {
  let text = '';
  while (text.length < 64 * 1024 && nextSequence <= EVENTS) {
    const batch = [];
    const size = Math.min(randomInt(rng, 1, 100), EVENTS - nextSequence + 1);
    for (let i = 0; i < size; i++) batch.push(nextEvent());
    for (let i = batch.length - 1; i > 0; i--) {
      const j = randomInt(rng, 0, i);
      [batch[i], batch[j]] = [batch[j], batch[i]];
    }
    text += batch.join('');
  }
  return text.length === 0 ? undefined : text;
}

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
let finished = false;
const watchdog = setTimeout(() => fail(`no result within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
function fail(message) {
  console.error(`stalled-client-rss: FAILED: ${message}`);
  server.kill('SIGKILL');
  process.exit(1);
}
server.on('exit', (code) => {
  if (!finished) fail(`server exited early (${code})`);
});
let lastStats = '';
let progress = 0; // events the server has read so far, from its stats line
let sourcePaused = false; // the server holds the source for the stalled client (stats line)
server.stdout.on('data', () => {
  const stats = stdout.text().match(/stats [^\n]*\n/g);
  if (stats !== null) {
    lastStats = stats[stats.length - 1];
    progress = Number(/ eventsReceived=(\d+) /.exec(lastStats)?.[1] ?? progress);
    sourcePaused = / eventSourcePaused=true /.test(lastStats);
  }
});
let stalls = 0;
const otherProblems = [];
let streaming = true;
let stalledConnections = 0;
let stalledSocket;
const sockets = [];
function connectStalled() {
  if (!streaming) return;
  stalledConnections++;
  const socket = connect({ host: '127.0.0.1', port: clientPort });
  socket.pause();
  socket.write(`${STALLED_USER}\n`);
  socket.on('error', () => undefined);
  sockets.push(socket);
  stalledSocket = socket;
}
server.stderr.setEncoding('utf8');
server.stderr.on('data', (text) => {
  for (const line of text.split('\n')) {
    if (line.includes('ERR_CLIENT_SLOW')) {
      stalls++;
      // A paused socket never reads the server's close: drop it and stall a fresh one.
      stalledSocket?.destroy();
      connectStalled();
    } else if (line.startsWith('problem ')) otherProblems.push(line);
  }
});
const { eventPort, clientPort } = await ports;

// --- RSS sampling, by how far the server has read the stream. ------------------------------
const peaks = [0, 0, 0, 0];
const samplesPerQuarter = [0, 0, 0, 0];
let samples = 0;
let peakWhilePaused = 0;
let samplesWhilePaused = 0;
const rssKiB = () => procStatusKiB(server.pid, 'VmRSS') ?? 0;
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

// --- Normal clients: hash everything they receive. -------------------------------------------
const received = new Map();
for (const user of expected.keys()) {
  const socket = connect({ host: '127.0.0.1', port: clientPort, noDelay: true });
  sockets.push(socket);
  const got = { bytes: 0, hash: 0 };
  received.set(user, got);
  socket.on('data', (chunk) => {
    got.bytes += chunk.length;
    got.hash = hashBytes(got.hash, chunk);
  });
  socket.on('error', (error) => fail(`client ${user}: ${error.message}`));
  socket.write(`${user}\n`);
}

// --- The stalled client: never reads; when it is dropped, the next one connects. ------------
connectStalled();
await stdout.waitFor(new RegExp(` clientsConnected=${CLIENTS + 1} `));

// --- Stream the events with backpressure. ----------------------------------------------------
const started = Date.now();
const source = connect({ host: '127.0.0.1', port: eventPort });
source.on('error', (error) => fail(`event source: ${error.message}`));
await new Promise((resolve) => source.once('connect', resolve));
for (let chunk = nextChunk(); chunk !== undefined; chunk = nextChunk()) {
  if (!source.write(chunk, 'latin1')) await new Promise((resolve) => source.once('drain', resolve));
}
await new Promise((resolve) => source.end(resolve));

// --- Wait for every normal client to have its share, then check it. -------------------------
const deadline = Date.now() + 120_000;
const behind = () => [...expected].filter(([user, want]) => received.get(user).bytes < want.bytes);
while (behind().length > 0 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const seconds = (Date.now() - started) / 1000;
// One more stats line that has seen the whole stream, for the summary.
while (progress < EVENTS && Date.now() < deadline + 5_000) {
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
}
streaming = false;
clearInterval(sampler);
peaks[3] = Math.max(peaks[3], rssKiB());
for (const [user, want] of expected) {
  const got = received.get(user);
  if (got.bytes !== want.bytes || got.hash !== want.hash) {
    fail(
      `user ${user}: got ${got.bytes} bytes (hash ${got.hash}), want ${want.bytes} (${want.hash})`,
    );
  }
}
if (otherProblems.length > 0) fail(`unexpected problems: ${otherProblems.slice(0, 3).join('; ')}`);

const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
const quarter = (index) =>
  samplesPerQuarter[index] === 0
    ? 'no sample'
    : `${mib(peaks[index])} (${samplesPerQuarter[index]} samples)`;
const owed = model.totalBytes();
console.log(
  `stalled-client-rss: ${EVENTS} events in ${seconds.toFixed(1)} s, ${CLIENTS} clients verified (${(owed / 1024 / 1024).toFixed(0)} MiB delivered), ` +
    `${stalls} stall(s) ended by the ${SLOW_CLIENT_TIMEOUT} ms slow-client timeout, ${stalledConnections} stalled connection(s), ${samples} RSS samples`,
);
console.log(
  `peak RSS: start ${mib(startRss)}; up to 25% ${quarter(0)}, 50% ${quarter(1)}, 75% ${quarter(2)}, 100% ${quarter(3)}; overall ${mib(Math.max(...peaks))}; while the source was held for a stalled client ${mib(peakWhilePaused)} (${samplesWhilePaused} samples)`,
);
console.log(`server ${lastStats.trim()}`);

// --- Shut down. --------------------------------------------------------------------------------
finished = true;
clearTimeout(watchdog);
for (const socket of sockets) socket.destroy();
source.destroy();
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));

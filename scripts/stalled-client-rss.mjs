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
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    clients: { type: 'string', default: '10' },
    users: { type: 'string', default: '100' },
    'slow-client-timeout': { type: 'string', default: '1000' },
    'sample-ms': { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    bin: {
      type: 'string',
      default: new URL('../dist/bin/follower-maze.js', import.meta.url).pathname,
    },
  },
});
const EVENTS = Number(values.events);
const CLIENTS = Number(values.clients);
const USERS = Number(values.users);
const STALLED_USER = CLIENTS + 1;
const SLOW_CLIENT_TIMEOUT = Number(values['slow-client-timeout']);
const SAMPLE_MS = Number(values['sample-ms']);
const TIMEOUT_MS = 900_000;

function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = mulberry32(Number(values.seed));
const randomInt = (min, max) => min + Math.floor(rng() * (max - min + 1));

/** A 32-bit hash of a byte stream, fed in pieces: the same over text and over bytes. */
function hashText(hash, text) {
  let h = hash;
  for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  return h;
}
function hashBytes(hash, bytes) {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = (Math.imul(h, 31) + bytes[i]) | 0;
  return h;
}

// --- The model: follow sets and what each normal client is owed. --------------------------
const expected = new Map();
for (let user = 1; user <= CLIENTS; user++) expected.set(user, { bytes: 0, hash: 0 });
const followers = new Map(); // followee -> Set(follower)
const notify = (user, line) => {
  const want = expected.get(user);
  if (want === undefined) return;
  want.bytes += line.length;
  want.hash = hashText(want.hash, line);
};
const follow = (from, to) => {
  let set = followers.get(to);
  if (set === undefined) {
    set = new Set();
    followers.set(to, set);
  }
  set.add(from);
};

let nextSequence = 1;
/** The next event in sequence order, applied to the model. */
function nextEvent() {
  const sequence = nextSequence++;
  // First the stalled user follows everybody, so it is owed every status update.
  if (sequence <= USERS) {
    const line = `${sequence}|F|${STALLED_USER}|${sequence}\n`;
    follow(STALLED_USER, sequence);
    notify(sequence, line);
    return line;
  }
  const roll = rng() * 100;
  const from = randomInt(1, USERS);
  const to = randomInt(1, USERS);
  if (roll < 15) {
    follow(from, to);
    const line = `${sequence}|F|${from}|${to}\n`;
    notify(to, line);
    return line;
  }
  if (roll < 20) {
    // The stalled user never unfollows, or it would stop being owed status updates.
    const unfollower = from === STALLED_USER ? 1 : from;
    followers.get(to)?.delete(unfollower);
    return `${sequence}|U|${unfollower}|${to}\n`;
  }
  if (roll < 40) {
    const line = `${sequence}|B\n`;
    for (const user of expected.keys()) notify(user, line);
    return line;
  }
  if (roll < 55) {
    const line = `${sequence}|P|${from}|${to}\n`;
    notify(to, line);
    return line;
  }
  const line = `${sequence}|S|${from}\n`;
  for (const user of followers.get(from) ?? []) notify(user, line);
  return line;
}

/** About 64 KiB of events, shuffled in batches of up to 100; `undefined` when all are out. */
function nextChunk() {
  let text = '';
  while (text.length < 64 * 1024 && nextSequence <= EVENTS) {
    const batch = [];
    const size = Math.min(randomInt(1, 100), EVENTS - nextSequence + 1);
    for (let i = 0; i < size; i++) batch.push(nextEvent());
    for (let i = batch.length - 1; i > 0; i--) {
      const j = randomInt(0, i);
      [batch[i], batch[j]] = [batch[j], batch[i]];
    }
    text += batch.join('');
  }
  return text.length === 0 ? undefined : text;
}

// --- Start the built server. ---------------------------------------------------------------
const server = spawn(
  process.execPath,
  [
    values.bin,
    '--event-port',
    '0',
    '--client-port',
    '0',
    '--slow-client-timeout',
    String(SLOW_CLIENT_TIMEOUT),
    '--stats-interval',
    String(SAMPLE_MS),
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
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
let stdoutText = '';
let lastStats = '';
let progress = 0; // events the server has read so far, from its stats line
let sourcePaused = false; // the server holds the source for the stalled client (stats line)
const stdoutListeners = [];
server.stdout.setEncoding('utf8');
server.stdout.on('data', (text) => {
  stdoutText = (stdoutText + text).slice(-8192);
  const stats = stdoutText.match(/stats [^\n]*\n/g);
  if (stats !== null) {
    lastStats = stats[stats.length - 1];
    progress = Number(/ eventsReceived=(\d+) /.exec(lastStats)?.[1] ?? progress);
    sourcePaused = / eventSourcePaused=true /.test(lastStats);
  }
  for (const listener of [...stdoutListeners]) listener(stdoutText);
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
  const socket = connect({ host: '127.0.0.1', port: Number(clientPort) });
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
const waitForStdout = (pattern) =>
  new Promise((resolve) => {
    const listener = (text) => {
      const match = pattern.exec(text);
      if (match === null) return;
      stdoutListeners.splice(stdoutListeners.indexOf(listener), 1);
      resolve(match);
    };
    stdoutListeners.push(listener);
    listener(stdoutText);
  });
const [, eventPort, clientPort] = await waitForStdout(
  /events on [^:]+:(\d+), clients on [^:]+:(\d+)/,
);

// --- RSS sampling, by how far the server has read the stream. ------------------------------
const peaks = [0, 0, 0, 0];
const samplesPerQuarter = [0, 0, 0, 0];
let samples = 0;
let peakWhilePaused = 0;
let samplesWhilePaused = 0;
function rssKiB() {
  const status = readFileSync(`/proc/${server.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
}
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
  const socket = connect({ host: '127.0.0.1', port: Number(clientPort), noDelay: true });
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
await waitForStdout(new RegExp(` clientsConnected=${CLIENTS + 1} `));

// --- Stream the events with backpressure. ----------------------------------------------------
const started = Date.now();
const source = connect({ host: '127.0.0.1', port: Number(eventPort) });
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
const owed = [...expected.values()].reduce((sum, want) => sum + want.bytes, 0);
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

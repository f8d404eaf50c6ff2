#!/usr/bin/env node
/**
 * Quick load check of the BUILT server (run `npm run build` first):
 *
 *   node scripts/load-check.mjs [--events 1000000] [--users 1000] [--clients 100]
 *                               [--batch 100] [--seed 1]
 *
 * Starts `dist/bin/follower-maze.js` on free ports, connects `clients` clients (distinct
 * users drawn from 1..users), then sends `events` valid events shuffled in batches of up to
 * `batch` through one event source. A small independent model (follow sets, in sequence
 * order) gives every client's expected byte count and hash; each client's stream is hashed
 * as it arrives and must match exactly. Prints seconds, events/s and notifications/s.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '100' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
  },
});
const EVENTS = Number(values.events);
const USERS = Number(values.users);
const CLIENTS = Number(values.clients);
const BATCH = Number(values.batch);
const SEED = Number(values.seed);
const TIMEOUT_MS = 300_000;

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
const rng = mulberry32(SEED);
const randomInt = (min, max) => min + Math.floor(rng() * (max - min + 1));

/** A 32-bit hash of a byte stream, fed in pieces. */
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

// --- Generate events in sequence order and the model's expectations. -----------------------
const connectedUsers = new Set();
while (connectedUsers.size < CLIENTS) connectedUsers.add(randomInt(1, USERS));
const expected = new Map([...connectedUsers].map((user) => [user, { bytes: 0, hash: 0 }]));
const followers = new Map(); // followee -> Set(follower)
const lines = new Array(EVENTS);
let notifications = 0;
const notify = (user, line) => {
  const want = expected.get(user);
  if (want === undefined) return;
  want.bytes += line.length;
  want.hash = hashText(want.hash, line);
  notifications++;
};
for (let sequence = 1; sequence <= EVENTS; sequence++) {
  const roll = rng() * 100;
  const from = randomInt(1, USERS);
  const to = randomInt(1, USERS);
  let line;
  if (roll < 30) {
    line = `${sequence}|F|${from}|${to}\n`;
    let set = followers.get(to);
    if (set === undefined) {
      set = new Set();
      followers.set(to, set);
    }
    set.add(from);
    notify(to, line);
  } else if (roll < 40) {
    line = `${sequence}|U|${from}|${to}\n`;
    followers.get(to)?.delete(from);
  } else if (roll < 45) {
    line = `${sequence}|B\n`;
    for (const user of connectedUsers) notify(user, line);
  } else if (roll < 70) {
    line = `${sequence}|P|${from}|${to}\n`;
    notify(to, line);
  } else {
    line = `${sequence}|S|${from}\n`;
    for (const user of followers.get(from) ?? []) notify(user, line);
  }
  lines[sequence - 1] = line;
}
for (let at = 0; at < lines.length; ) {
  const size = Math.min(randomInt(1, BATCH), lines.length - at);
  for (let i = size - 1; i > 0; i--) {
    const j = randomInt(0, i);
    const swap = lines[at + i];
    lines[at + i] = lines[at + j];
    lines[at + j] = swap;
  }
  at += size;
}
const payload = Buffer.from(lines.join(''), 'latin1');

// --- Start the built server. ---------------------------------------------------------------
const server = spawn(
  process.execPath,
  [
    new URL('../dist/bin/follower-maze.js', import.meta.url).pathname,
    '--event-port',
    '0',
    '--client-port',
    '0',
    '--stats-interval',
    '50',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const watchdog = setTimeout(() => fail(`no result within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
function fail(message) {
  console.error(`load-check: FAILED: ${message}`);
  server.kill('SIGKILL');
  process.exit(1);
}
server.on('exit', (code) => {
  if (!finished) fail(`server exited early (${code})`);
});
let finished = false;
let stdoutText = '';
const stdoutListeners = [];
server.stdout.setEncoding('utf8');
server.stdout.on('data', (text) => {
  stdoutText = (stdoutText + text).slice(-4096);
  for (const listener of stdoutListeners) listener(stdoutText);
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

// --- Connect the clients and hash what they receive. ----------------------------------------
let complete = 0;
let resolveAll;
const allComplete = new Promise((resolve) => {
  resolveAll = resolve;
});
const sockets = [];
for (const [user, want] of expected) {
  const socket = connect({ host: '127.0.0.1', port: Number(clientPort), noDelay: true });
  sockets.push(socket);
  let bytes = 0;
  let hash = 0;
  let done = false;
  const check = () => {
    if (done || bytes < want.bytes) return;
    done = true;
    if (bytes !== want.bytes || hash !== want.hash) {
      fail(`user ${user}: got ${bytes} bytes (hash ${hash}), want ${want.bytes} (${want.hash})`);
    }
    if (++complete === expected.size) resolveAll();
  };
  socket.on('data', (chunk) => {
    bytes += chunk.length;
    hash = hashBytes(hash, chunk);
    if (bytes > want.bytes) fail(`user ${user}: more than the ${want.bytes} bytes expected`);
    check();
  });
  socket.on('error', (error) => fail(`client ${user}: ${error.message}`));
  socket.write(`${user}\n`);
  check();
}
await waitForStdout(new RegExp(` clientsConnected=${CLIENTS} `));

// --- Send the events, respecting the socket's backpressure. --------------------------------
const started = process.hrtime.bigint();
const source = connect({ host: '127.0.0.1', port: Number(eventPort) });
source.on('error', (error) => fail(`event source: ${error.message}`));
await new Promise((resolve) => source.once('connect', resolve));
const CHUNK = 64 * 1024;
for (let at = 0; at < payload.length; at += CHUNK) {
  if (!source.write(payload.subarray(at, at + CHUNK))) {
    await new Promise((resolve) => source.once('drain', resolve));
  }
}
source.end();
await allComplete;
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
finished = true;
clearTimeout(watchdog);

console.log(
  `load-check: OK ${EVENTS} events (${(payload.length / 1e6).toFixed(1)} MB), ${CLIENTS} clients of ${USERS} users, batches <= ${BATCH}`,
);
console.log(
  `load-check: ${notifications} notifications verified (bytes + hash per client) in ${seconds.toFixed(2)} s`,
);
console.log(
  `load-check: ${Math.round(EVENTS / seconds).toLocaleString('en-US')} events/s, ${Math.round(
    notifications / seconds,
  ).toLocaleString('en-US')} notifications/s`,
);
for (const socket of sockets) socket.destroy();
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));

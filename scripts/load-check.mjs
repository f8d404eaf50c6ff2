#!/usr/bin/env node
/**
 * Quick load check of the BUILT server (run `npm run build` first):
 *
 *   node scripts/load-check.mjs [--events 1000000] [--users 1000] [--clients 100]
 *                               [--batch 100] [--seed 1] [--bin dist/bin/follower-maze.js]
 *
 * Starts the built server (`--bin`, default the package's `dist/bin/follower-maze.js`) on
 * free ports, connects `clients` clients (distinct users drawn from 1..users), then sends
 * `events` valid events shuffled in batches of up to `batch` through one event source. A small independent model (follow sets, in sequence
 * order) gives every client's expected byte count and hash; each client's stream is hashed
 * as it arrives and must match exactly. Prints seconds, events/s and notifications/s.
 */
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { hashBytes, OwedNotifications } from './support/owed-notifications.mjs';
import { mulberry32, randomInt } from './support/random.mjs';
import { DEFAULT_SERVER_BIN, startServer } from './support/server-process.mjs';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '100' },
    batch: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const EVENTS = Number(values.events);
const USERS = Number(values.users);
const CLIENTS = Number(values.clients);
const BATCH = Number(values.batch);
const SEED = Number(values.seed);
const TIMEOUT_MS = 300_000;

const rng = mulberry32(SEED);

// --- Generate events in sequence order and the model's expectations. -----------------------
const connectedUsers = new Set();
while (connectedUsers.size < CLIENTS) connectedUsers.add(randomInt(rng, 1, USERS));
const model = new OwedNotifications(connectedUsers);
const expected = model.owed;
const lines = new Array(EVENTS);
for (let sequence = 1; sequence <= EVENTS; sequence++) {
  const roll = rng() * 100;
  const from = randomInt(rng, 1, USERS);
  const to = randomInt(rng, 1, USERS);
  const type = roll < 30 ? 'F' : roll < 40 ? 'U' : roll < 45 ? 'B' : roll < 70 ? 'P' : 'S';
  lines[sequence - 1] = model.apply(type, sequence, from, to);
}
const notifications = model.notifications;
for (let at = 0; at < lines.length; ) {
  const size = Math.min(randomInt(rng, 1, BATCH), lines.length - at);
  for (let i = size - 1; i > 0; i--) {
    const j = randomInt(rng, 0, i);
    const swap = lines[at + i];
    lines[at + i] = lines[at + j];
    lines[at + j] = swap;
  }
  at += size;
}
const payload = Buffer.from(lines.join(''), 'latin1');

// --- Start the built server. ---------------------------------------------------------------
const {
  child: server,
  stdout,
  ports,
} = startServer({
  bin: values.bin,
  serverArgs: ['--stats-interval', '50'],
  stdio: ['ignore', 'pipe', 'inherit'],
});
let finished = false;
const watchdog = setTimeout(() => fail(`no result within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
function fail(message) {
  console.error(`load-check: FAILED: ${message}`);
  server.kill('SIGKILL');
  process.exit(1);
}
server.on('exit', (code) => {
  if (!finished) fail(`server exited early (${code})`);
});
const { eventPort, clientPort } = await ports;

// --- Connect the clients and hash what they receive. ----------------------------------------
let complete = 0;
let resolveAll;
const allComplete = new Promise((resolve) => {
  resolveAll = resolve;
});
const sockets = [];
for (const [user, want] of expected) {
  const socket = connect({ host: '127.0.0.1', port: clientPort, noDelay: true });
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
await stdout.waitFor(new RegExp(` clientsConnected=${CLIENTS} `));

// --- Send the events, respecting the socket's backpressure. --------------------------------
const started = process.hrtime.bigint();
const source = connect({ host: '127.0.0.1', port: eventPort });
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

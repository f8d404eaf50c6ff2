#!/usr/bin/env node
/**
 * Peak RSS of the BUILT server while long events wait in its reorder buffer (docs/protocol.md §4):
 *
 *   node scripts/reorder-memory.mjs [--events 100000] [--line-bytes 4096] [--sample-ms 200]
 *        [--bin dist/bin/follower-maze.js] [-- <server options>]
 *
 * Starts the server as a child process on free ports with its default limits (plus any
 * server options after `--`), and sends it `events` valid events of `line-bytes` bytes each
 * (the sequence number padded with leading zeros), numbered 2, 3, …: all of them wait for #1,
 * which never comes. A reorder buffer bounded only by count holds every one of them; one
 * bounded by bytes declares #1 lost once it is full (`ERR_SEQUENCE_GAP`) and applies the rest.
 * The events go to a user nobody connects as, so no client output is queued.
 *
 * Prints the server's peak RSS (VmHWM from /proc/<pid>/status) and its last stats line once it
 * has read every event, then shuts it down. Exits 1 if the server does not read them all in
 * time or exits early. Loopback only; every wait is bounded.
 */
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_SERVER_BIN, procStatusKiB, startServer } from './support/server-process.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    events: { type: 'string', default: '100000' },
    'line-bytes': { type: 'string', default: '4096' },
    'sample-ms': { type: 'string', default: '200' },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const EVENTS = Number(values.events);
const LINE_BYTES = Number(values['line-bytes']);
const SAMPLE_MS = Number(values['sample-ms']);
const TIMEOUT_MS = 300_000;
/** A user no client identifies as: the events notify nobody. */
const NOBODY = 999_999;

const {
  child: server,
  stdout,
  ports,
} = startServer({
  bin: values.bin,
  serverArgs: ['--stats-interval', String(SAMPLE_MS), ...positionals],
  keepChars: 8192,
  stdio: ['ignore', 'pipe', 'pipe'],
});
let finished = false;
const watchdog = setTimeout(() => fail(`no result within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
function fail(message) {
  console.error(`reorder-memory: FAILED: ${message}`);
  server.kill('SIGKILL');
  process.exit(1);
}
server.on('exit', (code) => {
  if (!finished) fail(`server exited early (${code})`);
});
// Problems are counted by code; stderr must be read anyway so its pipe never fills.
const problems = new Map();
server.stderr.setEncoding('utf8');
server.stderr.on('data', (text) => {
  // Log records: `TIME LEVEL problem ERR_… …`.
  for (const match of text.matchAll(/\bproblem (ERR_\w+)/g)) {
    problems.set(match[1], (problems.get(match[1]) ?? 0) + 1);
  }
});
let lastStats = '';
let received = 0;
server.stdout.on('data', () => {
  const stats = stdout.text().match(/stats [^\n]*\n/g);
  if (stats === null) return;
  lastStats = stats[stats.length - 1];
  received = Number(/ eventsReceived=(\d+) /.exec(lastStats)?.[1] ?? received);
});
const { eventPort } = await ports;
const rssKiB = (field) => procStatusKiB(server.pid, field) ?? 0;
const startRss = rssKiB('VmRSS');

/** Event `sequence` as a private message to nobody, padded to exactly LINE_BYTES bytes. */
function paddedEvent(sequence) {
  const body = `${sequence}|P|1|${NOBODY}\n`;
  return '0'.repeat(Math.max(0, LINE_BYTES - body.length)) + body;
}

// --- Send the events (2..EVENTS+1) with backpressure, about 64 KiB per write. --------------
const started = Date.now();
const source = connect({ host: '127.0.0.1', port: eventPort });
source.on('error', (error) => fail(`event source: ${error.message}`));
await new Promise((resolve) => source.once('connect', resolve));
let chunk = '';
for (let sequence = 2; sequence <= EVENTS + 1; sequence++) {
  chunk += paddedEvent(sequence);
  if (chunk.length < 64 * 1024 && sequence <= EVENTS) continue;
  const flushed = source.write(chunk, 'latin1');
  chunk = '';
  if (!flushed) await new Promise((resolve) => source.once('drain', resolve));
}

// --- Wait until the server has read them all (from its stats line). -------------------------
const deadline = Date.now() + 120_000;
while (received < EVENTS && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
}
if (received < EVENTS) fail(`the server read only ${received} of ${EVENTS} events`);
const seconds = (Date.now() - started) / 1000;
const peak = rssKiB('VmHWM');
const now = rssKiB('VmRSS');

const mib = (kib) => `${(kib / 1024).toFixed(1)} MiB`;
const sent = ((EVENTS * LINE_BYTES) / 1024 / 1024).toFixed(0);
console.log(
  `reorder-memory: ${EVENTS} events of ${LINE_BYTES} bytes (${sent} MiB) waiting for #1, read in ${seconds.toFixed(1)} s`,
);
console.log(
  `server RSS: start ${mib(startRss)}, peak (VmHWM) ${mib(peak)}, after reading all ${mib(now)}`,
);
const reported = [...problems].map(([code, count]) => `${code} x${count}`).join(', ');
console.log(`problems: ${reported || 'none'}`);
console.log(`server ${lastStats.trim()}`);

// --- Shut down. ----------------------------------------------------------------------------------
finished = true;
clearTimeout(watchdog);
source.destroy();
server.kill('SIGTERM');
await new Promise((resolve) => server.once('exit', resolve));

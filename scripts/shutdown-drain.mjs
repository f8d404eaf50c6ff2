#!/usr/bin/env node
/**
 * What a SIGTERM leaves of events the source wrote just before it (docs/protocol.md §8):
 *
 *   node scripts/shutdown-drain.mjs [--events 1000000] [--mode serve,ingest,serve-nats]
 *        [--bin dist/bin/follower-maze.js]
 *
 * For each mode, the BUILT server starts on free ports (`ingest` and `serve --nats-url` on a
 * `nats-server -js` of their own, started here), one client of user 1 identifies (not for
 * `ingest`), and one event source writes `events` broadcasts in one go and half-closes. The
 * moment the last byte is handed to the kernel the server gets SIGTERM: megabytes are then
 * still unread in the socket buffers (about 4 MiB on loopback). The script counts what the
 * client received until the server closed it, or, for `ingest`, the last sequence number in
 * the log once it exited, and prints one JSON line per mode: events delivered or appended,
 * lost, the exit code and the milliseconds from the signal to the exit. It exits 1 if any
 * event was lost or a server did not exit 0.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startNatsServer } from './support/nats-server.mjs';
import { DEFAULT_SERVER_BIN, startClusterProcess, startServer } from './support/server-process.mjs';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    mode: { type: 'string', default: 'serve,ingest,serve-nats' },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const EVENTS = Number(values.events);
const MODES = values.mode.split(',');
/** The client identifies before the events: it is owed every one of them. */
const IDENTIFY_MS = 300;

const payload = Buffer.from(
  Array.from({ length: EVENTS }, (_, index) => `${index + 1}|B\n`).join(''),
  'latin1',
);

/** Connects to 127.0.0.1:`port`. */
async function connectTo(port) {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return socket;
}

/** A client of user 1: resolves with the lines it received once the server closed it. */
async function client(port) {
  const socket = await connectTo(port);
  socket.on('error', () => {});
  let lines = 0;
  socket.on('data', (chunk) => {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  });
  socket.write('1\n');
  await new Promise((resolve) => setTimeout(resolve, IDENTIFY_MS));
  return { received: once(socket, 'close').then(() => lines) };
}

/** Writes every event, half-closes, and sends SIGTERM once the last byte left; resolves the exit. */
async function writeThenTerminate(child, eventPort) {
  const source = await connectTo(eventPort);
  source.on('error', () => {});
  const exited = once(child, 'exit');
  await new Promise((resolve) => source.end(payload, resolve));
  const signalled = performance.now();
  child.kill('SIGTERM');
  const [code] = await exited;
  return { exitCode: code, msAfterSignal: Math.round(performance.now() - signalled) };
}

async function runServe(natsUrl) {
  const serverArgs = natsUrl === undefined ? [] : ['--nats-url', natsUrl];
  const { child, ports } = startServer({
    bin: values.bin,
    serverArgs,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return stopOnFailure(child, async () => {
    const { eventPort, clientPort } = await ports;
    const { received } = await client(clientPort);
    const exit = await writeThenTerminate(child, eventPort);
    return { delivered: await received, ...exit };
  });
}

async function runIngest(natsUrl) {
  const { child, port } = startClusterProcess({
    role: 'ingest',
    bin: values.bin,
    serverArgs: ['--nats-url', natsUrl],
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exit = await stopOnFailure(child, async () => writeThenTerminate(child, await port));
  const { connectEventLog } = await import(
    new URL('../dist/lib/cluster/index.js', import.meta.url)
  );
  const log = await connectEventLog({ natsUrl });
  const appended = (await log.tail())?.lastSequence ?? 0;
  await log.close();
  return { appended, ...exit };
}

/** Runs `work`; a server it leaves running (a step failed) is killed, never left behind. */
async function stopOnFailure(child, work) {
  try {
    return await work();
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** A fresh JetStream store per run, so every run starts on an empty log. */
async function withNats(run) {
  const storeDir = mkdtempSync(join(tmpdir(), 'follower-maze-drain-'));
  const nats = startNatsServer({ storeDir });
  try {
    const { url } = await nats.ready;
    return await run(url);
  } finally {
    nats.child.kill('SIGINT');
    await once(nats.child, 'exit');
    rmSync(storeDir, { recursive: true, force: true });
  }
}

let failed = false;
for (const mode of MODES) {
  const result =
    mode === 'serve'
      ? await runServe(undefined)
      : mode === 'ingest'
        ? await withNats(runIngest)
        : await withNats(runServe);
  const kept = result.delivered ?? result.appended;
  if (kept !== EVENTS || result.exitCode !== 0) failed = true;
  console.log(JSON.stringify({ mode, events: EVENTS, ...result, lost: EVENTS - kept }));
}
process.exitCode = failed ? 1 : 0;

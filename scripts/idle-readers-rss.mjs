#!/usr/bin/env node
/**
 * Peak RSS of the BUILT server when many clients identify and never read:
 *
 *   node scripts/idle-readers-rss.mjs [--clients 2000] [--line-bytes 8] [--seconds 60]
 *        [--sample-ms 500] [--bin dist/bin/follower-maze.js] [-- <server options>]
 *
 * Starts the server on free loopback ports, connects `clients` clients (users 1..clients)
 * that send their id and then never read, and streams broadcasts padded to `line-bytes`
 * with leading zeros (still valid) as fast as the server takes them, for `seconds`. Every
 * client is owed every broadcast, and each stays under its own 1 MiB limit for a long time,
 * so only a total budget bounds the server. The server's VmRSS is sampled every
 * `sample-ms`; the script prints one line per sample and then the peak (VmHWM), the events
 * sent, how many clients the server dropped (from its stats line), and whether the server
 * survived. Options after `--` go to the server (e.g. `-- --total-buffer-limit 67108864`).
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import { DEFAULT_SERVER_BIN, procStatusKiB, startServer } from './support/server-process.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    clients: { type: 'string', default: '2000' },
    'line-bytes': { type: 'string', default: '8' },
    seconds: { type: 'string', default: '60' },
    'sample-ms': { type: 'string', default: '500' },
    bin: { type: 'string', default: DEFAULT_SERVER_BIN },
  },
});
const CLIENTS = Number(values.clients);
const LINE_BYTES = Number(values['line-bytes']);
const SECONDS = Number(values.seconds);
const SAMPLE_MS = Number(values['sample-ms']);

const server = startServer({
  bin: values.bin,
  serverArgs: ['--stats-interval', String(SAMPLE_MS), ...positionals],
  stdio: ['ignore', 'pipe', 'ignore'],
});
let serverExit;
server.child.once('exit', (code, signal) => {
  serverExit = signal ?? `exit ${code}`;
});
const { eventPort, clientPort } = await server.ports;
const pid = /** @type {number} */ (server.child.pid);
const mib = (kib) => (kib / 1024).toFixed(1);
console.log(`server pid ${pid}: events on ${eventPort}, clients on ${clientPort}`);
console.log(`start: RSS ${mib(procStatusKiB(pid, 'VmRSS') ?? 0)} MiB`);

/** Clients the server has dropped, from its latest stats line (a paused socket never sees it). */
const dropped = () =>
  [...server.stdout.text().matchAll(/slowClientDisconnects=(\d+)/g)].at(-1)?.[1] ?? '0';

/** @type {import('node:net').Socket[]} */
const clients = [];
for (let user = 1; user <= CLIENTS; user++) {
  const socket = connect({ host: '127.0.0.1', port: clientPort });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(`${user}\n`);
  // Never read: the kernel buffers fill, then the server's queue for this client grows.
  socket.pause();
  clients.push(socket);
}
await new Promise((resolve) => setTimeout(resolve, 500));
console.log(`${CLIENTS} idle clients identified: RSS ${mib(procStatusKiB(pid, 'VmRSS') ?? 0)} MiB`);

const source = connect({ host: '127.0.0.1', port: eventPort });
source.on('error', () => undefined);
await once(source, 'connect');
let sequence = 1;
let sending = true;
const BATCH = 256;
/** Broadcasts, `BATCH` per write, padded with leading zeros to `LINE_BYTES`. */
function nextBatch() {
  let text = '';
  for (let i = 0; i < BATCH; i++) {
    const line = `${sequence++}|B\n`;
    text += line.length < LINE_BYTES ? '0'.repeat(LINE_BYTES - line.length) + line : line;
  }
  return text;
}
async function pumpSource() {
  while (sending && !source.destroyed) {
    if (!source.write(nextBatch())) {
      await Promise.race([once(source, 'drain'), once(source, 'close')]);
    }
  }
}
const pumping = pumpSource();

const started = Date.now();
while (Date.now() - started < SECONDS * 1000 && serverExit === undefined) {
  await new Promise((resolve) => setTimeout(resolve, SAMPLE_MS));
  if (serverExit !== undefined) break;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `${seconds} s: RSS ${mib(procStatusKiB(pid, 'VmRSS') ?? 0)} MiB, events sent ${sequence - 1}, clients dropped ${dropped()}`,
  );
}
const died = serverExit;
const peak = died === undefined ? procStatusKiB(pid, 'VmHWM') : undefined;
sending = false;
source.destroy();
await pumping;
for (const socket of clients) socket.destroy();
if (died === undefined) {
  server.child.kill('SIGTERM');
  const killer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await once(server.child, 'exit');
  clearTimeout(killer);
}
console.log(
  died === undefined
    ? `peak RSS ${mib(peak ?? 0)} MiB; events sent ${sequence - 1}; clients dropped ${dropped()} of ${CLIENTS}; server survived`
    : `SERVER DIED (${died}) after ${((Date.now() - started) / 1000).toFixed(1)} s; events sent ${sequence - 1}`,
);
process.exitCode = died === undefined ? 0 : 1;

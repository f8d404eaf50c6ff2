#!/usr/bin/env node
import { fork } from 'node:child_process';
/**
 * What token refreshes and pending checks cost the BUILT library (docs/protocol.md §5):
 *
 *   node scripts/auth-refresh-load.mjs [--spammers 20] [--broadcasts 300000]
 *        [--pending 3000] [--pending-extra 65536] [--pending-lead 0]
 *
 * 1. Refresh spam: `spammers` clients identify with a valid HS256 token, then write it again
 *    and again as fast as the socket takes it, while one more client receives `broadcasts`
 *    broadcasts. Prints the time to deliver them all and the hook calls made meanwhile; run
 *    once with `--spammers 0` for the baseline.
 * 2. Pending checks: `pending` clients each send a token line plus `pending-extra` more bytes
 *    to a hook that never answers; prints the heap growth (after a GC, with --expose-gc).
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { loadClientAuth } from '../dist/lib/cli/client-auth-options.js';
import { listen } from '../dist/lib/index.js';

const { values } = parseArgs({
  options: {
    spammers: { type: 'string', default: '20' },
    broadcasts: { type: 'string', default: '300000' },
    pending: { type: 'string', default: '3000' },
    'pending-extra': { type: 'string', default: '65536' },
    'pending-lead': { type: 'string', default: '0' },
    'spam-port': { type: 'string' },
  },
});
const spammers = Number(values.spammers);
const broadcasts = Number(values.broadcasts);
const pending = Number(values.pending);
const pendingExtra = Number(values['pending-extra']);
const pendingLead = Number(values['pending-lead']);
const SECRET_FILE = new URL('../__tests__/fixtures/tls/jwt-hs256.secret', import.meta.url).pathname;
const secretText = readFileSync(SECRET_FILE);
const secret = secretText.at(-1) === 10 ? secretText.subarray(0, -1) : secretText;
const tokenOf = (user) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(String(user)).sign(secret);
const waitFor = async (predicate, what, ms = 60_000) => {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

async function refreshSpam() {
  const base = await loadClientAuth({ clientAuth: 'jwt', jwtSecretFile: SECRET_FILE });
  let calls = 0;
  const authenticate = (credential, sender) => {
    calls++;
    return base(credential, sender);
  };
  const server = await listen({ eventPort: 0, clientPort: 0, authenticate, maxClients: 1000 });
  const port = server.clientAddress.port;
  const sockets = [];
  const receiver = connect(port, '127.0.0.1');
  sockets.push(receiver);
  let received = 0;
  receiver.on('data', (chunk) => {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) received++;
  });
  receiver.write(`${await tokenOf(1)}\n`);
  // The spammers run in a child process, so their writing costs the server nothing.
  const child =
    spammers === 0
      ? undefined
      : fork(fileURLToPath(import.meta.url), [
          '--spam-port',
          String(port),
          '--spammers',
          String(spammers),
        ]);
  await waitFor(() => server.maze.stats().authAccepted >= spammers + 1, 'clients');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const source = connect(server.eventAddress.port, '127.0.0.1');
  await new Promise((resolve) => source.once('connect', resolve));
  const callsBefore = calls;
  const start = process.hrtime.bigint();
  const chunk = 10_000;
  for (let from = 1; from <= broadcasts; from += chunk) {
    let text = '';
    for (let seq = from; seq < from + chunk && seq <= broadcasts; seq++) text += `${seq}|B\n`;
    if (!source.write(text)) await new Promise((resolve) => source.once('drain', resolve));
  }
  await waitFor(() => received >= broadcasts, 'the broadcasts');
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const checked = calls - callsBefore;
  child?.kill();
  const stats = server.maze.stats();
  for (const socket of sockets) socket.destroy();
  source.destroy();
  await server.close();
  console.log(
    `refresh spam: ${spammers} clients, ${broadcasts} broadcasts delivered in ${ms.toFixed(0)} ms; ` +
      `${checked} hook calls meanwhile (${((checked / ms) * 1000).toFixed(0)}/s); ` +
      `connections closed as too-frequent ${stats.authTooFrequent ?? '-'}`,
  );
}

async function pendingChecks() {
  const server = await listen({
    eventPort: 0,
    clientPort: 0,
    maxClients: pending + 100,
    identifyTimeout: 600_000,
    authenticate: () => new Promise(() => {}),
  });
  const port = server.clientAddress.port;
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const line = `${'\n'.repeat(pendingLead)}${await tokenOf(1)}\n${'x'.repeat(pendingExtra)}`;
  const sockets = [];
  for (let i = 0; i < pending; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(line);
    sockets.push(socket);
    if (i % 200 === 199) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Every connection has sent all it had: its check waits, or it was refused.
  await waitFor(
    () => sockets.every((socket) => socket.destroyed || socket.writableLength === 0),
    'the writes',
  );
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  globalThis.gc?.();
  const after = process.memoryUsage().heapUsed;
  const stats = server.maze.stats();
  for (const socket of sockets) socket.destroy();
  await server.close();
  console.log(
    `pending checks: ${pending} clients sending ${pendingLead} empty lines, a token + ${pendingExtra} bytes to a hook that never answers: ` +
      `heap +${((after - before) / 2 ** 20).toFixed(1)} MiB; pending ${stats.authPending}, refused malformed ${stats.authMalformed}`,
  );
}

// The child: identifies `spammers` users, then writes each one's token again and again,
// connecting again whenever the server closes the connection.
async function spam(port) {
  for (let user = 2; user < 2 + spammers; user++) {
    const line = `${await tokenOf(user)}\n`;
    const burst = line.repeat(64);
    const start = () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.on('close', start);
      const write = () => {
        while (!socket.destroyed && socket.write(burst)) {}
      };
      socket.on('drain', write);
      socket.write(line);
      setTimeout(write, 50);
    };
    start();
  }
}

if (values['spam-port'] !== undefined) await spam(Number(values['spam-port']));
else if (broadcasts > 0) await refreshSpam();
if (values['spam-port'] === undefined && pending > 0) await pendingChecks();

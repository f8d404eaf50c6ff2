#!/usr/bin/env node
/**
 * `npm run demo`: starts our server and runs the simulator against it, as two processes on
 * free loopback ports, with 200,000 events. Ends with `ALL NOTIFICATIONS RECEIVED` and the
 * simulator's exit code. Uses the built CLI (`npm run demo` builds first).
 *
 * Extra arguments go to the simulator, e.g. `npm run demo -- --total-events 1000000`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { DEFAULT_SERVER_BIN, LISTENING_LINE, startServer } from './support/server-process.mjs';

const STARTUP_TIMEOUT_MS = 10_000;

const {
  child: server,
  stdout,
  ports: listening,
} = startServer({
  stdio: ['ignore', 'pipe', 'pipe'],
});
// The server's log is shown only if the run fails, so the demo ends with the verdict.
let serverLog = '';
server.stderr.setEncoding('utf8');
server.stderr.on('data', (text) => {
  serverLog += text;
});
const stopServer = () => {
  if (server.exitCode === null) server.kill('SIGTERM');
};
process.on('exit', stopServer);

let startupTimer;
const ports = await Promise.race([
  listening,
  new Promise((_, reject) => {
    startupTimer = setTimeout(
      () => reject(new Error('the server did not start in time')),
      STARTUP_TIMEOUT_MS,
    );
  }),
])
  .then(async (bound) => {
    clearTimeout(startupTimer);
    const [startupLine] = await stdout.waitFor(LISTENING_LINE);
    process.stdout.write(`demo: ${startupLine}\n`);
    return bound;
  })
  .catch((error) => {
    process.stderr.write(`demo: ${error.message}${serverLog === '' ? '' : `: ${serverLog}`}\n`);
    process.exit(2);
  });

const simulator = spawn(
  process.execPath,
  [
    DEFAULT_SERVER_BIN,
    'simulate',
    '--event-port',
    String(ports.eventPort),
    '--client-port',
    String(ports.clientPort),
    ...process.argv.slice(2),
  ],
  // As an environment variable, so that a --total-events flag given to the demo wins.
  { stdio: 'inherit', env: { FOLLOWER_MAZE_TOTAL_EVENTS: '200000', ...process.env } },
);
const [code] = await once(simulator, 'exit');
stopServer();
if (server.exitCode === null) await once(server, 'exit');
if (code !== 0 && serverLog !== '') process.stderr.write(`demo: server log:\n${serverLog}`);
process.exit(code ?? 1);

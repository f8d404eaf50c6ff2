#!/usr/bin/env node
/**
 * `npm run demo`: starts our server and runs the simulator against it, as two processes on
 * free loopback ports, with 200,000 events. Ends with `ALL NOTIFICATIONS RECEIVED` and the
 * simulator's exit code. Uses the built CLI (`npm run demo` builds first).
 *
 * Extra arguments go to the simulator, e.g. `npm run demo -- --totalEvents 1000000`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../dist/bin/follower-maze.js', import.meta.url));
const STARTUP_TIMEOUT_MS = 10_000;
const LISTENING = /events on ([^\s,]+):(\d+), clients on ([^\s,]+):(\d+)/;

const server = spawn(process.execPath, [BIN, '--event-port', '0', '--client-port', '0'], {
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

const ports = await new Promise((resolve, reject) => {
  const timer = setTimeout(
    () => reject(new Error('the server did not start in time')),
    STARTUP_TIMEOUT_MS,
  );
  let output = '';
  server.stdout.setEncoding('utf8');
  server.stdout.on('data', (text) => {
    output += text;
    const match = LISTENING.exec(output);
    if (match === null) return;
    clearTimeout(timer);
    process.stdout.write(`demo: ${match[0]}\n`);
    resolve({ eventPort: match[2], clientPort: match[4] });
  });
  server.once('exit', (code) =>
    reject(new Error(`the server exited early (code ${code}): ${serverLog}`)),
  );
}).catch((error) => {
  process.stderr.write(`demo: ${error.message}\n`);
  process.exit(2);
});

const simulator = spawn(
  process.execPath,
  [
    BIN,
    'simulate',
    '--eventListenerPort',
    ports.eventPort,
    '--clientListenerPort',
    ports.clientPort,
    ...process.argv.slice(2),
  ],
  // As an environment variable, so that a --totalEvents flag given to the demo wins.
  { stdio: 'inherit', env: { totalEvents: '200000', ...process.env } },
);
const [code] = await once(simulator, 'exit');
stopServer();
if (server.exitCode === null) await once(server, 'exit');
if (code !== 0 && serverLog !== '') process.stderr.write(`demo: server log:\n${serverLog}`);
process.exit(code ?? 1);

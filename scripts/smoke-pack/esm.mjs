// Imports the installed package from an ES module, every entry point by name, and runs each
// a little: one event through a maze made of in-memory streams, a monitor over a listening
// server, an ingest and a gateway over an in-memory log. The exports resolve and the code
// they point to works.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { duplexPair, PassThrough } from 'node:stream';
import { createMaze, ErrorCode, listen, MazeCore } from 'follower-maze';
import {
  connectEventLog,
  createGateway,
  createIngest,
  MemoryEventLog,
  openClientPort,
  openEventPort,
} from 'follower-maze/cluster';
import { MAZE_STAT_METRICS, serveMonitorSources, startMonitor } from 'follower-maze/monitor';
import { SimulationErrorCode, simulate } from 'follower-maze/simulate';

for (const value of [createMaze, listen, MazeCore, simulate, startMonitor, serveMonitorSources])
  assert.equal(typeof value, 'function');
for (const value of [connectEventLog, createGateway, createIngest, openClientPort, openEventPort])
  assert.equal(typeof value, 'function');
assert.equal(ErrorCode.LineTooLong, 'ERR_LINE_TOO_LONG');
assert.equal(SimulationErrorCode.Missing, 'ERR_SIM_MISSING');
assert.equal(MAZE_STAT_METRICS.eventsReceived.kind, 'counter');

const maze = createMaze();
const [serverSide, clientSide] = duplexPair();
maze.attachClient(serverSide);
clientSide.write('7\n');
await once(maze, 'clientIdentified');

const source = new PassThrough();
maze.attachEventSource(source);
source.write('2|P|1|7\n1|B\n');
clientSide.setEncoding('latin1');
let received = '';
while (received.length < '1|B\n2|P|1|7\n'.length) {
  const [chunk] = await once(clientSide, 'data');
  received += chunk;
}
assert.equal(received, '1|B\n2|P|1|7\n');
source.end();
await maze.close();

const server = await listen({ eventPort: 0, clientPort: 0 });
const monitor = await startMonitor({ sources: serveMonitorSources(server) });
const health = await fetch(`http://127.0.0.1:${monitor.address.port}/healthz`);
assert.equal(health.status, 200);
await monitor.close();
await server.close();

const log = new MemoryEventLog();
const ingest = await createIngest({ log });
const gateway = await createGateway({ log });
await gateway.ready;
await gateway.close();
await ingest.close();
await log.close();
console.log('smoke-pack: ESM import ok (follower-maze, /cluster, /monitor, /simulate)');

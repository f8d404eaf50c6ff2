// A TypeScript consumer of the installed package and its subpaths: every public name it uses
// must resolve to a declaration, with the types `docs/api.md` describes.
import { duplexPair, PassThrough } from 'node:stream';
import {
  createMaze,
  type Delivery,
  type ErrorCode,
  listen,
  type Maze,
  MazeCore,
  type MazeOptions,
  type MazeServer,
  type MazeStats,
  type Problem,
} from 'follower-maze';
import {
  createGateway,
  createIngest,
  type EventLog,
  type GatewayStats,
  MemoryEventLog,
} from 'follower-maze/cluster';
import { type MonitorServer, serveMonitorSources, startMonitor } from 'follower-maze/monitor';
import { type SimulationResult, simulate } from 'follower-maze/simulate';

const options: MazeOptions = { reorderCapacity: 1_000, identifyTimeout: 1_000 };
const maze: Maze = createMaze(options);
maze.on('problem', (problem: Problem) => {
  const code: ErrorCode = problem.code;
  console.log(code, problem.message, problem.context.connection);
});
const [serverSide] = duplexPair();
maze.attachClient(serverSide);
maze.attachEventSource(new PassThrough());
const stats: MazeStats = maze.stats();
const applied: number = stats.eventsApplied;

const core = new MazeCore({ startSequence: 1 });
core.connect(7);
const deliveries: readonly Delivery[] = core.push('1|B\n').deliveries;
const recipients: readonly number[] = deliveries[0]?.recipients ?? [];

export async function run(): Promise<void> {
  const server: MazeServer = await listen({ eventPort: 0, clientPort: 0 });
  const result: SimulationResult = await simulate({
    eventPort: server.eventAddress.port,
    clientPort: server.clientAddress.port,
    totalEvents: 10,
  });
  const monitor: MonitorServer = await startMonitor({ sources: serveMonitorSources(server) });
  console.log(result.ok, applied, recipients, monitor.address.port);
  await monitor.close();
  await server.close();

  const log: EventLog = new MemoryEventLog();
  const ingest = await createIngest({ log });
  const gateway = await createGateway({ log });
  await gateway.ready;
  const gatewayStats: GatewayStats = gateway.stats();
  console.log(gatewayStats.logPosition);
  await gateway.close();
  await ingest.close();
  await log.close();
}

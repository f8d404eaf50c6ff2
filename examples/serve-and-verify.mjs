// @ts-check
/**
 * The library's two halves in one process: `listen()` serves the protocol over TCP on free
 * loopback ports, and `simulate()` (the same verifier as `follower-maze simulate`) streams
 * shuffled events to it and checks every notification every client receives.
 *
 * Run it after `npm run build`: node examples/serve-and-verify.mjs [totalEvents]
 */
import { listen } from 'follower-maze';
import { simulate } from 'follower-maze/simulate';

const totalEvents = Number(process.argv[2] ?? 20_000);
const server = await listen({ eventPort: 0, clientPort: 0 });
server.maze.on('problem', (problem) =>
  console.error(`server: ${problem.code}: ${problem.message}`),
);
console.log(
  `serving: events on port ${server.eventAddress.port}, clients on port ${server.clientAddress.port}`,
);

try {
  const result = await simulate({
    eventPort: server.eventAddress.port,
    clientPort: server.clientAddress.port,
    totalEvents,
    concurrencyLevel: 20,
    logInterval: 0,
  });
  if (!result.ok) throw new Error(`${result.failure.code}: ${result.failure.message}`);
  console.log(
    `verified ${result.notifications} notifications for ${result.clients} clients` +
      ` (${result.events} events) in ${result.seconds.toFixed(2)} s`,
  );
  const stats = server.maze.stats();
  console.log(`server stats: applied ${stats.eventsApplied}, sent ${stats.notificationsSent}`);
} finally {
  await server.close();
}

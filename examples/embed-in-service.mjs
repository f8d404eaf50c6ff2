// @ts-check
/**
 * Embedding the maze in an existing Node service, with no TCP at all.
 *
 * The service already has its events (here an async generator standing in for a message
 * queue) and its user sessions (here in-memory `duplexPair()` ends standing in for, say,
 * WebSocket or HTTP streams). The maze takes any readable as the event source and any
 * duplex as a client: the client writes its user id as a line, then only reads.
 *
 * Run it after `npm run build`: node examples/embed-in-service.mjs
 */
import { once } from 'node:events';
import { duplexPair, Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createMaze } from 'follower-maze';

const maze = createMaze({ reorderCapacity: 1_000 });
maze.on('problem', (problem) => console.log(`problem ${problem.code}: ${problem.message}`));

/**
 * Opens an in-memory session for `userId` and collects what it receives.
 * @param {number} userId
 */
async function openSession(userId) {
  const [mazeEnd, sessionEnd] = duplexPair();
  let received = '';
  sessionEnd.setEncoding('latin1');
  sessionEnd.on('data', (text) => {
    received += text;
  });
  const identified = once(maze, 'clientIdentified');
  maze.attachClient(mazeEnd);
  sessionEnd.write(`${userId}\n`);
  await identified;
  // Resolves when the maze ends the session (on close), after everything it was sent.
  const done = finished(sessionEnd, { writable: false });
  return { userId, done, received: () => received };
}

/** The service's own event feed: out of order, as the protocol allows. */
async function* eventFeed() {
  yield '2|P|32|56\n';
  yield '1|F|32|56\n';
  yield '4|S|56\n3|F|56|32\n';
  yield '5|B\n';
}

const sessions = [await openSession(32), await openSession(56)];
const sourceEnded = once(maze, 'eventSourceEnded');
maze.attachEventSource(Readable.from(eventFeed()));
await sourceEnded;

// close() ends every session after flushing what is already queued for it.
await maze.close();
await Promise.all(sessions.map((session) => session.done));
for (const session of sessions) {
  const lines = session.received().trimEnd().split('\n');
  console.log(`user ${session.userId} received: ${lines.join(' ')}`);
}
const stats = maze.stats();
console.log(`events applied: ${stats.eventsApplied}, notifications: ${stats.notificationsSent}`);

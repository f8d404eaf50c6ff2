// @ts-check
/**
 * Replays a recorded event log through the pure core and prints what each user would
 * receive: no server, no sockets, no timers. Handy to answer "why did user 7 get that?".
 *
 *   node examples/replay-log.mjs [LOG] [--users 1,3,7]
 *
 * LOG defaults to examples/events.log (out of order, with a few bad lines on purpose).
 * Without `--users`, every user named in the log is connected from the start.
 * Run it after `npm run build`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EventType, isEvent, lineOf, MazeCore, parseEvent } from 'follower-maze';

const { values, positionals } = parseArgs({
  options: { users: { type: 'string' } },
  allowPositionals: true,
});
const logPath = positionals[0] ?? new URL('events.log', import.meta.url);
// latin1 keeps one character per byte, so every line is replayed exactly as recorded.
const lines = readFileSync(logPath, 'latin1')
  .split(/(?<=\n)/)
  .filter((line) => line.trim() !== ''); // the server ignores empty lines too

const users = values.users?.split(',').map(Number) ?? usersNamedIn(lines);
const core = new MazeCore();
/** @type {Map<number, string[]>} */
const inbox = new Map(users.map((user) => [user, []]));
for (const user of users) core.connect(user);

lines.forEach((line, index) => {
  const { deliveries, problems } = core.push(line);
  for (const problem of problems) {
    console.log(`line ${index + 1}: ${problem.code}: ${problem.message}`);
  }
  for (const { event, recipients } of deliveries) {
    for (const user of recipients) inbox.get(user)?.push(lineOf(event).trimEnd());
  }
});

for (const [user, received] of inbox) {
  console.log(`user ${user}: ${received.length === 0 ? '(nothing)' : received.join('  ')}`);
}
const stats = core.stats();
console.log(
  `applied ${stats.eventsApplied}, no-op ${stats.eventsNoop}, discarded ${stats.eventsDiscarded}, ` +
    `still waiting ${stats.pending} (next expected: ${stats.nextSequence})`,
);

/**
 * Every user id that appears in a valid event, in ascending order.
 * @param {readonly string[]} eventLines
 */
function usersNamedIn(eventLines) {
  const named = new Set();
  for (const line of eventLines) {
    const parsed = parseEvent(line);
    if (!isEvent(parsed) || parsed.type === EventType.Broadcast) continue;
    named.add(parsed.from);
    if (parsed.type !== EventType.StatusUpdate) named.add(parsed.to);
  }
  return [...named].sort((a, b) => a - b);
}

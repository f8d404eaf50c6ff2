// @ts-check
/**
 * Unit-testing your use of the protocol with the pure core: `MazeCore` takes lines and
 * returns deliveries and problems as plain values, so a test needs no sockets, no timers
 * and no waiting. Uses Node's own test runner; any runner works the same way.
 *
 * Run it after `npm run build`: node --test examples/core-unit.test.mjs
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, lineOf, MazeCore } from 'follower-maze';

/**
 * Pushes lines in the given order; returns each delivery as `[line, recipients]`.
 * @param {MazeCore} core
 * @param {string[]} lines
 */
function deliver(core, lines) {
  return lines.flatMap((line) =>
    core.push(line).deliveries.map(({ event, recipients }) => [lineOf(event), [...recipients]]),
  );
}

test('events are applied in sequence order, whatever the arrival order', () => {
  const core = new MazeCore();
  core.connect(50);
  core.connect(60);
  assert.deepEqual(deliver(core, ['2|S|50\n', '1|F|60|50\n']), [
    ['1|F|60|50\n', [50]], // 50 hears that 60 follows it...
    ['2|S|50\n', [60]], // ...and 60, now a follower, gets 50's status update.
  ]);
});

test('a notification is the line exactly as read, CRLF included', () => {
  const core = new MazeCore();
  core.connect(9);
  assert.deepEqual(deliver(core, ['1|P|3|9\r\n']), [['1|P|3|9\r\n', [9]]]);
});

test('bad input comes back as a problem with a stable code, never as an exception', () => {
  const core = new MazeCore();
  core.connect(1);
  assert.equal(core.push('oops\n').problems[0]?.code, ErrorCode.EventBadSequence);
  // A bad body still consumes its number, so event 2 is not blocked behind it.
  assert.equal(core.push('1|Q|1|2\n').problems[0]?.code, ErrorCode.EventBadBody);
  assert.deepEqual(deliver(core, ['2|B\n']), [['2|B\n', [1]]]);
  assert.equal(core.push('2|B\n').problems[0]?.code, ErrorCode.EventStale);
  assert.equal(core.stats().eventsNoop, 1);
});

test('a full reorder buffer skips the missing number instead of stalling', () => {
  const core = new MazeCore({ reorderCapacity: 2 });
  core.connect(1);
  deliver(core, ['2|B\n', '3|B\n']); // 1 is missing; 2 and 3 wait
  const { deliveries, problems } = core.push('4|B\n');
  assert.equal(problems[0]?.code, ErrorCode.SequenceGap);
  assert.deepEqual(
    deliveries.map(({ event }) => event.sequence),
    [2, 3, 4],
  );
  assert.equal(core.stats().sequencesSkipped, 1);
});

test('users without a connection are skipped silently', () => {
  const core = new MazeCore();
  core.connect(2);
  assert.deepEqual(deliver(core, ['1|P|2|3\n', '2|P|3|2\n']), [['2|P|3|2\n', [2]]]);
});

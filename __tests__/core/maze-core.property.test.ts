// MazeCore against the reference model: every connection must receive exactly the model's lines.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EventSequencer } from '../../lib/core/event-sequencer.js';
import { lineOf } from '../../lib/core/events.js';
import { MazeCore, type MazeCoreOptions } from '../../lib/core/maze-core.js';
import { isEvent } from '../../lib/core/parser.js';
import { firstDeliveryMismatch } from '../helpers/compare.js';
import { expectedDeliveries, type ModelOp } from '../helpers/model.js';
import { generateOpStream, opStreamArbitrary, smallOpStreamArbitrary } from '../helpers/streams.js';

/**
 * What an ingest makes of `ops`: each line sequenced where it arrives, replaced by the valid
 * events it released, in order (invalid bodies and discarded lines never reach the log);
 * connects and disconnects stay where they are.
 */
function ingestOrdered(ops: readonly ModelOp[], startSequence?: number): ModelOp[] {
  const sequencer = new EventSequencer({ startSequence });
  const ordered: ModelOp[] = [];
  for (const op of ops) {
    if (op.kind !== 'line') {
      ordered.push(op);
      continue;
    }
    sequencer.offer(op.line);
    for (let slot = sequencer.next(); slot !== undefined; slot = sequencer.next()) {
      if (isEvent(slot)) ordered.push({ kind: 'line', line: lineOf(slot) });
    }
  }
  return ordered;
}

/**
 * Runs `ops` through MazeCore (`push()`, or `applyInOrder()` as a gateway does) and fans each
 * delivery out from users to their connections.
 */
function coreDeliveries(
  core: MazeCore,
  ops: readonly ModelOp[],
  apply: 'push' | 'applyInOrder' = 'push',
): Map<number, string[]> {
  const received = new Map<number, string[]>();
  const userOf = new Map<number, number>();
  const connectionsOf = new Map<number, Set<number>>();
  for (const op of ops) {
    if (op.kind === 'connect') {
      core.connect(op.user);
      userOf.set(op.connection, op.user);
      if (!connectionsOf.has(op.user)) connectionsOf.set(op.user, new Set());
      connectionsOf.get(op.user)?.add(op.connection);
      if (!received.has(op.connection)) received.set(op.connection, []);
    } else if (op.kind === 'disconnect') {
      const user = userOf.get(op.connection) as number;
      core.disconnect(user);
      connectionsOf.get(user)?.delete(op.connection);
      userOf.delete(op.connection);
    } else if (op.kind === 'line') {
      for (const { event, recipients } of core[apply](op.line).deliveries) {
        for (const user of recipients) {
          for (const connection of connectionsOf.get(user) ?? []) {
            received.get(connection)?.push(lineOf(event));
          }
        }
      }
    }
  }
  return received;
}

function expectAgreement(ops: readonly ModelOp[], options: MazeCoreOptions = {}): void {
  const core = new MazeCore(options);
  const actual = coreDeliveries(core, ops);
  const expected = expectedDeliveries(ops, { startSequence: options.startSequence });
  expect(firstDeliveryMismatch(actual, expected)).toBeUndefined();

  const stats = core.stats();
  const lines = ops.filter((op) => op.kind === 'line').length;
  expect(stats.eventsReceived).toBe(lines);
  expect(stats.eventsApplied + stats.eventsNoop + stats.eventsDiscarded + stats.pending).toBe(
    lines,
  );
  expect(stats.sequencesSkipped).toBe(0);
}

describe('MazeCore against the reference model', () => {
  it('agrees on long shuffled streams with faults and client churn', () => {
    fc.assert(
      fc.property(opStreamArbitrary({ events: 2000, users: 40 }), (streamOptions) => {
        expectAgreement(generateOpStream(streamOptions));
      }),
      { numRuns: 60 },
    );
  });

  it('agrees on short streams that shrink to a minimal counterexample', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 3 })
          .chain((startSequence) =>
            fc.tuple(
              fc.constant(startSequence),
              smallOpStreamArbitrary({ users: 3, maxOps: 80, startSequence }),
            ),
          ),
        ([startSequence, ops]) => {
          expectAgreement(ops, { startSequence });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('agrees on a heavy stream: many connections per user, large batches, CRLF', () => {
    const ops = generateOpStream({
      seed: 20_240_601,
      events: 20_000,
      users: 30,
      maxBatch: 500,
      faultRate: 0.05,
      churnRate: 0.05,
      initialConnections: 90,
      start: 7,
    });
    expectAgreement(ops, { startSequence: 7 });
  });
});

describe('MazeCore.applyInOrder against the reference model (a gateway after an ingest)', () => {
  it('delivers what serve would, on shuffled streams with faults and client churn', () => {
    fc.assert(
      fc.property(opStreamArbitrary({ events: 2000, users: 40 }), (streamOptions) => {
        const ops = generateOpStream(streamOptions);
        const start = streamOptions.start;
        const core = new MazeCore({ startSequence: start });
        const actual = coreDeliveries(core, ingestOrdered(ops, start), 'applyInOrder');
        const expected = expectedDeliveries(ops, { startSequence: start });
        expect(firstDeliveryMismatch(actual, expected)).toBeUndefined();
        expect(core.stats()).toMatchObject({ eventsDiscarded: 0, sequencesSkipped: 0, pending: 0 });
      }),
      { numRuns: 40 },
    );
  });
});

// The Sequencer (ring + heap) against a naive reorder buffer: a Map and a linear min-scan.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type Problem, Sequencer } from '../lib/core/index.js';

interface Item {
  sequence: number;
  arrival: number;
}

interface Outcome {
  problem: Pick<Problem, 'code' | 'context'> | undefined;
  released: Item[];
}

class NaiveSequencer {
  readonly waiting = new Map<number, Item>();
  skipped = 0;

  constructor(
    public nextSequence: number,
    readonly capacity: number,
  ) {}

  offer(item: Item): Outcome {
    let problem: Outcome['problem'];
    const sequence = item.sequence;
    if (sequence < this.nextSequence) {
      problem = { code: 'ERR_EVENT_STALE', context: { sequence } };
    } else if (this.waiting.has(sequence)) {
      problem = { code: 'ERR_EVENT_DUPLICATE', context: { sequence } };
    } else {
      this.waiting.set(sequence, item);
      if (!this.waiting.has(this.nextSequence) && this.waiting.size > this.capacity) {
        const smallest = Math.min(...this.waiting.keys());
        problem = {
          code: 'ERR_SEQUENCE_GAP',
          context: { sequence: smallest, missingFrom: this.nextSequence, missingTo: smallest - 1 },
        };
        this.skipped += smallest - this.nextSequence;
        this.nextSequence = smallest;
      }
    }
    const released: Item[] = [];
    for (let next = this.waiting.get(this.nextSequence); next !== undefined; ) {
      this.waiting.delete(this.nextSequence);
      released.push(next);
      this.nextSequence++;
      next = this.waiting.get(this.nextSequence);
    }
    return { problem, released };
  }
}

function offerAndDrain(sequencer: Sequencer<Item>, item: Item): Outcome {
  const problem = sequencer.offer(item);
  const released: Item[] = [];
  for (let next = sequencer.next(); next !== undefined; next = sequencer.next())
    released.push(next);
  return { problem: problem && { code: problem.code, context: problem.context }, released };
}

describe('Sequencer against a naive reorder buffer', () => {
  it('agrees on every release, problem and counter, overflow included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 40 }),
        // Offsets from the start, mostly near, sometimes far beyond any ring window.
        fc.array(
          fc.oneof(
            { arbitrary: fc.integer({ min: -3, max: 80 }), weight: 9 },
            { arbitrary: fc.integer({ min: 80, max: 5000 }), weight: 1 },
          ),
          { maxLength: 400 },
        ),
        (start, capacity, offsets) => {
          const sequencer = new Sequencer<Item>({ startSequence: start, capacity });
          const naive = new NaiveSequencer(start, capacity);
          offsets.forEach((offset, arrival) => {
            const item = { sequence: Math.max(1, start + offset), arrival };
            expect(offerAndDrain(sequencer, item)).toEqual(naive.offer(item));
            expect(sequencer.nextSequence).toBe(naive.nextSequence);
            expect(sequencer.pending).toBe(naive.waiting.size);
            expect(sequencer.skipped).toBe(naive.skipped);
            expect(sequencer.pending).toBeLessThanOrEqual(capacity);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

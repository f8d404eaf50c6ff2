// The Sequencer (ring + heap) against a naive reorder buffer: a Map and a linear min-scan,
// both bounded by count and by bytes (each item carries its size). Some items are
// placeholders, which a later non-placeholder with their number replaces while they wait.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Sequencer } from '../../lib/core/sequencer.js';
import type { Problem } from '../../lib/errors.js';

interface Item {
  sequence: number;
  arrival: number;
  size: number;
  placeholder: boolean;
}

interface Outcome {
  problems: Pick<Problem, 'code' | 'context'>[];
  released: Item[];
}

class NaiveSequencer {
  readonly waiting = new Map<number, Item>();
  skipped = 0;
  replaced = 0;

  constructor(
    public nextSequence: number,
    readonly capacity: number,
    readonly capacityBytes: number,
  ) {}

  get bytes(): number {
    let bytes = 0;
    for (const item of this.waiting.values()) bytes += item.size;
    return bytes;
  }

  offer(item: Item): Outcome {
    const problems: Outcome['problems'] = [];
    const released: Item[] = [];
    const sequence = item.sequence;
    if (sequence < this.nextSequence) {
      problems.push({ code: 'ERR_EVENT_STALE', context: { sequence } });
    } else if (
      this.waiting.has(sequence) &&
      (!this.waiting.get(sequence)?.placeholder || item.placeholder)
    ) {
      problems.push({ code: 'ERR_EVENT_DUPLICATE', context: { sequence } });
    } else {
      if (this.waiting.has(sequence)) this.replaced++;
      this.waiting.set(sequence, item);
      this.release(released);
      // Over either bound with a number missing: skip to the smallest waiting, release, again.
      while (this.waiting.size > this.capacity || this.bytes > this.capacityBytes) {
        const smallest = Math.min(...this.waiting.keys());
        problems.push({
          code: 'ERR_SEQUENCE_GAP',
          context: { sequence: smallest, missingFrom: this.nextSequence, missingTo: smallest - 1 },
        });
        this.skipped += smallest - this.nextSequence;
        this.nextSequence = smallest;
        this.release(released);
      }
    }
    return { problems, released };
  }

  private release(released: Item[]): void {
    for (let next = this.waiting.get(this.nextSequence); next !== undefined; ) {
      this.waiting.delete(this.nextSequence);
      released.push(next);
      this.nextSequence++;
      next = this.waiting.get(this.nextSequence);
    }
  }
}

function offerAndDrain(sequencer: Sequencer<Item>, item: Item): Outcome {
  const problems = sequencer
    .offer(item)
    .map((problem) => ({ code: problem.code, context: problem.context }));
  const released: Item[] = [];
  for (let next = sequencer.next(); next !== undefined; next = sequencer.next())
    released.push(next);
  return { problems, released };
}

describe('Sequencer against a naive reorder buffer', () => {
  it('agrees on every release, problem and counter, overflow included', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.integer({ min: 1, max: 40 }),
        // Sometimes far above what can wait (only the count bound acts), mostly within reach.
        fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constant(1_000_000)),
        // Offsets from the start, mostly near, sometimes far beyond any ring window.
        fc.array(
          fc.oneof(
            { arbitrary: fc.integer({ min: -3, max: 80 }), weight: 9 },
            { arbitrary: fc.integer({ min: 80, max: 5000 }), weight: 1 },
          ),
          { maxLength: 400 },
        ),
        // Item sizes: some larger than the byte bound itself.
        fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 50 }),
        // Which arrivals are placeholders.
        fc.array(fc.boolean(), { minLength: 1, maxLength: 50 }),
        (start, capacity, capacityBytes, offsets, sizes, placeholders) => {
          const sequencer = new Sequencer<Item>({
            startSequence: start,
            capacity,
            capacityBytes,
            sizeOf: (item) => item.size,
            replaces: (waiting, arrival) => waiting.placeholder && !arrival.placeholder,
          });
          const naive = new NaiveSequencer(start, capacity, capacityBytes);
          offsets.forEach((offset, arrival) => {
            const size = sizes[arrival % sizes.length] ?? 0;
            const placeholder = placeholders[arrival % placeholders.length] ?? false;
            const item = { sequence: Math.max(1, start + offset), arrival, size, placeholder };
            expect(offerAndDrain(sequencer, item)).toEqual(naive.offer(item));
            expect(sequencer.nextSequence).toBe(naive.nextSequence);
            expect(sequencer.pending).toBe(naive.waiting.size);
            expect(sequencer.skipped).toBe(naive.skipped);
            expect(sequencer.replaced).toBe(naive.replaced);
            expect(sequencer.pendingBytes).toBe(naive.bytes);
            expect(sequencer.pending).toBeLessThanOrEqual(capacity);
            expect(sequencer.pendingBytes).toBeLessThanOrEqual(capacityBytes);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

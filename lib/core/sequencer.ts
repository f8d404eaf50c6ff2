/**
 * Bounded reorder buffer (SPEC 4): items go in in any order, come out strictly in
 * sequence order from a configurable start.
 *
 * Invariants:
 * - `next()` releases only the item whose number is `nextSequence`; numbers are never
 *   released twice and never out of order.
 * - At most `capacity` items wait, whatever the length of the stream. When one more
 *   arrives while `nextSequence` is missing, the gap up to the smallest waiting number is
 *   declared lost and reported, so the stream never stalls and never grows.
 * - Two places hold waiting items. Numbers in `[nextSequence, nextSequence + window)` sit
 *   in a ring indexed by `sequence mod window`: the common, nearly-in-order case costs one
 *   array store and one load. Numbers further ahead wait in a `tinyqueue` heap with an index.
 *   A number is never in both. Every ring item stays inside the window because
 *   `nextSequence` only grows and released items leave the ring.
 *
 * Usage contract: after each `offer()`, call `next()` until it returns `undefined`.
 */
import TinyQueue from 'tinyqueue';
import { DEFAULT_REORDER_CAPACITY, DEFAULT_START_SEQUENCE, MAX_ID } from './constants.js';
import { ErrorCode, MazeError, type Problem } from './errors.js';
import type { Sequence } from './events.js';

/** Largest ring: enough for shuffled batches of hundreds, small enough to scan on overflow. */
const MAX_WINDOW = 1024;

export interface SequencerOptions {
  /** First number released. Default `DEFAULT_START_SEQUENCE`. */
  readonly startSequence?: number;
  /** Most items that may wait for a missing number. Default `DEFAULT_REORDER_CAPACITY`. */
  readonly capacity?: number;
}

/** Anything with a sequence number can be ordered. */
export interface Sequenced {
  readonly sequence: Sequence;
}

export class Sequencer<T extends Sequenced> {
  readonly #startSequence: number;
  readonly #capacity: number;
  readonly #ring: (T | undefined)[];
  readonly #ringMask: number;
  #ringCount = 0;
  readonly #farAhead = new Map<Sequence, T>();
  #farAheadOrder = new TinyQueue<Sequence>();
  #nextSequence: number;
  #skipped = 0;

  constructor(options: SequencerOptions = {}) {
    this.#startSequence = checkPositiveInteger(
      'startSequence',
      options.startSequence ?? DEFAULT_START_SEQUENCE,
    );
    this.#capacity = checkPositiveInteger('capacity', options.capacity ?? DEFAULT_REORDER_CAPACITY);
    const window = Math.min(MAX_WINDOW, 2 ** Math.ceil(Math.log2(this.#capacity + 1)));
    this.#ring = new Array<T | undefined>(window).fill(undefined);
    this.#ringMask = window - 1;
    this.#nextSequence = this.#startSequence;
  }

  /** The number the next released item will carry. */
  get nextSequence(): number {
    return this.#nextSequence;
  }

  /** Items accepted but not yet released. */
  get pending(): number {
    return this.#ringCount + this.#farAhead.size;
  }

  /** Numbers declared lost so far because the buffer overflowed. */
  get skipped(): number {
    return this.#skipped;
  }

  /**
   * Accepts an item for ordering. Returns a problem when the item is discarded
   * (duplicate, stale) or when accepting it overflowed the buffer (gap skipped).
   */
  offer(item: T): Problem | undefined {
    const sequence = item.sequence;
    if (sequence < this.#nextSequence) return stale(sequence, this.#nextSequence);
    if (this.#farAhead.size > 0 && this.#farAhead.has(sequence)) return duplicate(sequence);
    if (sequence - this.#nextSequence <= this.#ringMask) {
      // `&` keeps the low 32 bits of any safe integer, so it is `sequence mod window`.
      const slot = sequence & this.#ringMask;
      if (this.#ring[slot] !== undefined) return duplicate(sequence);
      this.#ring[slot] = item;
      this.#ringCount++;
    } else {
      this.#farAhead.set(sequence, item);
      this.#farAheadOrder.push(sequence);
    }
    if (
      this.pending > this.#capacity &&
      this.#ring[this.#nextSequence & this.#ringMask] === undefined
    ) {
      return this.#skipGap();
    }
    return undefined;
  }

  /** Releases the item carrying `nextSequence`, or `undefined` while it is missing. */
  next(): T | undefined {
    const slot = this.#nextSequence & this.#ringMask;
    let item = this.#ring[slot];
    if (item !== undefined) {
      this.#ring[slot] = undefined;
      this.#ringCount--;
    } else if (this.#farAheadOrder.peek() === this.#nextSequence) {
      item = this.#takeFarAhead();
    } else {
      return undefined;
    }
    this.#nextSequence++;
    return item;
  }

  /** Forgets everything: back to the start number with nothing pending. */
  reset(): void {
    this.#nextSequence = this.#startSequence;
    this.#ring.fill(undefined);
    this.#ringCount = 0;
    this.#farAhead.clear();
    this.#farAheadOrder = new TinyQueue<Sequence>();
    this.#skipped = 0;
  }

  #skipGap(): Problem {
    const missingFrom = this.#nextSequence;
    const smallest = this.#smallestPending();
    const missingTo = smallest - 1;
    this.#skipped += smallest - missingFrom;
    this.#nextSequence = smallest;
    const range = missingFrom === missingTo ? `${missingFrom}` : `${missingFrom}..${missingTo}`;
    return {
      code: ErrorCode.SequenceGap,
      message: `reorder buffer full (${this.#capacity}) while waiting for event ${range}; skipped ${
        missingTo - missingFrom + 1
      } number(s), resuming at ${smallest}`,
      context: { sequence: smallest, missingFrom, missingTo },
    };
  }

  // Runs only on overflow, so a scan of the ring is fine. A far-ahead item can be smaller
  // than a ring item (it arrived when the window was further back), so both are checked.
  #smallestPending(): Sequence {
    const smallestFarAhead = this.#farAheadOrder.peek() ?? Number.POSITIVE_INFINITY;
    if (this.#ringCount > 0) {
      for (let sequence = this.#nextSequence + 1; sequence < smallestFarAhead; sequence++) {
        if (this.#ring[sequence & this.#ringMask] !== undefined) return sequence;
      }
    }
    return smallestFarAhead;
  }

  #takeFarAhead(): T {
    const sequence = this.#farAheadOrder.pop() as Sequence;
    const item = this.#farAhead.get(sequence) as T;
    this.#farAhead.delete(sequence);
    return item;
  }
}

function checkPositiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_ID) {
    throw new MazeError(ErrorCode.InvalidOption, `${name} must be an integer >= 1, got ${value}`);
  }
  return value;
}

function stale(sequence: Sequence, nextSequence: Sequence): Problem {
  return {
    code: ErrorCode.EventStale,
    message: `event ${sequence} arrived after ${nextSequence - 1} was applied; discarded`,
    context: { sequence },
  };
}

function duplicate(sequence: Sequence): Problem {
  return {
    code: ErrorCode.EventDuplicate,
    message: `event ${sequence} is already waiting; the first arrival wins, this one is discarded`,
    context: { sequence },
  };
}

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
 * - The in-order case never touches the heap: an item carrying `nextSequence` sits in a
 *   single `head` slot. Only early items pay for the heap and the index.
 *
 * Usage contract: after each `offer()`, call `next()` until it returns `undefined`.
 */
import TinyQueue from 'tinyqueue';
import { DEFAULT_REORDER_CAPACITY, DEFAULT_START_SEQUENCE, MAX_ID } from './constants.js';
import { ErrorCode, MazeError, type Problem } from './errors.js';
import type { Sequence } from './events.js';

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
  #nextSequence: number;
  #head: T | undefined;
  readonly #waiting = new Map<Sequence, T>();
  #order = new TinyQueue<Sequence>();
  #skipped = 0;

  constructor(options: SequencerOptions = {}) {
    this.#startSequence = checkPositiveInteger(
      'startSequence',
      options.startSequence ?? DEFAULT_START_SEQUENCE,
    );
    this.#capacity = checkPositiveInteger('capacity', options.capacity ?? DEFAULT_REORDER_CAPACITY);
    this.#nextSequence = this.#startSequence;
  }

  /** The number the next released item will carry. */
  get nextSequence(): number {
    return this.#nextSequence;
  }

  /** Items accepted but not yet released. */
  get pending(): number {
    return this.#waiting.size + (this.#head === undefined ? 0 : 1);
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
    if (sequence === this.#nextSequence) {
      if (this.#head !== undefined) return duplicate(sequence);
      this.#head = item;
      return undefined;
    }
    if (this.#waiting.has(sequence)) return duplicate(sequence);
    this.#waiting.set(sequence, item);
    this.#order.push(sequence);
    if (this.#head === undefined && this.#waiting.size > this.#capacity) return this.#skipGap();
    return undefined;
  }

  /** Releases the item carrying `nextSequence`, or `undefined` while it is missing. */
  next(): T | undefined {
    const item = this.#head;
    if (item === undefined) return undefined;
    this.#nextSequence++;
    this.#head =
      this.#order.length > 0 && this.#order.peek() === this.#nextSequence
        ? this.#takeSmallestWaiting()
        : undefined;
    return item;
  }

  /** Forgets everything: back to the start number with nothing pending. */
  reset(): void {
    this.#nextSequence = this.#startSequence;
    this.#head = undefined;
    this.#waiting.clear();
    this.#order = new TinyQueue<Sequence>();
    this.#skipped = 0;
  }

  #skipGap(): Problem {
    const missingFrom = this.#nextSequence;
    const smallest = this.#order.peek() as Sequence;
    const missingTo = smallest - 1;
    this.#skipped += smallest - missingFrom;
    this.#nextSequence = smallest;
    this.#head = this.#takeSmallestWaiting();
    const range = missingFrom === missingTo ? `${missingFrom}` : `${missingFrom}..${missingTo}`;
    return {
      code: ErrorCode.SequenceGap,
      message: `reorder buffer full (${this.#capacity}) while waiting for event ${range}; skipped ${
        missingTo - missingFrom + 1
      } number(s), resuming at ${smallest}`,
      context: { sequence: smallest, missingFrom, missingTo },
    };
  }

  #takeSmallestWaiting(): T {
    const sequence = this.#order.pop() as Sequence;
    const item = this.#waiting.get(sequence) as T;
    this.#waiting.delete(sequence);
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

/**
 * Bounded reorder buffer (docs/protocol.md §4): items go in in any order, come out strictly in
 * sequence order from a configurable start.
 *
 * Invariants:
 * - `next()` releases only the item whose number is `nextSequence`; numbers are never
 *   released twice and never out of order.
 * - After each drained `offer()`, at most `capacity` items and at most `capacityBytes` bytes
 *   (as `sizeOf` counts them) wait, whatever the length of the stream. When an arrival
 *   takes the buffer over either bound while `nextSequence` is missing, the gap up to the
 *   smallest waiting number is declared lost and reported, so the stream never stalls and
 *   never grows. One byte overflow may need several skips (the run released by the first
 *   can be smaller than the arrival); each skip releases at least one item, so it ends.
 * - Items a skip releases move to a `ready` queue that `next()` empties first, so the
 *   skipping decides on what still waits: the waiting items are within both bounds when
 *   `offer()` returns. Ready items count in `pending`/`pendingBytes` until `next()` hands
 *   them out, and `nextSequence` is the first ready one's number until then.
 * - Two places hold waiting items. Numbers in `[nextSequence, nextSequence + window)` sit
 *   in a ring indexed by `sequence mod window`: the common, nearly-in-order case costs one
 *   array store and one load. Numbers further ahead wait in a `tinyqueue` heap with an index.
 *   A number is never in both. Every ring item stays inside the window because
 *   `nextSequence` only grows and released items leave the ring.
 * - A number waits at most once. An arrival whose number is already waiting is a duplicate,
 *   unless `replaces` says it takes the waiting item's place: then the waiting item is gone
 *   (counted in `replaced`), its bytes are released, the arrival's are counted, and the
 *   bounds are checked as for any arrival. Only duplicates pay for that question.
 *
 * Usage contract: after each `offer()`, call `next()` until it returns `undefined`.
 */
import TinyQueue from 'tinyqueue';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { checkOptionValue } from '../options/option.js';
import type { Sequence } from './events.js';
import { CORE_OPTIONS } from './options.js';

/** Largest ring: enough for shuffled batches of hundreds, small enough to scan on overflow. */
const MAX_WINDOW = 1024;

export interface SequencerOptions<T> {
  /** First number released. Default 1. */
  readonly startSequence?: number;
  /** Most items that may wait for a missing number. Default 100,000. */
  readonly capacity?: number;
  /** Most bytes (summed `sizeOf`) that may wait for a missing number. Default 64 MiB. */
  readonly capacityBytes?: number;
  /**
   * The bytes an item holds; called once when it is accepted and once when it is released,
   * so it must give the same answer both times. Default: every item counts 0 bytes.
   */
  readonly sizeOf?: (item: T) => number;
  /**
   * Whether `arrival` takes the place of `waiting`, the item already waiting with its number,
   * instead of being discarded as a duplicate. Asked only for such an arrival. Default: never.
   */
  readonly replaces?: (waiting: T, arrival: T) => boolean;
}

/** Which bound an overflow went over, as the gap report names it. */
type Bound = 'count' | 'bytes';

const NO_PROBLEMS: readonly Problem[] = Object.freeze([]);
const zeroBytes = (): number => 0;
const never = (): boolean => false;

/** Anything with a sequence number can be ordered. */
export interface Sequenced {
  readonly sequence: Sequence;
}

export class Sequencer<T extends Sequenced> {
  readonly #startSequence: number;
  readonly #capacity: number;
  readonly #capacityBytes: number;
  readonly #sizeOf: (item: T) => number;
  readonly #replaces: (waiting: T, arrival: T) => boolean;
  readonly #ring: (T | undefined)[];
  readonly #ringMask: number;
  #ringCount = 0;
  readonly #farAhead = new Map<Sequence, T>();
  #farAheadOrder = new TinyQueue<Sequence>();
  // Released by a gap skip, in order, not yet taken by `next()`; empty between offers.
  #ready: T[] = [];
  #readyHead = 0;
  #nextSequence: number;
  /** Bytes of the items in the ring and far ahead (not of `#ready`). */
  #waitingBytes = 0;
  #readyBytes = 0;
  #skipped = 0;
  #replaced = 0;

  constructor(options: SequencerOptions<T> = {}) {
    this.#startSequence = checked('startSequence', options.startSequence, 'startSequence');
    this.#capacity = checked('reorderCapacity', options.capacity, 'capacity');
    this.#capacityBytes = checked('reorderBytes', options.capacityBytes, 'capacityBytes');
    this.#sizeOf = options.sizeOf ?? zeroBytes;
    this.#replaces = options.replaces ?? never;
    const window = Math.min(MAX_WINDOW, 2 ** Math.ceil(Math.log2(this.#capacity + 1)));
    this.#ring = new Array<T | undefined>(window).fill(undefined);
    this.#ringMask = window - 1;
    this.#nextSequence = this.#startSequence;
  }

  /** The number the next released item will carry, or the first one still missing. */
  get nextSequence(): number {
    return this.#readyHead < this.#ready.length
      ? (this.#ready[this.#readyHead] as T).sequence
      : this.#nextSequence;
  }

  /** The first number neither released nor ready: items from there on wait in the buffer. */
  get waitingFrom(): number {
    return this.#nextSequence;
  }

  /** Items accepted but not yet released. */
  get pending(): number {
    return this.#ringCount + this.#farAhead.size + this.#ready.length - this.#readyHead;
  }

  /** Bytes (as `sizeOf` counts them) of the items accepted but not yet released. */
  get pendingBytes(): number {
    return this.#waitingBytes + this.#readyBytes;
  }

  /** Numbers declared lost so far because the buffer overflowed. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Waiting items that a later arrival with their number replaced (see `replaces`). */
  get replaced(): number {
    return this.#replaced;
  }

  /**
   * Accepts an item for ordering. Returns the problems it caused: one when the item is
   * discarded (duplicate, stale), one `ERR_SEQUENCE_GAP` per gap skipped when accepting it
   * (or letting it replace a waiting item) overflowed the buffer, or none. Call `next()`
   * until `undefined` before the next offer.
   */
  offer(item: T): readonly Problem[] {
    const sequence = item.sequence;
    if (sequence < this.#nextSequence) return [stale(sequence, this.#nextSequence)];
    if (this.#farAhead.size > 0) {
      const waiting = this.#farAhead.get(sequence);
      if (waiting !== undefined) {
        if (!this.#replaces(waiting, item)) return [duplicate(sequence)];
        // Same number, so its place in the heap order stays.
        this.#farAhead.set(sequence, item);
        return this.#replace(waiting, item);
      }
    }
    if (sequence - this.#nextSequence <= this.#ringMask) {
      // `&` keeps the low 32 bits of any safe integer, so it is `sequence mod window`.
      const slot = sequence & this.#ringMask;
      const waiting = this.#ring[slot];
      if (waiting !== undefined) {
        if (!this.#replaces(waiting, item)) return [duplicate(sequence)];
        this.#ring[slot] = item;
        return this.#replace(waiting, item);
      }
      this.#ring[slot] = item;
      this.#ringCount++;
    } else {
      this.#farAhead.set(sequence, item);
      this.#farAheadOrder.push(sequence);
    }
    this.#waitingBytes += this.#sizeOf(item);
    return this.#withinBounds();
  }

  /** Releases the item carrying `nextSequence`, or `undefined` while it is missing. */
  next(): T | undefined {
    if (this.#readyHead < this.#ready.length) return this.#takeReady();
    const item = this.#take(this.#nextSequence);
    if (item === undefined) return undefined;
    this.#waitingBytes -= this.#sizeOf(item);
    this.#nextSequence++;
    return item;
  }

  /**
   * Calls `visit` with every pending item: waiting in the buffer, or ready and not yet handed
   * out by `next()`; in no particular order. O(window + items far ahead + items ready).
   */
  forEachPending(visit: (item: T) => void): void {
    if (this.#ringCount > 0) {
      for (const item of this.#ring) if (item !== undefined) visit(item);
    }
    for (const item of this.#farAhead.values()) visit(item);
    for (let i = this.#readyHead; i < this.#ready.length; i++) visit(this.#ready[i] as T);
  }

  /**
   * Moves `nextSequence` up to `sequence` without counting the numbers in between as
   * skipped: someone else consumed them (the cluster's ingest, which logs only valid events).
   * Only with nothing pending, so nothing waiting is passed over; throws `ERR_INVALID_STATE`
   * otherwise. A `sequence` at or below `nextSequence` changes nothing.
   */
  advanceTo(sequence: Sequence): void {
    if (this.pending !== 0) {
      throw new MazeError(
        ErrorCode.InvalidState,
        `advanceTo(${sequence}) with ${this.pending} item(s) pending`,
      );
    }
    if (sequence > this.#nextSequence) this.#nextSequence = sequence;
  }

  /** Forgets everything: back to the start number with nothing pending. */
  reset(): void {
    this.#nextSequence = this.#startSequence;
    this.#ring.fill(undefined);
    this.#ringCount = 0;
    this.#farAhead.clear();
    this.#farAheadOrder = new TinyQueue<Sequence>();
    this.#ready = [];
    this.#readyHead = 0;
    this.#waitingBytes = 0;
    this.#readyBytes = 0;
    this.#skipped = 0;
    this.#replaced = 0;
  }

  // `arrival` has taken `waiting`'s place (same number, same count): only the bytes change.
  #replace(waiting: T, arrival: T): readonly Problem[] {
    this.#replaced++;
    this.#waitingBytes += this.#sizeOf(arrival) - this.#sizeOf(waiting);
    return this.#withinBounds();
  }

  // After an arrival: skips gaps while the waiting items are over a bound and the next
  // number is missing.
  #withinBounds(): readonly Problem[] {
    if (this.#overBound() !== undefined && !this.#has(this.#nextSequence)) {
      return this.#skipGaps();
    }
    return NO_PROBLEMS;
  }

  // Which bound the waiting items are over, if any; the ready queue has left the buffer.
  #overBound(): Bound | undefined {
    if (this.#ringCount + this.#farAhead.size > this.#capacity) return 'count';
    if (this.#waitingBytes > this.#capacityBytes) return 'bytes';
    return undefined;
  }

  // Runs only on overflow. Each round skips one gap and moves the run after it to the ready
  // queue, so at least one item leaves the buffer per round: the loop ends, at the latest,
  // with nothing waiting (0 bytes, 0 items: within any bound).
  #skipGaps(): readonly Problem[] {
    const problems: Problem[] = [];
    for (let bound = this.#overBound(); bound !== undefined; bound = this.#overBound()) {
      problems.push(this.#skipGap(bound));
      for (let item = this.#take(this.#nextSequence); item !== undefined; ) {
        const size = this.#sizeOf(item);
        this.#waitingBytes -= size;
        this.#readyBytes += size;
        this.#ready.push(item);
        this.#nextSequence++;
        item = this.#take(this.#nextSequence);
      }
    }
    return problems;
  }

  #skipGap(bound: Bound): Problem {
    const missingFrom = this.#nextSequence;
    const smallest = this.#smallestPending();
    const missingTo = smallest - 1;
    this.#skipped += smallest - missingFrom;
    this.#nextSequence = smallest;
    const range = missingFrom === missingTo ? `${missingFrom}` : `${missingFrom}..${missingTo}`;
    const limit = bound === 'count' ? `${this.#capacity} events` : `${this.#capacityBytes} bytes`;
    return {
      code: ErrorCode.SequenceGap,
      message: `reorder buffer full (${limit}) while waiting for event ${range}; skipped ${
        missingTo - missingFrom + 1
      } number(s), resuming at ${smallest}`,
      context: { sequence: smallest, missingFrom, missingTo },
    };
  }

  // Whether `sequence` (at or after `#nextSequence`) is waiting.
  #has(sequence: Sequence): boolean {
    return (
      this.#ring[sequence & this.#ringMask] !== undefined || this.#farAheadOrder.peek() === sequence
    );
  }

  // Removes and returns the waiting item carrying `sequence`, which must be `#nextSequence`.
  #take(sequence: Sequence): T | undefined {
    const slot = sequence & this.#ringMask;
    const item = this.#ring[slot];
    if (item !== undefined) {
      this.#ring[slot] = undefined;
      this.#ringCount--;
      return item;
    }
    return this.#farAheadOrder.peek() === sequence ? this.#takeFarAhead() : undefined;
  }

  #takeReady(): T {
    const item = this.#ready[this.#readyHead] as T;
    this.#readyBytes -= this.#sizeOf(item);
    this.#readyHead++;
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    }
    return item;
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

// By the rule of the core option it stands for; `label` is the Sequencer's own name for it.
function checked(
  option: 'startSequence' | 'reorderCapacity' | 'reorderBytes',
  value: number | undefined,
  label: string,
): number {
  const row = CORE_OPTIONS[option];
  return checkOptionValue(row, value ?? row.default, label);
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

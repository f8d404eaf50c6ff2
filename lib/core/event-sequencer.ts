/**
 * Event lines into sequence order (docs/protocol.md §4), by the rules every front end
 * shares: `MazeCore` (serve and the cluster's gateway) and the cluster's ingest.
 *
 * Invariants:
 * - A line without a sequence number, a duplicate and a stale number are discarded (counted
 *   in `discarded`) and reported; an invalid body is reported and still holds its number.
 * - Valid beats invalid while waiting: an invalid body holds its number only as a
 *   placeholder, and a valid event with that number arriving before it is applied takes its
 *   place, unreported (the invalid line, already reported, counts as discarded). Any other
 *   second arrival of a waiting number is a duplicate.
 * - Slots (valid events, or invalid bodies) come out of `next()` strictly in order.
 * - An event that has to wait gets a copy of its line (just its bytes) in the `LineStore`,
 *   so the reorder buffer never pins the caller's input chunks: a 20-byte line must not keep
 *   a 64 KiB chunk alive (measured on text views: 2,000 waiting lines pinned 131 MB). One
 *   released at once, or by a gap skipped in its own offer, keeps the caller's range. A
 *   duplicate or stale line is not copied.
 *   The store hears of every kept line that `next()` hands out, and of `reset()`.
 * - Lines come as bytes (`offer(bytes, start, end)`, the adapter's framed input, parsed where
 *   they lie) or as text (tests, embedders: converted to bytes once).
 * - `reset()` goes back to the start number; what was waiting counts as discarded, and
 *   `skipped` and `wellFormed` keep counting across resets.
 */
import { ErrorCode, type Problem } from '../errors.js';
import { checkOptionValue } from '../options/option.js';
import type { MazeEvent } from './events.js';
import { LineStore, type StoredLine } from './line-store.js';
import { CORE_OPTIONS } from './options.js';
import { type InvalidEventBody, isEvent, parseEvent, parseEventBytes } from './parser.js';
import { Sequencer } from './sequencer.js';

/** A sequence slot: a valid event, or the report of an invalid body holding its number. */
export type SequenceSlot = MazeEvent | InvalidEventBody;

/**
 * The bytes a slot holds while it waits in the reorder buffer (what `reorderBytes` bounds).
 * An event holds its line's bytes; an invalid body keeps only its report: the message and
 * the quoted (shortened) line.
 */
function sequenceSlotBytes(slot: SequenceSlot): number {
  return isEvent(slot)
    ? slot.end - slot.start
    : slot.message.length + (slot.context.line?.length ?? 0);
}

export interface EventSequencerOptions {
  readonly startSequence?: number;
  readonly reorderCapacity?: number;
  readonly reorderBytes?: number;
  /** Byte between the fields of a line. Default `|`. */
  readonly delimiter?: string;
}

export class EventSequencer {
  readonly #sequencer: Sequencer<SequenceSlot>;
  /** The copies of the waiting events' lines. */
  readonly #store: LineStore;
  readonly #delimiter: string;
  readonly #delimiterCode: number;
  #discarded = 0;
  #wellFormed = 0;
  // The sequencer forgets its skipped count on reset; this count must not.
  #skippedBeforeReset = 0;
  /**
   * The number of the current offer's line when the store did not keep it (released at
   * once, or discarded), else -1: `next()` tells the store of every other event it hands
   * out. A number, not the event: nothing here holds the caller's chunk. Reset when `next()`
   * hands that line out or runs dry, so no later line with the number is taken for it.
   */
  #unkept = -1;

  /** Throws `ERR_INVALID_OPTION` for an option its row refuses. */
  constructor(options: EventSequencerOptions = {}) {
    const row = CORE_OPTIONS.delimiter;
    this.#delimiter = checkOptionValue(row, options.delimiter ?? row.default, 'delimiter');
    this.#delimiterCode = this.#delimiter.charCodeAt(0);
    this.#sequencer = new Sequencer<SequenceSlot>({
      startSequence: options.startSequence,
      capacity: options.reorderCapacity,
      capacityBytes: options.reorderBytes,
      sizeOf: sequenceSlotBytes,
      replaces: validReplacesInvalid,
    });
    this.#store = new LineStore((visit) =>
      this.#sequencer.forEachPending((slot) => {
        if (isEvent(slot)) visit(slot as unknown as StoredLine);
      }),
    );
  }

  /**
   * Lines discarded: no sequence number, duplicate, stale, an invalid body replaced by a valid
   * event, or still waiting at `reset()`.
   */
  get discarded(): number {
    return this.#discarded + this.#sequencer.replaced;
  }

  /**
   * Lines offered that parsed as events (a sequence number and a valid body), duplicate and
   * stale ones included, resets included.
   */
  get wellFormed(): number {
    return this.#wellFormed;
  }

  /** Numbers declared lost because the reorder buffer overflowed, resets included. */
  get skipped(): number {
    return this.#skippedBeforeReset + this.#sequencer.skipped;
  }

  get pending(): number {
    return this.#sequencer.pending;
  }

  get pendingBytes(): number {
    return this.#sequencer.pendingBytes;
  }

  get nextSequence(): number {
    return this.#sequencer.nextSequence;
  }

  /**
   * Takes one event line (with or without its terminator): `bytes[start, end)`, or text.
   * Returns what to report, if anything. Call `next()` until it returns `undefined`
   * afterwards.
   */
  offer(line: string | Uint8Array, start = 0, end = line.length): Problem[] | undefined {
    const parsed = this.#parse(line, start, end);
    if (!isEvent(parsed) && parsed.code === ErrorCode.EventBadSequence) {
      this.#discarded++;
      return [parsed];
    }
    if (!isEvent(parsed)) return this.#accepted(parsed, this.#sequencer.offer(parsed));
    this.#wellFormed++;
    this.#unkept = parsed.sequence;
    // Whether it waits: released at once or stale, nothing keeps it.
    const waits = parsed.sequence > this.#sequencer.nextSequence;
    const outcome = this.#sequencer.offer(parsed);
    const problems = this.#accepted(parsed, outcome);
    // Accepted and still waiting: a gap skipped for it may have made it ready, and then it
    // is handed out in this offer, like a line released at once.
    if (waits && !isDiscard(outcome) && parsed.sequence >= this.#sequencer.waitingFrom) {
      this.#unkept = -1;
      this.#store.keep(parsed as unknown as StoredLine, this.#sequencer.pending);
    }
    return problems;
  }

  /**
   * Takes one line that is already in sequence order, as the cluster's gateway reads them
   * from the log: numbers between the last one and this one were consumed by the ingest
   * (invalid bodies, skipped gaps), so the line is released at once instead of waiting for
   * them. Discards and reports as `offer()` does: no sequence number, or a number at or
   * below the last one taken (stale). Call `next()` until it returns `undefined` afterwards.
   */
  offerInOrder(line: string | Uint8Array, start = 0, end = line.length): Problem[] | undefined {
    const parsed = this.#parse(line, start, end);
    if (!isEvent(parsed) && parsed.code === ErrorCode.EventBadSequence) {
      this.#discarded++;
      return [parsed];
    }
    if (isEvent(parsed)) this.#wellFormed++;
    this.#unkept = parsed.sequence;
    if (parsed.sequence >= this.#sequencer.nextSequence) {
      this.#sequencer.advanceTo(parsed.sequence);
    }
    return this.#accepted(parsed, this.#sequencer.offer(parsed));
  }

  /**
   * Moves the next number up to `sequence` (a restored snapshot: the numbers before it were
   * applied elsewhere). Throws `ERR_INVALID_STATE` while lines wait.
   */
  advanceTo(sequence: number): void {
    this.#sequencer.advanceTo(sequence);
  }

  /** The slot carrying `nextSequence`, or `undefined` while it is missing. */
  next(): SequenceSlot | undefined {
    const slot = this.#sequencer.next();
    if (slot === undefined || slot.sequence === this.#unkept) this.#unkept = -1;
    else if (isEvent(slot)) this.#store.release(slot as unknown as StoredLine);
    return slot;
  }

  reset(): void {
    this.#discarded += this.#sequencer.pending + this.#sequencer.replaced;
    this.#skippedBeforeReset += this.#sequencer.skipped;
    this.#sequencer.reset();
    this.#store.reset();
    this.#unkept = -1;
  }

  // What to report once the sequencer has answered an offer of `slot`.
  #accepted(slot: SequenceSlot, outcome: readonly Problem[]): Problem[] | undefined {
    if (isDiscard(outcome)) {
      this.#discarded++;
      return [...outcome];
    }
    // Accepted: an invalid body still holds its number, and is still reported.
    if (isEvent(slot)) return outcome.length === 0 ? undefined : [...outcome];
    return [slot, ...outcome];
  }

  #parse(line: string | Uint8Array, start: number, end: number): ReturnType<typeof parseEvent> {
    return typeof line === 'string'
      ? parseEvent(line, this.#delimiter)
      : parseEventBytes(line, start, end, this.#delimiterCode);
  }
}

// Whether the sequencer's answer to an offer discards the item (a duplicate or stale one).
function isDiscard(outcome: readonly Problem[]): boolean {
  return outcome.length === 1 && outcome[0]?.code !== ErrorCode.SequenceGap;
}

// The sequencer's `replaces`: a valid event takes the number an invalid body holds.
function validReplacesInvalid(waiting: SequenceSlot, arrival: SequenceSlot): boolean {
  return !isEvent(waiting) && isEvent(arrival);
}

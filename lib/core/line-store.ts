/**
 * Where the reorder buffer keeps the lines that wait for a missing number: copied, back to
 * back, into shared blocks of bytes instead of an array each (an array costs about 200
 * bytes of heap on top of its line; measured in docs/performance.md).
 *
 * Invariants:
 * - Bytes once written are never overwritten: a block is filled from its start and then
 *   left to the collector, never reused. So a kept range stays valid for as long as anyone
 *   holds it, as an own copy would (the fan-out reads released lines until its flush).
 * - `keep()` points the line's `bytes`, `start` and `end` at its copy, never at a view of
 *   the caller's bytes (a `Buffer`'s `slice()` is one). A line longer than
 *   `MAX_SHARED_LINE_BYTES` (or an eighth of a block) gets an exact array of its own: it
 *   costs its bytes plus an array, outside the blocks, and the end of a block left empty
 *   is short.
 * - A line waits from its `keep()` until the owner hands it out and says so with
 *   `release()`; the owner lists every waiting line for a compaction. So every waiting line
 *   in a block lies in one made since the last compaction, and the store counts the bytes
 *   of those lines: added by a shared `keep()`, taken off by `release()`.
 * - Right after each `keep()`, the blocks made since the last compaction (the only ones a
 *   waiting line can lie in) hold at most 2 × the waiting bytes in blocks + 8 bytes per
 *   waiting line + 2 blocks: past that, the waiting lines (as the owner lists them) are
 *   copied into fresh blocks, and the old blocks are left to the collector once nothing
 *   released still reads them. A compaction costs the waiting bytes in blocks and a visit
 *   per waiting line, at most about half of what was written since the previous one: O(1)
 *   amortized per byte kept.
 * - Pure: plain `Uint8Array`s, no I/O.
 */

/** Bytes of one block: a few hundred lines of the usual 10-30 bytes. */
const BLOCK_BYTES = 16 * 1024;
/**
 * A longer line gets an exact array of its own (as does one longer than an eighth of a
 * block). An array costs about 200 bytes of heap beyond its line, so for a longer line it is
 * cheap, and the worst case of the blocks (twice the bytes waiting in them, above) would
 * cost more.
 */
const MAX_SHARED_LINE_BYTES = 128;
/**
 * Bytes written per waiting line before a compaction may visit them all: a visit costs
 * about what copying a few bytes does, so lines kept in arrays of their own (which take no
 * room in blocks) cannot make compactions run ever more often.
 */
const VISIT_BYTES = 8;

/** A line as a range of bytes, which `LineStore.keep()` moves. */
export interface StoredLine {
  bytes: Uint8Array;
  start: number;
  end: number;
}

export class LineStore {
  readonly #forEachWaiting: (visit: (line: StoredLine) => void) => void;
  readonly #blockBytes: number;
  readonly #maxSharedLine: number;
  #block: Uint8Array | undefined;
  #used = 0;
  /** Bytes of the blocks made since the last compaction (the current one included). */
  #written = 0;
  /** Bytes of the waiting lines that lie in blocks. */
  #sharedWaiting = 0;
  #compactions = 0;
  #moved = 0;

  /**
   * `forEachWaiting` lists every line kept here and not released yet (a released line is
   * never moved again; its copy stays where it is). `blockBytes`: the size of a block, in bytes.
   */
  constructor(
    forEachWaiting: (visit: (line: StoredLine) => void) => void,
    blockBytes: number = BLOCK_BYTES,
  ) {
    this.#forEachWaiting = forEachWaiting;
    this.#blockBytes = blockBytes;
    this.#maxSharedLine = Math.min(MAX_SHARED_LINE_BYTES, Math.floor(blockBytes / 8));
  }

  /** Compactions so far, for tests. */
  get compactions(): number {
    return this.#compactions;
  }

  /** Waiting lines that compactions copied so far, for tests. */
  get moved(): number {
    return this.#moved;
  }

  /** Bytes of the blocks made since the last compaction. */
  get writtenSinceCompaction(): number {
    return this.#written;
  }

  /** Bytes of the waiting lines that lie in blocks (as `release()` keeps count). */
  get sharedWaitingBytes(): number {
    return this.#sharedWaiting;
  }

  /**
   * Copies `line` into the store and points it at the copy. `waitingLines`: how many lines
   * wait now (this one included), kept here or not.
   */
  keep(line: StoredLine, waitingLines: number): void {
    this.#copy(line);
    const limit = 2 * this.#sharedWaiting + VISIT_BYTES * waitingLines + 2 * this.#blockBytes;
    if (this.#written > limit) this.#compact();
  }

  /** The owner hands out `line` (kept here earlier): from now on it no longer lists it. */
  release(line: StoredLine): void {
    const length = line.end - line.start;
    if (length <= this.#maxSharedLine) this.#sharedWaiting -= length;
  }

  /** Nothing waits any more. */
  reset(): void {
    this.#startGeneration();
  }

  #copy(line: StoredLine): void {
    const { bytes, start, end } = line;
    const length = end - start;
    if (length > this.#maxSharedLine) {
      // Never `bytes.slice()`: on a `Buffer` that is a view of the caller's bytes.
      const own = new Uint8Array(length);
      own.set(bytes.subarray(start, end));
      line.bytes = own;
      line.start = 0;
      line.end = length;
      return;
    }
    let block = this.#block;
    let at = this.#used;
    if (block === undefined || at + length > block.length) {
      block = new Uint8Array(this.#blockBytes);
      this.#block = block;
      this.#written += block.length;
      at = 0;
    }
    this.#sharedWaiting += length;
    // A loop: a line is too short for a native copy, and the view it needs, to pay.
    for (let from = start; from < end; from++) block[at++] = bytes[from] as number;
    this.#used = at;
    line.bytes = block;
    line.start = at - length;
    line.end = at;
  }

  #startGeneration(): void {
    this.#block = undefined;
    this.#used = 0;
    this.#written = 0;
    this.#sharedWaiting = 0;
  }

  #compact(): void {
    this.#compactions++;
    this.#startGeneration();
    this.#forEachWaiting((line) => {
      // A line with an array of its own stays in it.
      if (line.end - line.start <= this.#maxSharedLine) {
        this.#moved++;
        this.#copy(line);
      }
    });
  }
}

/**
 * Where the reorder buffer keeps the lines that wait for a missing number: copied, back to
 * back, into shared blocks of bytes instead of an array each (an array costs about 200
 * bytes of heap on top of its line; measured in docs/performance.md).
 *
 * Invariants:
 * - Bytes once written are never overwritten: a block is filled from its start and then
 *   left to the collector, never reused. So a kept range stays valid for as long as anyone
 *   holds it, as an own copy would (the fan-out reads released lines until its flush).
 * - `keep()` points the line's `bytes`, `start` and `end` at its copy. A line longer than
 *   `MAX_SHARED_LINE_BYTES` (or an eighth of a block) gets an exact array of its own, so the
 *   end of a block left empty is short, and the worst case below, per line, costs at most
 *   about what an array of its own would.
 * - Right after each `keep()`, the blocks made since the last compaction (the only ones a
 *   waiting line can lie in) are at most 2 × the waiting bytes + 2 blocks: past that, the waiting lines (as the owner lists them) are copied into fresh blocks, and the
 *   old blocks are left to the collector once nothing released still reads them. Waiting
 *   bytes only fall between two `keep()`s, so the blocks stay under 2 × the reorder bytes
 *   bound + 2 blocks. A compaction costs the waiting bytes, at most what was written or
 *   released since the previous one: O(1) amortized per byte kept.
 * - Pure: plain `Uint8Array`s, no I/O.
 */

/** Bytes of one block: a few hundred lines of the usual 10-30 bytes. */
const BLOCK_BYTES = 16 * 1024;
/**
 * A longer line gets an exact array of its own (as does one longer than an eighth of a
 * block). An array costs about 200 bytes of heap beyond its line, so for a longer line it is
 * cheap, and the worst case of the blocks (twice the waiting bytes, below) would cost more.
 */
const MAX_SHARED_LINE_BYTES = 128;

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
  #compactions = 0;

  /**
   * `forEachWaiting` lists every line kept here that still waits (a released line is never
   * moved again; its copy stays where it is). `blockBytes`: the size of a block.
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

  /** Bytes of the blocks made since the last compaction. */
  get blockBytes(): number {
    return this.#written;
  }

  /**
   * Copies `line` into the store and points it at the copy. `waitingBytes`: the bytes of the
   * lines that wait now, this one included; they bound what the blocks may hold.
   */
  keep(line: StoredLine, waitingBytes: number): void {
    this.#copy(line);
    if (this.#written > 2 * waitingBytes + 2 * this.#blockBytes) this.#compact();
  }

  #copy(line: StoredLine): void {
    const { bytes, start, end } = line;
    const length = end - start;
    if (length > this.#maxSharedLine) {
      line.bytes = bytes.slice(start, end);
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
    // A loop: a line is too short for a native copy, and the view it needs, to pay.
    for (let from = start; from < end; from++) block[at++] = bytes[from] as number;
    this.#used = at;
    line.bytes = block;
    line.start = at - length;
    line.end = at;
  }

  #compact(): void {
    this.#compactions++;
    this.#block = undefined;
    this.#used = 0;
    this.#written = 0;
    this.#forEachWaiting((line) => {
      // A line with an array of its own stays in it.
      if (line.end - line.start <= this.#maxSharedLine) this.#copy(line);
    });
  }
}

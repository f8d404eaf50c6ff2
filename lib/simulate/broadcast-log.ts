/**
 * The broadcasts of the stream, owed once for every client stream of a generator instead of
 * once per client: each stream keeps a cursor into this log beside its own ring of the lines
 * owed to it alone, and expects whichever of the two heads has the lower sequence number.
 *
 * Invariants:
 * - Entries are in sequence order, addressed by their absolute index (0: the first
 *   broadcast logged); `end` is the number logged so far.
 * - An entry stays until every stream's cursor is past it: a stream that lags keeps the
 *   log as long as its own owed lines, which the generator's pacing bounds, so the log is
 *   bounded as a stream's ring is (`perClientLimit` plus a batch), for all clients together.
 * - `headroom` is a lower bound of the lines any stream not over its limit may still be owed
 *   before it reaches `perClientLimit`: a broadcast lowers every stream's by one, so the
 *   generator checks each stream only when it runs out.
 */

const INITIAL_SIZE = 1_024;

/** What the log needs to know of a stream reading it. */
export interface BroadcastReader {
  readonly broadcastCursor: number;
  /**
   * Marks the reader over its limit if it owes `perClientLimit` lines; returns how many more
   * it may be owed before that (`perClientLimit` once over it).
   */
  checkLimit(): number;
}

/** The counters a broadcast adds to (the client streams' `Ledger`). */
interface Owing {
  pending: number;
  readonly perClientLimit: number;
}

export class BroadcastLog {
  /** Broadcasts logged so far. */
  end = 0;
  headroom: number;
  sequences = new Float64Array(INITIAL_SIZE);
  hashes = new Int32Array(INITIAL_SIZE);
  /** The ledger clock when each broadcast became owed (when its stream started waiting). */
  owedAt = new Float64Array(INITIAL_SIZE);
  mask = INITIAL_SIZE - 1;
  // The oldest entry still kept.
  #start = 0;
  readonly #readers: BroadcastReader[] = [];

  constructor(perClientLimit: number) {
    this.headroom = perClientLimit;
  }

  /** A stream that reads the log from its current end on. */
  add(reader: BroadcastReader): void {
    this.#readers.push(reader);
  }

  /** Entries kept. */
  get size(): number {
    return this.end - this.#start;
  }

  /**
   * Every reader is owed the broadcast `sequence` whose line hashes to `hash`, from the
   * ledger clock `owedAt` on.
   */
  owe(sequence: number, hash: number, owedAt: number, ledger: Owing): void {
    const readers = this.#readers;
    if (readers.length === 0) return;
    if (this.end - this.#start > this.mask) this.#makeRoom();
    const at = this.end & this.mask;
    this.sequences[at] = sequence;
    this.hashes[at] = hash;
    this.owedAt[at] = owedAt;
    this.end++;
    ledger.pending += readers.length;
    if (--this.headroom <= 0) this.#checkLimits(ledger.perClientLimit);
  }

  // Some reader may have reached its limit: each is checked, and the headroom is that of the
  // reader closest to its limit.
  #checkLimits(perClientLimit: number): void {
    let headroom = perClientLimit;
    for (const reader of this.#readers) headroom = Math.min(headroom, reader.checkLimit());
    this.headroom = headroom;
  }

  // Forgets what every reader is past; grows only if that frees nothing.
  #makeRoom(): void {
    let start = this.end;
    for (const reader of this.#readers) start = Math.min(start, reader.broadcastCursor);
    this.#start = start;
    if (this.end - start <= this.mask) return;
    const size = this.sequences.length * 2;
    const mask = size - 1;
    const sequences = new Float64Array(size);
    const hashes = new Int32Array(size);
    const owedAt = new Float64Array(size);
    for (let n = start; n < this.end; n++) {
      sequences[n & mask] = this.sequences[n & this.mask] as number;
      hashes[n & mask] = this.hashes[n & this.mask] as number;
      owedAt[n & mask] = this.owedAt[n & this.mask] as number;
    }
    this.sequences = sequences;
    this.hashes = hashes;
    this.owedAt = owedAt;
    this.mask = mask;
  }
}

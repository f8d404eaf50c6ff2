/**
 * The lines notified since the last flush, and each client's output assembled from them
 * (docs/protocol.md §6): bytes in, bytes out, no text on the way.
 *
 * Invariants:
 * - A line is registered once per flush however many clients it goes to: the bytes it lies
 *   in (the input chunk, usually) and its range. A client queues only the line's index, so
 *   the fan-out's inner loop stores one small integer per notification.
 * - A registered range stays valid until `clear()`, which the owner calls at every flush,
 *   before it lets go of the input the ranges lie in.
 * - `write()` copies a client's lines, in its order, into one buffer of exactly their
 *   length and writes it: one `write()` per client per flush. Lines that follow each other
 *   in the same bytes are copied as one range. A short range is copied by a loop, four
 *   bytes at a time through a `DataView` of its bytes (made when its bytes differ from the
 *   last two lines' bytes, not per line), a long one by a native `set()` of a view; no view is made per line: a view is a
 *   heap object that lives until the flush, and those objects were most of what each
 *   young-generation collection had to keep (measured: the young generation then stays
 *   smaller, and the loop costs the same as a native copy on lines of 10-30 bytes).
 * - The arrays of the lines are refilled in place from index 0 at each flush, not regrown
 *   from empty; after a flush that used less than a quarter of them, they are let go, so
 *   they hold at most four times the largest flush since.
 */
import { Buffer } from 'node:buffer';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';

/**
 * Bytes of the slab that small outputs are carved from: the output of a flush to many
 * clients is many buffers of a few KiB, and one reused slab spares an allocation (and its
 * collection) for each.
 */
const SLAB_BYTES = 256 * 1024;
/** Outputs above this get a buffer of their own. */
const MAX_CARVED_BYTES = 32 * 1024;
/**
 * Slabs a socket still queues a piece of, at most, for all clients together. A queued piece
 * keeps its whole slab alive, which the output budget does not see (it counts the piece):
 * past this, outputs get exact buffers of their own until pieces are written, so what
 * slabs hold beyond the budget is at most 17 slabs (these and the current one, 4.25 MiB)
 * whatever clients stall.
 */
const MAX_HELD_SLABS = 16;
/** Ranges up to this many bytes are copied by a loop: a native copy needs a view made first. */
const LOOP_COPY_BYTES = 64;
/** Line arrays up to this long are kept however little a flush used. */
const KEPT_LINE_SLOTS = 4096;
/**
 * Slots of clients' arrays of line indices kept from one flush to the next, for all clients
 * together (8 bytes a slot: 2 MiB), by default. The default profile's 100 clients keep about
 * 80,000.
 */
const MAX_KEPT_INDEX_SLOTS = 256 * 1024;
/** Below this, `Buffer.allocUnsafe()` carves from Node's shared pool, which a queued piece would pin. */
const NODE_POOL_LIMIT = Buffer.poolSize >>> 1;

/**
 * A slab and its pieces handed to sockets that have not reported them written. Every carved
 * write passes `release` as its callback, which Node calls once the piece is written or the
 * socket is gone.
 */
class Slab {
  readonly buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  readonly view = viewOf(this.buffer);
  used = 0;
  /** Carved writes not called back yet. */
  unwritten = 0;
  /** Set when it is replaced while pieces are unwritten: `owner.held` counts it until they are. */
  retired = false;
  readonly release = (): void => {
    this.unwritten--;
    if (this.unwritten === 0 && this.retired) this.owner.held--;
  };

  constructor(private readonly owner: { held: number }) {}
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/** A view of `bytes` that reads and writes four bytes at once at any offset. */
function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class OutputLines {
  readonly #bytes: Uint8Array[] = [];
  /**
   * A view of each line's bytes: copies go four bytes at a time (measured: about 4% less
   * server CPU on the bench's default profile than a byte loop).
   */
  readonly #views: DataView[] = [];
  /**
   * The bytes of the last two distinct lines added and their views: lines come from the
   * input chunk, interleaved with lines released from the reorder buffer's blocks.
   */
  #lastBytes: Uint8Array = EMPTY;
  #lastView: DataView = EMPTY_VIEW;
  #otherBytes: Uint8Array = EMPTY;
  #otherView: DataView = EMPTY_VIEW;
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  /** Lines registered since the last `clear()`: the arrays' entries from there on are stale. */
  #count = 0;
  /** The slab outputs are carved from; `undefined` until the first carved output. */
  #slab: Slab | undefined;
  /** Retired slabs with pieces still unwritten (at most MAX_HELD_SLABS). */
  readonly #slabs = { held: 0 };
  /** Whether a socket queued a piece of the current slab: then it is never reused. */
  #slabQueued = false;
  readonly #maxKeptIndexSlots: number;

  /** `maxKeptIndexSlots`: the budget of `keep()`, for all clients together. */
  constructor(maxKeptIndexSlots = MAX_KEPT_INDEX_SLOTS) {
    this.#maxKeptIndexSlots = maxKeptIndexSlots;
  }

  /** Registers the line `bytes[start, end)`; returns its index until the next `clear()`. */
  add(bytes: Uint8Array, start: number, end: number): number {
    const line = this.#count++;
    if (bytes !== this.#lastBytes) {
      const view = bytes === this.#otherBytes ? this.#otherView : viewOf(bytes);
      this.#otherBytes = this.#lastBytes;
      this.#otherView = this.#lastView;
      this.#lastBytes = bytes;
      this.#lastView = view;
    }
    if (line < this.#ends.length) {
      this.#bytes[line] = bytes;
      this.#views[line] = this.#lastView;
      this.#starts[line] = start;
      this.#ends[line] = end;
    } else {
      this.#bytes.push(bytes);
      this.#views.push(this.#lastView);
      this.#starts.push(start);
      this.#ends.push(end);
    }
    return line;
  }

  /** Slots of clients' index arrays kept for their next flush, for all clients together. */
  #keptIndexSlots = 0;

  /**
   * Whether a client may keep its array of `slots` line indices for its next flush, having
   * kept `kept` slots until now: within the budget for all clients together.
   * When it may, they are counted; a client lets go of what it keeps with `releaseKept()`.
   */
  keep(kept: number, slots: number): boolean {
    const total = this.#keptIndexSlots - kept + slots;
    if (total > this.#maxKeptIndexSlots) return false;
    this.#keptIndexSlots = total;
    return true;
  }

  /** A client no longer keeps `kept` slots. */
  releaseKept(kept: number): void {
    this.#keptIndexSlots -= kept;
  }

  /** Slots of index arrays clients keep (within the budget), for tests. */
  get keptIndexSlots(): number {
    return this.#keptIndexSlots;
  }

  /** Forgets every line (their indices are reused from 0). */
  clear(): void {
    const used = this.#count;
    this.#count = 0;
    const slots = this.#ends.length;
    if (slots > KEPT_LINE_SLOTS && used * 4 < slots) {
      this.#bytes.length = 0;
      this.#views.length = 0;
      this.#starts.length = 0;
      this.#ends.length = 0;
    } else {
      // No stale entry keeps an input chunk alive.
      this.#bytes.fill(EMPTY, 0, used);
      this.#views.fill(EMPTY_VIEW, 0, used);
    }
    this.#lastBytes = EMPTY;
    this.#lastView = EMPTY_VIEW;
    this.#otherBytes = EMPTY;
    this.#otherView = EMPTY_VIEW;
  }

  /**
   * Writes the first `count` lines at `lines`, `length` bytes in all, to `stream` in one
   * buffer. The buffer is carved from the slab when the stream is a plain TCP socket with
   * nothing queued: if the socket takes the bytes at once (the usual case), nothing holds the piece once
   * `write()` returns, and the slab is reused when it is full. If the socket queues them,
   * the slab is retired instead: it is left to the collector once every piece is written.
   * A client whose socket has bytes queued gets exact buffers of its own, so a client holds
   * at most one slab, and only until its queued piece is written; at most MAX_HELD_SLABS
   * are held at once.
   */
  write(stream: Writable, lines: readonly number[], count: number, length: number): void {
    const carve =
      length <= MAX_CARVED_BYTES &&
      stream.writableLength === 0 &&
      stream instanceof Socket &&
      (stream as { encrypted?: boolean }).encrypted !== true &&
      this.#slabs.held < MAX_HELD_SLABS;
    if (!carve) {
      // An exact buffer: a pooled one could pin a shared pool while the stream queues it.
      const output =
        length < NODE_POOL_LIMIT ? Buffer.allocUnsafeSlow(length) : Buffer.allocUnsafe(length);
      this.#assemble(output, viewOf(output), 0, lines, count);
      stream.write(output);
      return;
    }
    const slab = this.#slabFor(length);
    const output = slab.buffer.subarray(slab.used, slab.used + length);
    this.#assemble(output, slab.view, slab.used, lines, count);
    slab.used += length;
    slab.unwritten++;
    stream.write(output, slab.release);
    if (stream.writableLength !== 0) this.#slabQueued = true;
  }

  // The slab to carve `length` bytes from: the current one, reused from its start when full
  // unless a socket queued a piece of it (then retired, and a new one made).
  #slabFor(length: number): Slab {
    let slab = this.#slab;
    if (slab === undefined) {
      slab = new Slab(this.#slabs);
      this.#slab = slab;
    } else if (slab.used + length > SLAB_BYTES) {
      if (this.#slabQueued) {
        if (slab.unwritten > 0) {
          slab.retired = true;
          this.#slabs.held++;
        }
        slab = new Slab(this.#slabs);
        this.#slab = slab;
        this.#slabQueued = false;
      }
      slab.used = 0;
    }
    return slab;
  }
  // Copies the first `count` lines at `lines` into `output`, which has room for exactly them
  // and sits at `base` in `outView`.
  #assemble(
    output: Buffer,
    outView: DataView,
    base: number,
    lines: readonly number[],
    count: number,
  ): void {
    const allBytes = this.#bytes;
    const views = this.#views;
    const starts = this.#starts;
    const ends = this.#ends;
    let at = 0;
    for (let i = 0; i < count; ) {
      const line = lines[i++] as number;
      const bytes = allBytes[line] as Uint8Array;
      let end = ends[line] as number;
      // Extend the range over the next lines while they follow on in the same bytes.
      while (i < count) {
        const next = lines[i] as number;
        if (starts[next] !== end || allBytes[next] !== bytes) break;
        end = ends[next] as number;
        i++;
      }
      const start = starts[line] as number;
      if (end - start <= LOOP_COPY_BYTES) {
        const view = views[line] as DataView;
        let from = start;
        for (; from + 4 <= end; from += 4, at += 4) {
          outView.setUint32(base + at, view.getUint32(from, true), true);
        }
        for (; from < end; from++) output[at++] = bytes[from] as number;
      } else {
        output.set(bytes.subarray(start, end), at);
        at += end - start;
      }
    }
  }
}

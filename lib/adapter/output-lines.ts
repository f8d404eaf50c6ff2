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
 * - `assemble()` copies a client's lines, in its order, into one buffer of exactly their
 *   length: one `write()` per client per flush. Lines that follow each other in the same
 *   bytes are copied as one range; short ranges byte by byte, long ones natively.
 */
import { Buffer } from 'node:buffer';

/**
 * Ranges shorter than this are copied byte by byte: a line is tens of bytes, and a loop
 * costs less than a native copy's call (and the view it needs) below that.
 */
const SHORT_RANGE_BYTES = 64;

export class OutputLines {
  readonly #bytes: Uint8Array[] = [];
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];

  /** Registers the line `bytes[start, end)`; returns its index until the next `clear()`. */
  add(bytes: Uint8Array, start: number, end: number): number {
    this.#bytes.push(bytes);
    this.#starts.push(start);
    return this.#ends.push(end) - 1;
  }

  /** Forgets every line (their indices are reused from 0). */
  clear(): void {
    this.#bytes.length = 0;
    this.#starts.length = 0;
    this.#ends.length = 0;
  }

  /** The lines at `lines`, `length` bytes in all, in one buffer. */
  assemble(lines: readonly number[], length: number): Buffer {
    const output = Buffer.allocUnsafe(length);
    const allBytes = this.#bytes;
    const starts = this.#starts;
    const ends = this.#ends;
    let at = 0;
    for (let i = 0; i < lines.length; ) {
      const line = lines[i++] as number;
      const bytes = allBytes[line] as Uint8Array;
      let start = starts[line] as number;
      let end = ends[line] as number;
      // Extend the range over the next lines while they follow on in the same bytes.
      while (i < lines.length) {
        const next = lines[i] as number;
        if (starts[next] !== end || allBytes[next] !== bytes) break;
        end = ends[next] as number;
        i++;
      }
      if (end - start < SHORT_RANGE_BYTES) {
        while (start < end) output[at++] = bytes[start++] as number;
      } else {
        output.set(bytes.subarray(start, end), at);
        at += end - start;
      }
    }
    return output;
  }
}

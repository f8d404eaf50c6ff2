/**
 * Line framing over arbitrary chunk boundaries (docs/protocol.md §2), for both ports.
 *
 * Invariants:
 * - Input is bytes, and lines are handed on as ranges of the chunk they were read in (no
 *   decode, no copy); a line that spans chunks is copied once, into a buffer of its own.
 *   While its LF has not arrived, its start is held as views of its chunks: the line's
 *   bytes and at most the head of the first of those chunks.
 * - A line ends with LF; a CR right before it is part of the terminator. Each line is
 *   handed on *with* its terminator, exactly as read. Empty lines (`\n`, `\r\n`) are
 *   skipped.
 * - A line longer than `maxLineLength` (terminator included) is reported once and dropped
 *   up to its next LF. The framer never holds more than `maxLineLength - 1` bytes of
 *   an incomplete line, whatever the peer sends.
 * - Line numbers are 1-based and count every LF-terminated line, empty and over-long ones
 *   included, so they match what an editor shows for the same bytes.
 * - `hold()` stops the framer after the line being handed on: the rest of the chunk waits,
 *   unread, until `unhold()` (backpressure inside a chunk: a 64 KiB chunk of broadcasts
 *   can owe thousands of clients 64 KiB each). What waits is at most one chunk, unless the
 *   owner reads on while it holds (a client connection, which bounds it itself).
 */

import { Buffer } from 'node:buffer';
import { MAX_QUOTED_LINE_LENGTH } from '../core/constants.js';

const LF = 10;
const CR = 13;
/** Bytes of an over-long line handed to the sink: one more than a report quotes, so
 * `quoteLine()` still marks the quote as cut. */
const TOO_LONG_HEAD_LENGTH = MAX_QUOTED_LINE_LENGTH + 1;
const EMPTY = Buffer.alloc(0);

/** Receives what a `LineFramer` finds. Implemented by the connections, called once per line. */
export interface LineSink {
  /**
   * A complete, non-empty line with its terminator: `bytes[start, end)`. `bytes` is the
   * chunk being framed (or, for a line that spans chunks, a copy of just that line): valid
   * until the sink returns and the chunk is done with, so keep a copy of what must live on.
   */
  onLine(bytes: Uint8Array, start: number, end: number, lineNumber: number): void;
  /** A line passed `maxLineLength`; `head` is its first characters (at most
   * `MAX_QUOTED_LINE_LENGTH + 1`), for the report. */
  onLineTooLong(lineNumber: number, head: string): void;
}

export class LineFramer {
  readonly #maxLineLength: number;
  readonly #sink: LineSink;
  /**
   * The start of the current line while its LF has not arrived yet: the tails of the chunks
   * it came in, as views, copied once into the line when it completes (a list, not a buffer
   * grown at each chunk, so a line dribbled in costs linear time).
   */
  #pieces: Buffer[] = [];
  /** Bytes in `#pieces`. */
  #partialLength = 0;
  /** The current line is over-long: drop everything up to its LF. */
  #discarding = false;
  /** Completed lines so far; the line being read is `#lineCount + 1`. */
  #lineCount = 0;
  /** Set by `hold()`: hand on no more lines until `unhold()`. */
  #holding = false;
  /** Input not framed yet because of `hold()`; it starts at the beginning of a line. */
  #held: Buffer = EMPTY;

  constructor(maxLineLength: number, sink: LineSink) {
    this.#maxLineLength = maxLineLength;
    this.#sink = sink;
  }

  /** Lines completed so far (the number of the last LF read). */
  get lineCount(): number {
    return this.#lineCount;
  }

  /** Bytes held of a line whose LF has not arrived (never more than `maxLineLength - 1`). */
  get bufferedLength(): number {
    return this.#partialLength;
  }

  /** Whether `hold()` is in force. */
  get holding(): boolean {
    return this.#holding;
  }

  /** Whether input waits, unframed, for `unhold()`. */
  get holdsInput(): boolean {
    return this.#held.length > 0;
  }

  /** Bytes read but not handed on: input held by `hold()` and an incomplete line. */
  get unframedLength(): number {
    return this.#held.length + this.#partialLength;
  }

  /** Hands on no more lines (after the current one) until `unhold()`. */
  hold(): void {
    this.#holding = true;
  }

  /**
   * Copies the input held by `hold()` out of the chunk it was cut from: a view keeps its
   * whole chunk alive (a client connection holds a few bytes for long, the chunk may be 64 KiB).
   */
  copyHeld(): void {
    this.#held = Buffer.from(this.#held);
  }

  /** Frames what waited since `hold()`; it may call `hold()` again and stop once more. */
  unhold(): void {
    this.#holding = false;
    const held = this.#held;
    this.#held = EMPTY;
    if (held.length > 0) this.push(held);
  }

  /** Frames one chunk; calls the sink for each line it completes. */
  push(chunk: Buffer): void {
    if (this.#holding) {
      this.#held = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
      return;
    }
    const length = chunk.length;
    const max = this.#maxLineLength;
    // Lines go on as ranges of a plain Uint8Array over the chunk, as every other line's bytes
    // are: what reads them then sees one kind of array (measured: the copy into each
    // client's output is the fan-out's costliest loop).
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, length);
    let start = 0;

    if (this.#partialLength > 0 || this.#discarding) {
      const lf = chunk.indexOf(LF);
      if (lf === -1) {
        this.#extendPartial(chunk, 0);
        return;
      }
      start = lf + 1;
      this.#lineCount++;
      if (this.#discarding) {
        this.#discarding = false;
      } else {
        const pieces = this.#pieces;
        const partialLength = this.#partialLength;
        this.#pieces = [];
        this.#partialLength = 0;
        if (partialLength + start > max) {
          const head = Buffer.concat([...pieces, chunk.subarray(0, TOO_LONG_HEAD_LENGTH)]);
          this.#sink.onLineTooLong(this.#lineCount, latin1Head(head, 0, head.length));
        } else if (!isEmptyLine(pieces, partialLength, chunk, start)) {
          // The one copy of a line that spans chunks: just its bytes, so no chunk is pinned.
          const line = new Uint8Array(partialLength + start);
          let at = 0;
          for (const piece of pieces) {
            line.set(piece, at);
            at += piece.length;
          }
          line.set(bytes.subarray(0, start), at);
          this.#sink.onLine(line, 0, line.length, this.#lineCount);
        }
      }
    }

    for (let lf = chunk.indexOf(LF, start); lf !== -1; lf = chunk.indexOf(LF, start)) {
      if (this.#holding) {
        this.#held = chunk.subarray(start);
        return;
      }
      const end = lf + 1;
      this.#lineCount++;
      const lineLength = end - start;
      if (lineLength > max) {
        this.#sink.onLineTooLong(this.#lineCount, latin1Head(chunk, start, end));
      } else if (lineLength > 2 || (lineLength === 2 && chunk[start] !== CR)) {
        this.#sink.onLine(bytes, start, end, this.#lineCount);
      }
      start = end;
    }

    if (start === length) return;
    if (this.#holding) this.#held = chunk.subarray(start);
    else this.#extendPartial(chunk, start);
  }

  /**
   * What is left of an unterminated line when the input ends (`''` if nothing, or if it
   * was over-long), as text for a report. The framer is empty afterwards; input still held
   * by `hold()` is dropped (the owner frames it first, see `EventSourceConnection`; only a
   * close drops it).
   */
  takeRemainder(): string {
    const rest = this.#discarding ? [] : this.#pieces;
    this.#pieces = [];
    this.#partialLength = 0;
    this.#discarding = false;
    this.#held = EMPTY;
    return Buffer.concat(rest).toString('latin1');
  }

  // Adds `chunk[from, …)`, which holds no LF, to the current line; reports and drops the
  // line once it cannot fit.
  #extendPartial(chunk: Buffer, from: number): void {
    if (this.#discarding) return;
    const added = chunk.length - from;
    // Even an LF right after it would make the line longer than the maximum.
    if (this.#partialLength + added >= this.#maxLineLength) {
      const head = Buffer.concat([
        ...this.#pieces,
        chunk.subarray(from, from + TOO_LONG_HEAD_LENGTH),
      ]);
      this.#pieces = [];
      this.#partialLength = 0;
      this.#discarding = true;
      this.#sink.onLineTooLong(this.#lineCount + 1, latin1Head(head, 0, head.length));
      return;
    }
    this.#pieces.push(from === 0 ? chunk : chunk.subarray(from));
    this.#partialLength += added;
  }
}

// The first bytes of `bytes[start, end)` as text, for a report of an over-long line.
function latin1Head(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('latin1', start, Math.min(end, start + TOO_LONG_HEAD_LENGTH));
}

// A line split across chunks is empty when all it has before its LF is at most one CR.
function isEmptyLine(pieces: Buffer[], partialLength: number, chunk: Buffer, end: number): boolean {
  const total = partialLength + end;
  if (total === 1) return true;
  if (total !== 2) return false;
  const first = partialLength > 0 ? (pieces[0] as Buffer)[0] : chunk[0];
  return first === CR;
}

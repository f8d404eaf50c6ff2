/**
 * Line framing over arbitrary chunk boundaries (docs/protocol.md §2), for both ports.
 *
 * Invariants:
 * - Input is latin1-decoded text: one code unit per byte, so a line can be written back
 *   with `'latin1'` and reach the peer byte-for-byte.
 * - A line ends with LF; a CR right before it is part of the terminator. Each line is
 *   handed on *with* its terminator, exactly as read. Empty lines (`\n`, `\r\n`) are
 *   skipped.
 * - A line longer than `maxLineLength` (terminator included) is reported once and dropped
 *   up to its next LF. The framer never holds more than `maxLineLength - 1` characters of
 *   an incomplete line, whatever the peer sends.
 * - Line numbers are 1-based and count every LF-terminated line, empty and over-long ones
 *   included, so they match what an editor shows for the same bytes.
 * - `hold()` stops the framer after the line being handed on: the rest of the chunk waits,
 *   unread, until `unhold()` (backpressure inside a chunk: a 64 KiB chunk of broadcasts
 *   can owe thousands of clients 64 KiB each). What waits is at most one chunk, unless the
 *   owner reads on while it holds (a client connection, which bounds it itself).
 */

import { MAX_QUOTED_LINE_LENGTH } from '../core/constants.js';

const CR = 13;
/** Characters of an over-long line handed to the sink: one more than a report quotes, so
 * `quoteLine()` still marks the quote as cut. */
const TOO_LONG_HEAD_LENGTH = MAX_QUOTED_LINE_LENGTH + 1;

/** Receives what a `LineFramer` finds. Implemented by the connections, called once per line. */
export interface LineSink {
  /** A complete, non-empty line with its terminator. */
  onLine(line: string, lineNumber: number): void;
  /** A line passed `maxLineLength`; `head` is its first characters (at most
   * `MAX_QUOTED_LINE_LENGTH + 1`), for the report. */
  onLineTooLong(lineNumber: number, head: string): void;
}

export class LineFramer {
  readonly #maxLineLength: number;
  readonly #sink: LineSink;
  /** The start of the current line while its LF has not arrived yet. */
  #partial = '';
  /** The current line is over-long: drop everything up to its LF. */
  #discarding = false;
  /** Completed lines so far; the line being read is `#lineCount + 1`. */
  #lineCount = 0;
  /** Set by `hold()`: hand on no more lines until `unhold()`. */
  #holding = false;
  /** Input not framed yet because of `hold()`; it starts at the beginning of a line. */
  #held = '';

  constructor(maxLineLength: number, sink: LineSink) {
    this.#maxLineLength = maxLineLength;
    this.#sink = sink;
  }

  /** Lines completed so far (the number of the last LF read). */
  get lineCount(): number {
    return this.#lineCount;
  }

  /** Characters held of a line whose LF has not arrived (never more than `maxLineLength - 1`). */
  get bufferedLength(): number {
    return this.#partial.length;
  }

  /** Whether `hold()` is in force. */
  get holding(): boolean {
    return this.#holding;
  }

  /** Whether input waits, unframed, for `unhold()`. */
  get holdsInput(): boolean {
    return this.#held.length > 0;
  }

  /** Characters read but not handed on: input held by `hold()` and an incomplete line. */
  get unframedLength(): number {
    return this.#held.length + this.#partial.length;
  }

  /** Hands on no more lines (after the current one) until `unhold()`. */
  hold(): void {
    this.#holding = true;
  }

  /**
   * Copies the input held by `hold()` out of the chunk it was cut from: a slice keeps its
   * whole chunk alive (a client connection holds a few bytes for long, the chunk may be 64 KiB).
   */
  copyHeld(): void {
    this.#held = Buffer.from(this.#held, 'latin1').toString('latin1');
  }

  /** Frames what waited since `hold()`; it may call `hold()` again and stop once more. */
  unhold(): void {
    this.#holding = false;
    const held = this.#held;
    this.#held = '';
    if (held.length > 0) this.push(held);
  }

  /** Frames one chunk; calls the sink for each line it completes. */
  push(chunk: string): void {
    if (this.#holding) {
      this.#held += chunk;
      return;
    }
    const length = chunk.length;
    const max = this.#maxLineLength;
    let start = 0;

    if (this.#partial.length > 0 || this.#discarding) {
      const lf = chunk.indexOf('\n');
      if (lf === -1) {
        this.#extendPartial(chunk);
        return;
      }
      start = lf + 1;
      this.#lineCount++;
      if (this.#discarding) {
        this.#discarding = false;
      } else {
        const partial = this.#partial;
        this.#partial = '';
        if (partial.length + start > max) {
          const head = partial + chunk.slice(0, Math.min(start, TOO_LONG_HEAD_LENGTH));
          this.#sink.onLineTooLong(this.#lineCount, head.slice(0, TOO_LONG_HEAD_LENGTH));
        } else if (!isEmptyLine(partial, chunk, start)) {
          this.#sink.onLine(partial + chunk.slice(0, start), this.#lineCount);
        }
      }
    }

    for (let lf = chunk.indexOf('\n', start); lf !== -1; lf = chunk.indexOf('\n', start)) {
      if (this.#holding) {
        this.#held = chunk.slice(start);
        return;
      }
      const end = lf + 1;
      this.#lineCount++;
      const lineLength = end - start;
      if (lineLength > max) {
        this.#sink.onLineTooLong(this.#lineCount, chunk.slice(start, start + TOO_LONG_HEAD_LENGTH));
      } else if (lineLength > 2 || (lineLength === 2 && chunk.charCodeAt(start) !== CR)) {
        this.#sink.onLine(chunk.slice(start, end), this.#lineCount);
      }
      start = end;
    }

    if (start === length) return;
    if (this.#holding) this.#held = chunk.slice(start);
    else this.#extendPartial(start === 0 ? chunk : chunk.slice(start));
  }

  /**
   * What is left of an unterminated line when the input ends (`''` if nothing, or if it
   * was over-long). The framer is empty afterwards; input still held by `hold()` is dropped
   * (the owner frames it first, see `EventSourceConnection`; only a close drops it).
   */
  takeRemainder(): string {
    const rest = this.#discarding ? '' : this.#partial;
    this.#partial = '';
    this.#discarding = false;
    this.#held = '';
    return rest;
  }

  // Adds text without an LF to the current line; reports and drops it once it cannot fit.
  #extendPartial(text: string): void {
    if (this.#discarding) return;
    // Even an LF right after it would make the line longer than the maximum.
    if (this.#partial.length + text.length >= this.#maxLineLength) {
      const head = (this.#partial + text.slice(0, TOO_LONG_HEAD_LENGTH)).slice(
        0,
        TOO_LONG_HEAD_LENGTH,
      );
      this.#partial = '';
      this.#discarding = true;
      this.#sink.onLineTooLong(this.#lineCount + 1, head);
      return;
    }
    this.#partial += text;
  }
}

// A line split across chunks is empty when all it has before its LF is at most one CR.
function isEmptyLine(partial: string, chunk: string, end: number): boolean {
  const total = partial.length + end;
  if (total === 1) return true;
  if (total !== 2) return false;
  const first = partial.length > 0 ? partial.charCodeAt(0) : chunk.charCodeAt(0);
  return first === CR;
}

/**
 * A line writer for the CLI's stdout and stderr that never throws and never buffers without
 * bound (docs/protocol.md §8: a failing stdout or stderr never stops the server).
 *
 * Invariants:
 * - After the stream reports an error (EPIPE when the reader went away, EIO when the
 *   terminal closed, …) or is destroyed, nothing more is written to it, silently.
 * - On a pipe Node writes asynchronously (measured on Linux, Node 20: a stalled stderr pipe
 *   held 4.8 MB after 50,000 lines), so a reader that stalls makes the stream buffer grow.
 *   Once more than `maxBuffered` bytes wait, lines are dropped and counted; when the stream
 *   drains, one line says how many were dropped. Memory held for output therefore stays
 *   under `maxBuffered` plus one line and the note.
 * - On files and terminals Node writes synchronously: nothing waits, nothing is dropped.
 */
import type { Writable } from 'node:stream';

/** Bytes a stream may hold unwritten before further lines are dropped: 1 MiB. */
export const MAX_BUFFERED_OUTPUT_BYTES = 1024 * 1024;

/** Writes whole lines to one stream; see the module header for what it guarantees. */
export class LineWriter {
  readonly #stream: Writable;
  readonly #name: string;
  readonly #maxBuffered: number;
  #failed = false;
  #dropped = 0;
  // Dropped because the stream was full, not said yet: the next 'drain' says it.
  #unreported = 0;
  #waitingForDrain = false;

  /**
   * @param stream where the lines go (`process.stdout`, `process.stderr`, a socket…)
   * @param name how the drop note names the stream, e.g. `stderr`
   * @param maxBuffered bytes the stream may hold unwritten before lines are dropped (at least
   *   the stream's high-water mark, so that a 'drain' always follows a drop)
   */
  constructor(stream: Writable, name: string, maxBuffered: number = MAX_BUFFERED_OUTPUT_BYTES) {
    this.#stream = stream;
    this.#name = name;
    this.#maxBuffered = Math.max(maxBuffered, stream.writableHighWaterMark);
    // Stays attached: a stream may report several errors, and an 'error' event without a
    // listener would be an uncaught exception (the EPIPE crash of `… | head -1`).
    stream.on('error', () => {
      this.#failed = true;
    });
  }

  /** Lines dropped so far because the stream was not keeping up (or had failed). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether the stream failed: nothing is written to it any more. */
  get failed(): boolean {
    return this.#failed || this.#stream.destroyed;
  }

  /**
   * Writes `line` and a newline, or drops it when the stream holds too much already or has
   * failed. Returns whether the line was written (handed to the stream).
   */
  write(line: string): boolean {
    if (this.failed) {
      this.#dropped++;
      return false;
    }
    if (this.#stream.writableLength > this.#maxBuffered) {
      this.#dropped++;
      this.#unreported++;
      this.#noteDropsOnDrain();
      return false;
    }
    return this.#put(`${line}\n`);
  }

  #noteDropsOnDrain(): void {
    if (this.#waitingForDrain) return;
    this.#waitingForDrain = true;
    this.#stream.once('drain', () => {
      this.#waitingForDrain = false;
      const dropped = this.#unreported;
      this.#unreported = 0;
      if (this.failed) return;
      this.#put(
        `follower-maze: ${dropped} log line${dropped === 1 ? '' : 's'} dropped` +
          ` (${this.#name} was not keeping up)\n`,
      );
    });
  }

  #put(text: string): boolean {
    try {
      this.#stream.write(text);
      return true;
    } catch {
      // A stream may throw synchronously (e.g. a closed fd on some platforms): never rethrow.
      this.#failed = true;
      this.#dropped++;
      return false;
    }
  }
}

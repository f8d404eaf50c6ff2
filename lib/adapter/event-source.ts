/**
 * The event source on any readable stream (docs/protocol.md §2, 7): frames its bytes into lines and
 * hands each one to the maze, one input chunk at a time.
 *
 * Invariants:
 * - Per input chunk: every complete line goes to `applyEventLine()` in order, then
 *   `flushOutput()` runs once. `pause()` takes effect at once, even inside a chunk: the
 *   framer holds the rest of the chunk, and `resume()` frames it before reading on. An end
 *   of input read while lines are held waits for them: the source is released only once
 *   they are applied (a close, error or shutdown drops them, as it would unread input).
 * - The source is *released* (`eventSourceEnded`) exactly once, as soon as its end or an
 *   error is read, so a reconnecting source is accepted right away; `released` settles then.
 * - A final fragment without LF is reported and discarded, never applied: `12|F|60|5` may be
 *   the cut-off start of `12|F|60|50`, and applying it would deliver a wrong event and make
 *   the real line, resent by the next source, stale.
 * - Lines over `maxLineLength` are reported and never held in memory.
 * - Idle time (`idleFor()`) counts only while the source is being read: it restarts at each
 *   input chunk that held a well-formed event (empty and invalid lines are no sign of a
 *   live source: an idle holder could keep the slot with them) and at each `resume()`, and
 *   is 0 while paused, because a source paused by backpressure is silent through the
 *   server's doing, not its own. Per chunk, one read of the host's count of well-formed
 *   lines, and one clock read only if it moved.
 */
import { Buffer } from 'node:buffer';
import type { Readable } from 'node:stream';
import { quoteLine } from '../core/parser.js';
import { ErrorCode, type Problem } from '../errors.js';
import { closeStream } from './close-stream.js';
import { LineFramer, type LineSink } from './line-framer.js';

/** What the event source tells the maze. */
export interface EventSourceHost {
  /**
   * One framed line, with its terminator: `bytes[start, end)`, valid until the chunk is
   * flushed (`flushOutput()`).
   */
  applyEventLine(
    bytes: Uint8Array,
    start: number,
    end: number,
    lineNumber: number,
    source: EventSourceConnection,
  ): void;
  /** Lines applied so far that parsed as events; never decreases. */
  wellFormedLines(): number;
  /** End of one input chunk: write what the chunk's lines produced. */
  flushOutput(): void;
  /** The source ended, failed or was closed; called once. */
  eventSourceEnded(source: EventSourceConnection): void;
  report(problem: Problem): void;
}

export class EventSourceConnection implements LineSink {
  /** `event-source#N`, for reports and logs. */
  readonly name: string;
  readonly stream: Readable;
  readonly #host: EventSourceHost;
  readonly #framer: LineFramer;
  readonly #maxLineLength: number;
  readonly #shutdownTimeout: number;
  #released = false;
  readonly #releasedPromise: Promise<void>;
  #resolveReleased!: () => void;
  #paused = false;
  /** The end of input was read while lines were held: finish once they are framed. */
  #endPending = false;
  /**
   * `performance.now()` at the last input chunk that held a well-formed event, or at the
   * connection or the last resume if later.
   */
  #activeSince = performance.now();
  /** The host's `wellFormedLines()` when `#activeSince` was last set. */
  #wellFormedSeen: number;

  constructor(
    name: string,
    stream: Readable,
    host: EventSourceHost,
    options: { readonly maxLineLength: number; readonly shutdownTimeout: number },
  ) {
    this.name = name;
    this.stream = stream;
    this.#host = host;
    this.#maxLineLength = options.maxLineLength;
    this.#shutdownTimeout = options.shutdownTimeout;
    this.#framer = new LineFramer(options.maxLineLength, this);
    this.#wellFormedSeen = host.wellFormedLines();
    this.#releasedPromise = new Promise((resolve) => {
      this.#resolveReleased = resolve;
    });
  }

  /** Whether the source has ended, failed or been closed. */
  get released(): boolean {
    return this.#released;
  }

  /** Settles once the source has ended, failed or been closed (its held lines applied first). */
  whenReleased(): Promise<void> {
    return this.#releasedPromise;
  }

  /** Bytes read from the stream and not applied yet: held by backpressure, or an unfinished line. */
  unappliedBytes(): number {
    return this.#framer.unframedLength + this.stream.readableLength;
  }

  /** Lines read so far. */
  get lineCount(): number {
    return this.#framer.lineCount;
  }

  /**
   * Milliseconds since the source last sent a well-formed event while it was being read; 0
   * while it is paused by backpressure.
   */
  idleFor(now: number = performance.now()): number {
    return this.#paused ? 0 : now - this.#activeSince;
  }

  /** Starts reading; `paused` keeps it paused until `resume()` (backpressure in force). */
  start(paused: boolean): void {
    const stream = this.stream;
    stream.on('data', (chunk: Buffer | string) => this.#onData(chunk));
    stream.on('end', () => this.#onEnd());
    stream.on('error', (error: Error) => this.#onError(error));
    // After an end, a socket closes too; held lines still go first.
    stream.on('close', () => {
      if (!this.#endPending) this.#release();
    });
    if (paused) this.pause();
  }

  pause(): void {
    if (this.#released) return;
    this.#paused = true;
    this.#framer.hold();
    this.stream.pause();
  }

  resume(): void {
    if (this.#released) return;
    this.#paused = false;
    this.#activeSince = performance.now();
    // What was held goes first; it may pause the source again before the stream is read.
    if (this.#framer.holding) {
      this.#framer.unhold();
      this.#wellFormedSeen = this.#host.wellFormedLines();
      this.#host.flushOutput();
      if (this.#paused || this.#released) return;
    }
    if (this.#endPending) {
      this.#finish();
      return;
    }
    this.stream.resume();
  }

  /** Stops applying lines and closes the stream in two steps. */
  close(): Promise<void> {
    this.#release();
    return closeStream(this.stream, this.#shutdownTimeout);
  }

  /**
   * Treats the input as ended here (an idle source giving way): an unterminated fragment is
   * reported and discarded as at a real end, the source is released, the stream closed in
   * two steps.
   */
  endNow(): Promise<void> {
    if (!this.#released) this.#discardFragment();
    return this.close();
  }

  onLine(bytes: Uint8Array, start: number, end: number, lineNumber: number): void {
    this.#host.applyEventLine(bytes, start, end, lineNumber, this);
  }

  onLineTooLong(lineNumber: number, head: string): void {
    this.#host.report({
      code: ErrorCode.LineTooLong,
      message: `event line is longer than ${this.#maxLineLength} bytes; discarded`,
      context: { connection: this.name, lineNumber, line: quoteLine(head) },
    });
  }

  #onData(chunk: Buffer | string): void {
    if (this.#released) return;
    this.#framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    const wellFormed = this.#host.wellFormedLines();
    if (wellFormed !== this.#wellFormedSeen) {
      this.#wellFormedSeen = wellFormed;
      this.#activeSince = performance.now();
    }
    this.#host.flushOutput();
  }

  #onEnd(): void {
    if (this.#released) return;
    if (this.#framer.holdsInput) {
      this.#endPending = true;
      return;
    }
    this.#finish();
  }

  #finish(): void {
    this.#endPending = false;
    this.#discardFragment();
    this.#release();
    // We never write to the source; end our side too so a socket closes completely.
    void closeStream(this.stream, this.#shutdownTimeout);
  }

  #discardFragment(): void {
    const remainder = this.#framer.takeRemainder();
    // A lone CR at the very end is half of a terminator, not a line.
    if (remainder.length > 0 && remainder !== '\r') {
      this.#host.report({
        code: ErrorCode.LineUnterminated,
        message: 'event source ended in the middle of a line; the fragment is discarded',
        context: {
          connection: this.name,
          lineNumber: this.#framer.lineCount + 1,
          line: quoteLine(remainder),
        },
      });
    }
  }

  #onError(error: Error): void {
    if (!this.#released) {
      const code = (error as NodeJS.ErrnoException).code;
      this.#host.report({
        code: ErrorCode.StreamError,
        message: `event source stream failed: ${error.message}${code === undefined ? '' : ` (${code})`}`,
        context: { connection: this.name, lineNumber: this.#framer.lineCount },
      });
    }
    this.#release();
    this.stream.destroy();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#resolveReleased();
    this.#host.eventSourceEnded(this);
  }
}

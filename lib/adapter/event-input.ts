/**
 * The input side of a maze (docs/protocol.md §2, §7): the one event source slot, with its
 * framing and lifecycle. It hands each line to its host and knows nothing of clients, so a
 * front end that only sequences events (the cluster's ingest) uses it as `Maze` does.
 *
 * Invariants:
 * - At most one source holds the slot. A newcomer is reported (`ERR_EVENT_SOURCE_BUSY`) and
 *   closed before any of its lines is read, unless the holder has sent no well-formed event
 *   (empty and invalid lines do not count) for longer than `sourceIdleTimeout` while being
 *   read: then the holder is reported
 *   (`ERR_EVENT_SOURCE_IDLE`) and closed, and the newcomer takes over (a dead or hung holder
 *   must not keep the only slot forever).
 * - `pause()` holds the input until `resume()`: the current source at once (inside its
 *   chunk), and a source that attaches meanwhile starts paused.
 * - The host hears `sourceAttached` and `sourceEnded` once per accepted source, in pairs.
 * - Shutdown is two steps: `drain()` reads the source on (backpressure still holding it)
 *   until it ends or the time is up, then `close()` stops reading and closes it. What was
 *   left unread is counted (`undrainedProblem()`), never dropped in silence.
 */
import type { Readable } from 'node:stream';
import createDebug from 'debug';
import { ErrorCode, type Problem } from '../errors.js';
import { closeStream } from './close-stream.js';
import { EventSourceConnection, type EventSourceHost } from './event-source.js';
import { remoteAddressOf } from './remote-address.js';

const log = createDebug('follower-maze:event-source');

export interface EventInputOptions {
  readonly maxLineLength: number;
  readonly shutdownTimeout: number;
  readonly sourceIdleTimeout: number;
}

/** What the input side tells its owner. */
export interface EventInputHost {
  /**
   * One framed line, with its terminator, from `connection` (`event-source#N`):
   * `bytes[start, end)`, valid until the chunk is flushed (`flushOutput()`).
   */
  applyEventLine(
    bytes: Uint8Array,
    start: number,
    end: number,
    lineNumber: number,
    connection: string,
  ): void;
  /**
   * Lines applied so far that parsed as events (any source, never decreasing): read once
   * per input chunk, it tells a source's events from empty or invalid lines.
   */
  wellFormedLines(): number;
  /** End of one input chunk: write what its lines produced. */
  flushOutput(): void;
  sourceAttached(connection: string, remoteAddress: string | null): void;
  sourceEnded(connection: string, lineCount: number): void;
  report(problem: Problem): void;
}

/** What a `drain()` that ran out of time left behind. */
export interface UndrainedSource {
  /** `event-source#N`. */
  readonly connection: string;
  /** Lines read so far. */
  readonly lineCount: number;
  /** Bytes read from the stream but not applied (what the peer still holds is unknown). */
  readonly unappliedBytes: number;
  /** The drain's bound, in milliseconds. */
  readonly waitedMs: number;
}

/**
 * `ERR_SHUTDOWN_UNDRAINED` for what a shutdown drops, or `undefined` if it drops nothing: a
 * source still open when `drain()` ran out of time (with the bytes read but not applied), and
 * events still waiting in the reorder buffer for a missing number (`pending`; the first
 * missing one is `nextSequence`).
 */
export function undrainedProblem(
  source: UndrainedSource | undefined,
  pending: number,
  nextSequence: number,
): Problem | undefined {
  if (source === undefined && pending === 0) return undefined;
  const parts: string[] = [];
  if (source !== undefined) {
    parts.push(
      `the event source was still open after ${source.waitedMs} ms (what it had not sent yet is lost), ${source.unappliedBytes} byte(s) read but not applied`,
    );
  }
  if (pending > 0) {
    parts.push(`${pending} event(s) still waiting for sequence number ${nextSequence}`);
  }
  return {
    code: ErrorCode.ShutdownUndrained,
    message: `shut down with input not drained: ${parts.join('; ')}; dropped`,
    context: {
      ...(source === undefined
        ? {}
        : { connection: source.connection, lineNumber: source.lineCount }),
      ...(pending > 0 ? { sequence: nextSequence } : {}),
    },
  };
}

/** Counters of the input side. */
export interface EventInputStats {
  /** Whether an event source is attached right now. */
  readonly eventSourceConnected: boolean;
  /** Event sources accepted so far. */
  readonly eventSourcesAccepted: number;
  /** Event sources refused because one was already active. */
  readonly eventSourcesRefused: number;
  /** Idle event sources replaced by a newcomer (`ERR_EVENT_SOURCE_IDLE`). */
  readonly eventSourceTakeovers: number;
  /** Event lines over the maximum length. */
  readonly linesTooLong: number;
}

export class EventInput {
  readonly #options: EventInputOptions;
  readonly #host: EventInputHost;
  readonly #sourceHost: EventSourceHost;
  #source: EventSourceConnection | undefined;
  #nextNumber = 1;
  #held = false;
  #closing = false;
  #accepted = 0;
  #refused = 0;
  #takeovers = 0;
  #linesTooLong = 0;

  constructor(options: EventInputOptions, host: EventInputHost) {
    this.#options = options;
    this.#host = host;
    this.#sourceHost = {
      applyEventLine: (bytes, start, end, lineNumber, source) =>
        host.applyEventLine(bytes, start, end, lineNumber, source.name),
      wellFormedLines: () => host.wellFormedLines(),
      flushOutput: () => host.flushOutput(),
      eventSourceEnded: (source) => this.#sourceEnded(source),
      report: (problem) => this.#report(problem),
    };
  }

  /**
   * Attaches an event source, or refuses it (see the header). Returns its connection name,
   * `event-source#N`, either way.
   */
  attach(stream: Readable): string {
    const name = `event-source#${this.#nextNumber++}`;
    if (this.#source !== undefined) this.#takeOverIfIdle(this.#source, name);
    if (this.#source !== undefined) {
      this.#refused++;
      this.#report({
        code: ErrorCode.EventSourceBusy,
        message: `an event source is already connected (${this.#source.name}); closed`,
        context: { connection: name },
      });
      stream.on('error', (error) => log('%s (refused): %s', name, error.message));
      // Never read: closeStream() discards its input while ending and destroying it.
      void closeStream(stream, this.#options.shutdownTimeout);
      return name;
    }
    const source = new EventSourceConnection(name, stream, this.#sourceHost, this.#options);
    this.#source = source;
    this.#accepted++;
    log('%s attached', name);
    this.#host.sourceAttached(name, remoteAddressOf(stream));
    source.start(this.#held);
    return name;
  }

  /** Holds the input (backpressure) until `resume()`. */
  pause(): void {
    this.#held = true;
    log('paused');
    this.#source?.pause();
  }

  resume(): void {
    this.#held = false;
    if (this.#closing) return;
    log('resumed');
    this.#source?.resume();
  }

  stats(): EventInputStats {
    return {
      eventSourceConnected: this.#source !== undefined,
      eventSourcesAccepted: this.#accepted,
      eventSourcesRefused: this.#refused,
      eventSourceTakeovers: this.#takeovers,
      linesTooLong: this.#linesTooLong,
    };
  }

  /**
   * Reads the current source on until it ends, fails or is closed, at most `ms`; backpressure
   * still holds it meanwhile. Resolves with what is left if time ran out, else `undefined`.
   * The owner refuses new sources from now on; `close()` follows.
   */
  async drain(ms: number): Promise<UndrainedSource | undefined> {
    const source = this.#source;
    if (source === undefined || source.released) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), ms);
    });
    const outOfTime = await Promise.race([source.whenReleased().then(() => false), timedOut]);
    clearTimeout(timer);
    if (outOfTime && !source.released) {
      return {
        connection: source.name,
        lineCount: source.lineCount,
        unappliedBytes: source.unappliedBytes(),
        waitedMs: ms,
      };
    }
    return undefined;
  }

  /** Stops reading and closes the source in two steps. */
  close(): Promise<void> {
    this.#closing = true;
    return this.#source?.close() ?? Promise.resolve();
  }

  // Only a newcomer ends an idle holder: a quiet source nobody wants to replace stays.
  #takeOverIfIdle(holder: EventSourceConnection, newcomer: string): void {
    const timeout = this.#options.sourceIdleTimeout;
    const idle = holder.idleFor();
    if (timeout === 0 || idle <= timeout) return;
    this.#takeovers++;
    this.#report({
      code: ErrorCode.EventSourceIdle,
      message: `event source sent no valid event for ${Math.round(idle)} ms (idle timeout ${timeout} ms); closed, ${newcomer} takes over`,
      context: { connection: holder.name, lineNumber: holder.lineCount },
    });
    // Releases the holder at once (so the slot is free); its stream closes in the background.
    void holder.endNow();
  }

  #sourceEnded(source: EventSourceConnection): void {
    if (this.#source !== source) return;
    this.#source = undefined;
    log('%s ended after %d line(s)', source.name, source.lineCount);
    this.#host.sourceEnded(source.name, source.lineCount);
  }

  #report(problem: Problem): void {
    if (problem.code === ErrorCode.LineTooLong) this.#linesTooLong++;
    this.#host.report(problem);
  }
}

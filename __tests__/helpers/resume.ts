/**
 * A client that drops and resumes (docs/protocol.md §12), for tests over any client taker:
 * it keeps what all its connections received, and each new connection identifies with the
 * epoch its first connection (`USERID|-`) was given and the greater of the last number an
 * epoch line gave and the number of the last complete line received: so a connection that
 * received nothing resumes where its epoch line said its notifications start. Every
 * connection must open with the epoch line, the same epoch each time.
 */
import { attachMemoryClient, type ClientTaker, type MemoryClient, waitUntil } from './sockets.js';

/** `!EPOCH|<epoch>|<last>`, LF-terminated, at the start of a connection's output. */
const EPOCH_LINE = /^!EPOCH\|([^|\r\n]+)\|(\d+)\n/;

/** The sequence number of the last complete event line of `text`, or `fallback`. */
export function lastSequenceIn(text: string, fallback: number): number {
  const end = text.lastIndexOf('\n');
  if (end === -1) return fallback;
  const start = text.lastIndexOf('\n', end - 1) + 1;
  const digits = /^\d+/.exec(text.slice(start, end));
  return digits === null ? fallback : Number(digits[0]);
}

export class FlakyClient {
  /** What the connections before the current one received, up to their last complete line. */
  #before = '';
  #current: MemoryClient | undefined;
  /** The length of the current connection's epoch line, which is not a notification. */
  #epochLineLength = 0;
  #epoch: string | undefined;
  /** Known once the first epoch line arrived. */
  #lastSequence = 0;

  constructor(readonly user: number) {}

  /** The number the next connection resumes after. */
  get lastSequence(): number {
    return this.#lastSequence;
  }

  /** The epoch the first connection was given (`undefined` before it). */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** Every notification received so far, over all connections. */
  get text(): string {
    return this.#before + (this.#current?.received.text.slice(this.#epochLineLength) ?? '');
  }

  /**
   * Connects to `taker`: as `USERID|-` the first time, then resuming after the last number
   * received or given; resolves once the epoch line arrived. Throws when it is not the first
   * one's.
   */
  async connect(taker: ClientTaker): Promise<void> {
    const resume = this.#epoch === undefined ? '-' : `${this.#lastSequence}|${this.#epoch}`;
    const current = await attachMemoryClient(taker, `${this.user}|${resume}\n`);
    this.#current = current;
    this.#epochLineLength = 0;
    await waitUntil(() => current.received.text.includes('\n'), 'the epoch line');
    const line = EPOCH_LINE.exec(current.received.text);
    if (line === null) throw new Error(`no epoch line first: ${current.received.text}`);
    const epoch = line[1] as string;
    const last = Number(line[2]);
    if (this.#epoch !== undefined && epoch !== this.#epoch) {
      throw new Error(`the epoch changed from ${this.#epoch} to ${epoch}`);
    }
    // Its notifications start after `last`; numbers received before may be above it (ahead).
    this.#lastSequence = this.#epoch === undefined ? last : Math.max(this.#lastSequence, last);
    this.#epoch = epoch;
    this.#epochLineLength = line[0].length;
  }

  /** Drops the connection at once; a partial last line is dropped with it. */
  drop(): void {
    const current = this.#current;
    if (current === undefined) return;
    current.leave();
    const text = current.received.text.slice(this.#epochLineLength);
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    this.#before += complete;
    this.#lastSequence = lastSequenceIn(complete, this.#lastSequence);
    this.#current = undefined;
    this.#epochLineLength = 0;
  }
}

/**
 * A client that drops and resumes (docs/protocol.md §12), for tests over any client taker:
 * it keeps what all its connections received, and each new connection identifies with the
 * number of the last complete line received so far.
 */
import { attachMemoryClient, type ClientTaker, type MemoryClient } from './sockets.js';

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
  #lastSequence: number;

  constructor(
    readonly user: number,
    startSequence = 1,
  ) {
    this.#lastSequence = startSequence - 1;
  }

  /** The number the next connection resumes after. */
  get lastSequence(): number {
    return this.#lastSequence;
  }

  /** Everything received so far, over all connections. */
  get text(): string {
    return this.#before + (this.#current?.received.text ?? '');
  }

  /** Connects to `taker`, resuming after the last number received (or the start). */
  async connect(taker: ClientTaker): Promise<void> {
    this.#current = await attachMemoryClient(taker, `${this.user}|${this.#lastSequence}\n`);
  }

  /** Drops the connection at once; a partial last line is dropped with it. */
  drop(): void {
    const current = this.#current;
    if (current === undefined) return;
    current.leave();
    const text = current.received.text;
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    this.#before += complete;
    this.#lastSequence = lastSequenceIn(complete, this.#lastSequence);
    this.#current = undefined;
  }
}

/**
 * Where a reconnecting client drops its connection (`reconnectEvery`), and how long it stays
 * away. Pure: the socket layer asks `cut()` where in each chunk read to drop, feeds the bytes
 * before that point to the client's stream, discards the rest and closes the socket.
 *
 * Invariants:
 * - A connection drops after the lines every connection opens with (the epoch line) and a
 *   random number of complete lines received on it, reconnectEvery on average: 0 .. 2 x
 *   reconnectEvery on the first connection (some drop before their first notification and
 *   resume after the number their epoch line gave), 1 .. 2 x reconnectEvery - 1 on later ones
 *   (whose first line may be a gap line: it is never cut, so every refused resume is seen).
 *   Then a random number of bytes of the next line (0 .. MAX_PARTIAL_BYTES, never its LF):
 *   most drops cut a line in two, some fall between lines.
 * - Deterministic: the draws follow from the seed and the client's index, never from chunk
 *   boundaries or timing, so a seed drops each connection after the same lines of its stream.
 */
import { SeededRandom } from './random.js';

/** Most bytes of a line received before a drop cuts it (a notification is 4-60 bytes). */
const MAX_PARTIAL_BYTES = 24;

const LF = 10;
/** `cut()`: the connection does not drop in this chunk. */
export const NO_DROP = -1;

export class DropSchedule {
  /** Drops so far. */
  drops = 0;
  readonly #random: SeededRandom;
  readonly #meanLines: number;
  readonly #openingLines: number;
  // Complete lines still to receive, then bytes of the next line, before the drop.
  #linesLeft = 0;
  #bytesLeft = 0;

  /**
   * The schedule of client `index` of a run seeded `seed`, dropping every `meanLines` lines
   * on average after the `openingLines` each connection opens with.
   */
  constructor(seed: number, index: number, meanLines: number, openingLines = 0) {
    // A generator of its own per client, from the run's seed: the events and the other
    // clients' drops do not move when one client's do.
    // (seed + 1 draws the stalled clients' users.) Its low half from the seed, its high
    // half the index: the generator mixes both.
    const low = new SeededRandom((seed + 2) % Number.MAX_SAFE_INTEGER).nextUint32();
    this.#random = new SeededRandom(low + index * 2 ** 32);
    this.#meanLines = meanLines;
    this.#openingLines = openingLines;
    this.#draw(0);
  }

  /**
   * Where the connection drops in `chunk[0 .. end-1]`: the number of its bytes received
   * before the drop (the rest is lost), or NO_DROP when it receives the whole chunk.
   */
  cut(chunk: Uint8Array, end: number): number {
    let at = 0;
    while (this.#linesLeft > 0) {
      const lf = chunk.indexOf(LF, at);
      if (lf === -1 || lf >= end) return NO_DROP;
      this.#linesLeft--;
      at = lf + 1;
    }
    const lf = chunk.indexOf(LF, at);
    const lineEnd = lf === -1 || lf >= end ? end : lf;
    if (lineEnd === end && end - at < this.#bytesLeft) {
      this.#bytesLeft -= end - at;
      return NO_DROP;
    }
    this.drops++;
    const cut = Math.min(at + this.#bytesLeft, lineEnd);
    this.#draw(1);
    return cut;
  }

  /** How long the client stays away before it connects again, in ms: 0 .. `maxMs`. */
  pauseMs(maxMs: number): number {
    return this.#random.below(maxMs + 1);
  }

  // `fewest` .. 2 x mean - `fewest` lines after the opening ones: the mean either way.
  #draw(fewest: number): void {
    const spread = 2 * (this.#meanLines - fewest) + 1;
    this.#linesLeft = this.#openingLines + fewest + this.#random.below(spread);
    this.#bytesLeft = this.#random.below(MAX_PARTIAL_BYTES + 1);
  }
}

/**
 * Per-notification latency of a simulation: from the moment the simulator wrote an event to
 * the event source to the moment a client read the notification it caused. Both moments are
 * `performance.now()` of the process that holds the client, so the figure needs the clients
 * and the event source on one host. A worker of a spread run stamps a write when it is owed
 * the write's lines, just before the write; `encoded()` and `add()` merge the workers'.
 *
 * Invariants:
 * - Every write to the event source is a numbered batch: `batch` is the number of the write
 *   being assembled. The generator `mark()`s the sequence number it goes on from before it
 *   generates events into it (a line is owed before the bytes that cause it are written), so
 *   a batch is a range of sequence numbers and an expected line's batch follows from its
 *   number (`batchOf()`): nothing is stored per line. `wrote(now)` stamps that batch and
 *   moves on to the next.
 * - Memory is fixed: the write times live in a ring of WRITE_TIMES slots, and the latencies
 *   in an HDR histogram of fixed size (microseconds, 3 significant digits, up to an hour).
 *   A line whose batch has left the ring (more than WRITE_TIMES writes ago, which the
 *   client timeout makes all but impossible) is not recorded rather than recorded wrong.
 * - Recording is O(1) and done once per run of lines of one batch in one read, not per line.
 *   A latency under FAST_RANGE_US is counted in a plain array by the microsecond and folded
 *   into the histogram when a summary is taken: the pure-JS histogram's record costs about
 *   75 ns (26 ns for its WebAssembly build), at one call per client read (about 2 million in
 *   the bench's flat-out 1M-event run); the array costs a few ns. Values at or above it go
 *   to the histogram at once. Recording on against off: about 4% of the simulator's CPU.
 * - Only batches from `startRecording()` on count: the warm-up broadcasts a client owes when
 *   it registers were written before it was owed them, so their tags would be wrong. With a
 *   `skipMs`, only batches written at least that long after it count: a fresh server (and
 *   simulator) is still compiling its hot code then, which a long-running server is past.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

/** Writes whose time is remembered; a power of two. */
export const WRITE_TIMES = 65_536;
/** Largest latency the histogram tracks, in microseconds (an hour); more is clamped. */
const MAX_LATENCY_US = 3_600_000_000;
/** Significant decimal digits the histogram keeps: values within 0.1%. */
const LATENCY_DIGITS = 3;
/** Latencies below this many microseconds are counted in an array first (512 KiB). */
export const FAST_RANGE_US = 131_072;
const MAX_FAST_COUNT = 0xffff_ffff;

/** Latency percentiles of a run, in milliseconds. */
export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** A recorder's histogram as it travels between processes, and its count. */
export interface EncodedLatencies {
  readonly histogram: string;
  readonly count: number;
}

export class LatencyRecorder {
  /** The number of the write being assembled: lines owed now are sent in it. */
  batch = 0;
  /** Notifications recorded. */
  count = 0;

  readonly #writtenAt = new Float64Array(WRITE_TIMES);
  // The first sequence number of each of the last WRITE_TIMES batches, up to #marked.
  readonly #firstSequence = new Float64Array(WRITE_TIMES);
  #marked = -1;
  readonly #fast = new Uint32Array(FAST_RANGE_US);
  #first = Number.POSITIVE_INFINITY;
  /** Batches written before this time (ms) are not recorded. */
  #recordFrom = Number.NEGATIVE_INFINITY;
  readonly #histogram: Histogram = build({
    bitBucketSize: 32,
    useWebAssembly: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_LATENCY_US,
    numberOfSignificantValueDigits: LATENCY_DIGITS,
  });

  /**
   * Lines of this batch and later ones are recorded, except those of batches written before
   * `now + skipMs` (ms).
   */
  startRecording(now: number, skipMs: number): void {
    this.#first = this.batch;
    this.#recordFrom = now + skipMs;
  }

  /** The current batch was written at `now` (ms); later lines belong to the next one. */
  wrote(now: number): void {
    if (now < this.#recordFrom) this.#first = this.batch + 1;
    this.#writtenAt[this.batch & (WRITE_TIMES - 1)] = now;
    this.batch++;
  }

  /**
   * Events from `sequence` on go into the current batch (unless it was marked already);
   * batches written without events are empty ranges.
   */
  mark(sequence: number): void {
    const batch = this.batch;
    if (this.#marked === batch) return;
    const first = this.#firstSequence;
    for (let b = Math.max(this.#marked + 1, batch - WRITE_TIMES + 1); b <= batch; b++) {
      first[b & (WRITE_TIMES - 1)] = sequence;
    }
    this.#marked = batch;
  }

  /**
   * The batch event `sequence` went into, or -1 (never recorded) when that batch is no
   * longer remembered or was never marked.
   */
  batchOf(sequence: number): number {
    const first = this.#firstSequence;
    let low = Math.max(0, this.#marked - WRITE_TIMES + 1);
    let high = this.#marked;
    if (high < low || sequence < (first[low & (WRITE_TIMES - 1)] as number)) return -1;
    // The last batch that starts at or below `sequence` (an empty batch starts where the
    // next one does, so the one holding it is found).
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((first[middle & (WRITE_TIMES - 1)] as number) <= sequence) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The first sequence number after batch `batch` (from `batchOf()`), or Infinity. */
  endOf(batch: number): number {
    if (batch >= this.#marked) return Number.POSITIVE_INFINITY;
    // Before the batches remembered: up to the first of them.
    const next = batch < 0 ? Math.max(0, this.#marked - WRITE_TIMES + 1) : batch + 1;
    return this.#firstSequence[next & (WRITE_TIMES - 1)] as number;
  }

  /** `count` lines of batch `batch` were read at `readAt` (ms). */
  record(batch: number, readAt: number, count: number): void {
    if (batch < this.#first || this.batch - batch > WRITE_TIMES || batch >= this.batch) return;
    const micros = Math.round(
      (readAt - (this.#writtenAt[batch & (WRITE_TIMES - 1)] as number)) * 1000,
    );
    this.count += count;
    if (micros >= 0 && micros < FAST_RANGE_US) {
      const fast = this.#fast;
      const total = (fast[micros] as number) + count;
      if (total <= MAX_FAST_COUNT) {
        fast[micros] = total;
        return;
      }
      fast[micros] = 0;
      this.#histogram.recordValueWithCount(micros, total);
      return;
    }
    this.#histogram.recordValueWithCount(Math.min(MAX_LATENCY_US, Math.max(0, micros)), count);
  }

  /**
   * What was recorded so far, for another process's recorder to `add()` (a spread run's
   * workers); undefined when nothing was.
   */
  encoded(): EncodedLatencies | undefined {
    if (this.count === 0) return undefined;
    this.#foldFast();
    return { histogram: encodeIntoCompressedBase64(this.#histogram), count: this.count };
  }

  /** Adds what another recorder recorded (its `encoded()`). */
  add(latencies: EncodedLatencies): void {
    this.#histogram.add(decodeFromCompressedBase64(latencies.histogram, 32, false));
    this.count += latencies.count;
  }

  /** The percentiles so far, or undefined when nothing was recorded. */
  summary(): LatencySummary | undefined {
    if (this.count === 0) return undefined;
    const histogram = this.#histogram;
    this.#foldFast();
    const ms = (micros: number): number => micros / 1000;
    return {
      p50: ms(histogram.getValueAtPercentile(50)),
      p90: ms(histogram.getValueAtPercentile(90)),
      p99: ms(histogram.getValueAtPercentile(99)),
      p999: ms(histogram.getValueAtPercentile(99.9)),
      max: ms(histogram.maxValue),
    };
  }

  // Moves the counts of the fast array into the histogram.
  #foldFast(): void {
    const histogram = this.#histogram;
    const fast = this.#fast;
    for (let micros = 0; micros < FAST_RANGE_US; micros++) {
      const count = fast[micros] as number;
      if (count === 0) continue;
      histogram.recordValueWithCount(micros, count);
      fast[micros] = 0;
    }
  }
}

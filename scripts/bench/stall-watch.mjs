/**
 * How much the machine holds processes back: a 1 ms timer in the bench's own process, which
 * is idle while a run goes on, and the share of the time spent in gaps of more than STALL_MS
 * between its ticks. On a shared virtual machine a process that is ready to run is
 * sometimes not run for several ms, whether the host or the busy processes beside it take
 * the cores; a notification in flight then waits as long, whatever the server does, so each
 * latency point is printed with this share of its own runs. The timer costs next to nothing
 * (1,000 wake-ups a second).
 *
 * `StallMeter` is the pure accounting (a caller-given clock), `watchStalls()` runs it on a
 * timer, over a whole run (the starting of its processes included), and `stallsAtRest()` with
 * nothing else running.
 */

/** The timer's period, ms. */
const TICK_MS = 1;
/** A gap between two ticks longer than this (ms) counts as a stall, whole. */
export const STALL_MS = 2;

export class StallMeter {
  #start;
  #last;
  #stalledMs = 0;
  #longestMs = 0;

  /** @param {number} now ms */
  constructor(now) {
    this.#start = now;
    this.#last = now;
  }

  /** @param {number} now ms, the time of a tick */
  tick(now) {
    const gap = now - this.#last;
    this.#last = now;
    if (gap <= STALL_MS) return;
    this.#stalledMs += gap;
    if (gap > this.#longestMs) this.#longestMs = gap;
  }

  /** The share (0..1) of the time since the start spent in stalls, and the longest, ms. */
  summary() {
    const span = this.#last - this.#start;
    return { stalledShare: span > 0 ? this.#stalledMs / span : 0, longestStallMs: this.#longestMs };
  }
}

/**
 * The summary as one phrase of a log line.
 * @param {{ stalledShare: number, longestStallMs: number }} stalls
 */
export function describeStalls({ stalledShare, longestStallMs }) {
  return (
    `gaps over ${STALL_MS} ms between the ticks of a ${TICK_MS} ms timer` +
    ` ${(stalledShare * 100).toFixed(2)}% of the time, longest ${longestStallMs.toFixed(1)} ms`
  );
}

/**
 * The summary of `ms` of doing nothing else.
 * @param {number} ms
 */
export async function stallsAtRest(ms) {
  const watch = watchStalls();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return watch.stop();
}

/** Starts measuring; `stop()` ends it and gives the summary. */
export function watchStalls() {
  const meter = new StallMeter(performance.now());
  const timer = setInterval(() => meter.tick(performance.now()), TICK_MS);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      meter.tick(performance.now());
      return meter.summary();
    },
  };
}

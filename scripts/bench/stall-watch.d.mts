/** Types of `stall-watch.mjs`, for the TypeScript test that imports it. */
export interface StallSummary {
  /** Share (0..1) of the time the timer spent in stalls. */
  readonly stalledShare: number;
  readonly longestStallMs: number;
}
export declare const STALL_MS: number;
export declare class StallMeter {
  constructor(now: number);
  tick(now: number): void;
  summary(): StallSummary;
}

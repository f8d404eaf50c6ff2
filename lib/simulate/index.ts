/** `follower-maze simulate`: a verifier for any Follower Maze server. */
export { runSimulateCommand, type SimulateCommandIo } from './command.js';
export {
  MAX_PENDING_PER_CLIENT,
  MAX_PENDING_TOTAL,
  WARMUP_SILENCE_MS,
} from './constants.js';
export {
  SimulationErrorCode,
  type SimulationFailure,
  type SimulationFailureContext,
  type SimulationFailureKind,
} from './failures.js';
export {
  LATENCY_DIGITS,
  LatencyRecorder,
  type LatencySummary,
  MAX_LATENCY_US,
  WRITE_TIMES,
} from './latency.js';
export {
  type LineTerminator,
  parseEventMix,
  type ResolvedSimulateOptions,
  resolveSimulateOptions,
  SIMULATE_OPTIONS,
  type SimulateOptions,
} from './options.js';
export { PACE_BURST_MS, TokenBucket } from './pacer.js';
export {
  EXIT_INTERRUPTED,
  exitCodeOf,
  formatJson,
  formatProgress,
  formatSummary,
  type SimulationProgress,
  type SimulationResult,
  type SimulationSummary,
  SUCCESS_LINE,
} from './result.js';
export { runSimulation, type SimulationControl, simulate } from './simulate.js';

/** `follower-maze simulate`: a verifier for any Follower Maze server. */
export { runSimulateCommand, type SimulateCommandIo } from './command.js';
export {
  DEFAULT_CONCURRENCY_LEVEL,
  DEFAULT_EVENT_MIX,
  DEFAULT_LINGER_MS,
  DEFAULT_LOG_INTERVAL_MS,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_RANDOM_SEED,
  DEFAULT_SIMULATE_TIMEOUT_MS,
  DEFAULT_TOTAL_EVENTS,
  DEFAULT_USERS_PER_CLIENT,
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
  type SimulateOptionDefinition,
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

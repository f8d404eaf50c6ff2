/**
 * `follower-maze/simulate`: the verifier as a function. `simulate(options)` runs a simulation
 * against any Follower Maze server and resolves with its result; failures carry a
 * `SimulationErrorCode`.
 */
export {
  SimulationErrorCode,
  type SimulationFailure,
  type SimulationFailureContext,
  type SimulationFailureKind,
} from './failures.js';
export type { LatencySummary } from './latency.js';
export type { LineTerminator, SimulateOptions } from './options.js';
export type { ReconnectSummary, SimulationResult, SimulationSummary } from './result.js';
export { type SimulationControl, simulate } from './simulate.js';

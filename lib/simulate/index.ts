/** `follower-maze simulate`: a verifier for any Follower Maze server. */
export { runSimulateCommand, type SimulateCommandIo, simulateCommand } from './command.js';
export * from './constants.js';
export {
  SimulationErrorCode,
  type SimulationFailure,
  type SimulationFailureContext,
  type SimulationFailureKind,
} from './failures.js';
export {
  EVENT_TYPES,
  type LineTerminator,
  parseEventMix,
  type ResolvedSimulateOptions,
  resolveSimulateOptions,
  SIMULATE_OPTIONS,
  type SimulateOptionDefinition,
  type SimulateOptions,
} from './options.js';
export {
  exitCodeOf,
  formatJson,
  formatProgress,
  formatSummary,
  type SimulationProgress,
  type SimulationResult,
  type SimulationSummary,
  SUCCESS_LINE,
} from './result.js';
export { runSimulation, simulate } from './simulate.js';

/** The pure core of follower-maze: no sockets, streams, timers or logging. */

export { ConnectedUsers } from './connected-users.js';
export * from './constants.js';
export { ErrorCode, MazeError, type Problem, type ProblemContext } from './errors.js';
export {
  EventSequencer,
  type EventSequencerOptions,
  type SequenceSlot,
  sequenceSlotBytes,
} from './event-sequencer.js';
export {
  type BroadcastEvent,
  EventType,
  type FollowEvent,
  type MazeEvent,
  type PrivateMessageEvent,
  type Sequence,
  type StatusUpdateEvent,
  type UnfollowEvent,
  type UserId,
} from './events.js';
export {
  type Followers,
  FollowGraph,
  type FollowGraphOptions,
  FollowOutcome,
} from './follow-graph.js';
export {
  type DecodedGraphSnapshot,
  decodeGraphSnapshot,
  encodeGraphSnapshot,
  GRAPH_SNAPSHOT_VERSION,
  type GraphSnapshot,
  type SnapshotPoint,
} from './graph-snapshot.js';
export {
  type CoreStats,
  type Delivery,
  MazeCore,
  type MazeCoreOptions,
  type PushResult,
} from './maze-core.js';
export {
  type InvalidEventBody,
  isEvent,
  type MissingSequence,
  type ParsedLine,
  parseEvent,
  quoteLine,
  readId,
} from './parser.js';
export { recipientsOf } from './router.js';
export { type Sequenced, Sequencer, type SequencerOptions } from './sequencer.js';
export type { UserLookup } from './user-lookup.js';

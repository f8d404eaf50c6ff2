/**
 * follower-maze, the embedding API: a maze on streams (`createMaze`), on TCP (`listen`), the
 * pure protocol core (`MazeCore`) and its parts, the error type and codes, and the types
 * their signatures use. Cluster mode, the simulator and the monitor are subpath exports
 * (`follower-maze/cluster`, `follower-maze/simulate`, `follower-maze/monitor`), so that
 * importing this entry loads none of their dependencies. Building blocks stay internal.
 */

export type {
  Authenticate,
  Authentication,
  AuthRefusalReason,
  AuthStats,
  CredentialSender,
} from './adapter/client-auth.js';
export {
  type AttachClientOptions,
  type ClientInfo,
  type ClientPage,
  createMaze,
  Maze,
  type MazeEventMap,
  type MazeStats,
  type ResumeReport,
} from './adapter/maze.js';
export type { MazeOptions, ResolvedMazeOptions } from './adapter/options.js';
export type { ConnectedUsers } from './core/connected-users.js';
export {
  type BroadcastEvent,
  EventType,
  type FollowEvent,
  lineOf,
  type MazeEvent,
  type PrivateMessageEvent,
  type Sequence,
  type StatusUpdateEvent,
  type UnfollowEvent,
  type UserId,
} from './core/events.js';
export {
  type Followers,
  FollowGraph,
  type FollowGraphOptions,
  type FollowGraphView,
  FollowOutcome,
} from './core/follow-graph.js';
export type { GraphSnapshot } from './core/graph-snapshot.js';
export {
  type CoreStats,
  type Delivery,
  MazeCore,
  type MazeCoreOptions,
  type PushResult,
} from './core/maze-core.js';
export {
  type InvalidEventBody,
  isEvent,
  type MissingSequence,
  type ParsedLine,
  parseEvent,
} from './core/parser.js';
export type {
  ExactResume,
  RefusedResume,
  ResumeGap,
  ResumeOutcome,
} from './core/resume-history.js';
export { recipientsOf } from './core/router.js';
export { type Sequenced, Sequencer, type SequencerOptions } from './core/sequencer.js';
export type { UserLookup } from './core/user-lookup.js';
export { ErrorCode, MazeError, type Problem, type ProblemContext } from './errors.js';
export { type ListenOptions, listen, type MazeServer } from './net/listen.js';
export { ServerTls, type TlsMaterial, type TlsStats } from './net/tls.js';

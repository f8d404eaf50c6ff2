/** The stream adapter: a `MazeCore` driven by Node streams. */

export { type ClientSummary, parseUserId } from './client-connection.js';
export { closeStream } from './close-stream.js';
export {
  defaultMaxClients,
  descriptorLimit,
  maxClientsFor,
  parseOpenFilesLimit,
  readDescriptorLimit,
} from './descriptor-limit.js';
export { LineFramer, type LineSink } from './line-framer.js';
export {
  type ClientInfo,
  type ClientPage,
  createMaze,
  Maze,
  type MazeEventMap,
  type MazeStats,
} from './maze.js';
export { type MazeOptions, type ResolvedMazeOptions, resolveMazeOptions } from './options.js';

// CommonJS TypeScript (nodenext) requiring the ESM-only package: TypeScript >= 5.8 models
// Node's require(esm), so the declarations must come through with their types.
import followerMaze = require('follower-maze');

const core: followerMaze.MazeCore = new followerMaze.MazeCore();
const code: followerMaze.ErrorCode = followerMaze.ErrorCode.SequenceGap;
export = { core, code };

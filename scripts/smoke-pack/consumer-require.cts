// CommonJS TypeScript (nodenext) requiring the ESM-only package: TypeScript >= 5.8 models
// Node's require(esm), so the declarations of every entry point must come through with their
// types.
import followerMaze = require('follower-maze');
import cluster = require('follower-maze/cluster');
import monitor = require('follower-maze/monitor');
import simulator = require('follower-maze/simulate');

const core: followerMaze.MazeCore = new followerMaze.MazeCore();
const code: followerMaze.ErrorCode = followerMaze.ErrorCode.SequenceGap;
const log: cluster.EventLog = new cluster.MemoryEventLog();
const sources: monitor.MonitorSources['statMetrics'] = monitor.MAZE_STAT_METRICS;
const failure: simulator.SimulationFailure['code'] = simulator.SimulationErrorCode.Timeout;
export = { core, code, log, sources, failure };

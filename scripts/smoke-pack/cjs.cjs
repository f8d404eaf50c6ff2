// Loads the installed (ESM-only) package with require(), every entry point, as Node >= 20.19
// allows.
const assert = require('node:assert/strict');
const followerMaze = require('follower-maze');
const cluster = require('follower-maze/cluster');
const monitor = require('follower-maze/monitor');
const simulator = require('follower-maze/simulate');

assert.equal(typeof followerMaze.createMaze, 'function');
assert.equal(typeof followerMaze.listen, 'function');
const core = new followerMaze.MazeCore();
core.connect(5);
const result = core.push('1|F|4|5\n');
assert.deepEqual(result.deliveries[0].recipients, [5]);
assert.equal(followerMaze.lineOf(result.deliveries[0].event), '1|F|4|5\n');

assert.equal(typeof cluster.createIngest, 'function');
assert.equal(typeof cluster.createGateway, 'function');
assert.equal(typeof new cluster.MemoryEventLog().tail, 'function');
assert.equal(typeof monitor.startMonitor, 'function');
assert.equal(typeof monitor.serveMonitorSources, 'function');
assert.equal(typeof simulator.simulate, 'function');
assert.equal(simulator.SimulationErrorCode.Timeout, 'ERR_SIM_TIMEOUT');
console.log('smoke-pack: CommonJS require ok (follower-maze, /cluster, /monitor, /simulate)');

// Loads the installed (ESM-only) package with require(), as Node >= 20.19 allows.
const assert = require('node:assert/strict');
const followerMaze = require('follower-maze');

assert.equal(typeof followerMaze.createMaze, 'function');
assert.equal(typeof followerMaze.listen, 'function');
const core = new followerMaze.MazeCore();
core.connect(5);
const result = core.push('1|F|4|5\n');
assert.deepEqual(result.deliveries[0].recipients, [5]);
assert.equal(result.deliveries[0].event.line, '1|F|4|5\n');
console.log('smoke-pack: CommonJS require ok');

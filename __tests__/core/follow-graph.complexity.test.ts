// docs/protocol.md §10 through the public MazeCore API only, so the same test runs against any build:
// the flip attack must cost about the same per cycle at 16 times the followers.
// A ratio of two runs on the same machine, not a wall-clock threshold; the operation-count
// version of this check is in follow-graph.test.ts.
import { describe, expect, it } from '@jest/globals';
import { MazeCore } from '../../lib/core/maze-core.js';

const CYCLES = 50;
const REPEATS = 5;

/** The fastest of REPEATS runs of CYCLES attack cycles on a core where user 1 has `n` followers. */
function attackMilliseconds(n: number): number {
  const core = new MazeCore();
  let sequence = 1;
  for (let follower = 2; follower <= n + 1; follower++)
    core.push(`${sequence++}|F|${follower}|1\n`);
  let fastest = Number.POSITIVE_INFINITY;
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const started = performance.now();
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      core.push(`${sequence++}|F|16777216|1\n`);
      core.push(`${sequence++}|U|16777216|1\n`);
      core.push(`${sequence++}|U|5|1\n`);
      core.push(`${sequence++}|F|5|1\n`);
    }
    fastest = Math.min(fastest, performance.now() - started);
  }
  return fastest;
}

describe('FollowGraph: no representation-flip attack (docs/protocol.md §10)', () => {
  it('an attack cycle costs about the same at 2^12 and 2^16 followers', () => {
    attackMilliseconds(2 ** 10); // warm-up: let the JIT compile the paths first
    const small = attackMilliseconds(2 ** 12);
    const large = attackMilliseconds(2 ** 16);
    // Proportional cost would give about 16; a constant one about 1.
    expect(large / Math.max(small, 0.05)).toBeLessThan(4);
  });
});

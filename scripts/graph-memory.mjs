#!/usr/bin/env node
/**
 * Memory and worst-case time of the follow graph of a BUILT follower-maze (docs/protocol.md §10):
 *
 *   node scripts/graph-memory.mjs [--shape followers|small-followers|followees|random|attack]
 *        [--edges 10000000] [--users 10] [--via core|graph] [--dist dist] [--cycles 20] [--seed 1]
 *
 * Shapes (each builds `--edges` distinct follow edges):
 *   followers        --users users, each followed by edges/users users with ids above 2^24
 *                    (no bitset; `--users 1 --edges 16800000` overflowed 0.1.0's Set)
 *   small-followers  the same with follower ids 1..edges/users (the bitset case)
 *   followees        edges users, each with one follower of its own
 *   random           random pairs among edges/10 users (about 10 followers per user)
 *   attack           user 1 with --edges followers (ids 2..edges+1), then --cycles cycles of
 *                    F|16777216|1, U|16777216|1, U|5|1, F|5|1 (the flip attack)
 *   pairs            user 1 with --edges followers with ids above 2^24, then --cycles
 *                    unfollow/follow pairs of one of them (at a power-of-two --edges, 0.1.0
 *                    rescanned the whole set on every pair)
 *
 * `--via core` (default) pushes event lines through `MazeCore` (with `maxFollowEdges` set to
 * `--edges`, so the bound refuses nothing); `--via graph` calls `FollowGraph.follow()`
 * directly. Events are generated on the fly, so the graph is all that grows. Prints the
 * edges, the build time, heap used, array buffers, RSS, peak RSS (VmHWM) and the bytes per
 * edge ((RSS - RSS before building) / edges; also (peak RSS - RSS before) / edges), and for
 * the attack the time of the slowest event and the mean time per cycle. Run it with
 * `node --expose-gc` so garbage is collected before each reading. `--dist` picks
 * another build, e.g. one of the main branch, to compare. Linux only (/proc/self/status).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
// The simulator's seeded PRNG, from the package's own build: one PRNG in the project.
import { SeededRandom } from '../dist/lib/simulate/random.js';

/** An integer in `min..max`, both included. */
function randomInt(rng, min, max) {
  return min + rng.below(max - min + 1);
}

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'followers' },
    edges: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '10' },
    via: { type: 'string', default: 'core' },
    dist: { type: 'string', default: 'dist' },
    cycles: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
  },
});
const EDGES = Number(values.edges);
const USERS = Number(values.users);
const SHAPES = ['followers', 'small-followers', 'followees', 'random', 'attack', 'pairs'];
const PAIR_FOLLOWER = 2 ** 24 + 7;
if (!SHAPES.includes(values.shape) || !['core', 'graph'].includes(values.via) || !(EDGES > 0)) {
  console.error(`usage: --shape ${SHAPES.join('|')} --via core|graph --edges N`);
  process.exit(2);
}
const { FollowGraph, MazeCore } = await import(
  pathToFileURL(resolve(values.dist, 'lib/index.js')).href
);

/** A `kB` field of /proc/self/status in bytes. */
function statusBytes(field) {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)[1]) * 1024;
}
const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// One way in: a line through the core, or a direct call on the graph.
let sequence = 1;
const core = new MazeCore({ maxFollowEdges: Math.max(EDGES + 1, 1) });
const graph = values.via === 'graph' ? new FollowGraph({ maxEdges: EDGES + 1 }) : core.graph;
function apply(type, from, to) {
  if (values.via === 'core') {
    core.push(`${sequence++}|${type}|${from}|${to}\n`);
  } else if (type === 'F') graph.follow(from, to);
  else graph.unfollow(from, to);
}

/** Calls `follow(from, to)` for each edge of the shape. */
function build() {
  const rng = new SeededRandom(Number(values.seed));
  const perUser = Math.ceil(EDGES / 10);
  for (let edge = 0; edge < EDGES; edge++) {
    switch (values.shape) {
      case 'followers':
        apply('F', 2 ** 24 + 1 + Math.floor(edge / USERS), 1 + (edge % USERS));
        break;
      case 'small-followers':
        apply('F', 1 + Math.floor(edge / USERS), 1 + (edge % USERS));
        break;
      case 'followees':
        apply('F', edge + 1, 2 ** 24 + edge);
        break;
      case 'random':
        apply('F', randomInt(rng, 1, perUser), randomInt(rng, 1, perUser));
        break;
      case 'attack':
        apply('F', edge + 2, 1);
        break;
      case 'pairs':
        apply('F', 2 ** 24 + edge, 1);
        break;
    }
  }
}

/** Collects garbage (with --expose-gc) and lets the freed buffers go back to the system. */
async function settle() {
  for (let round = 0; round < 2; round++) {
    global.gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

await settle();
const rssBefore = statusBytes('VmRSS');
const started = performance.now();
build();
const buildSeconds = (performance.now() - started) / 1000;
await settle();
const memory = process.memoryUsage();
const rss = statusBytes('VmRSS');
const peak = statusBytes('VmHWM');
const edges = graph.edgeCount;
console.log(
  `${values.shape} via ${values.via} (${values.dist}): ${edges} edges in ${buildSeconds.toFixed(1)} s`,
);
console.log(
  `heap used ${mb(memory.heapUsed)}, array buffers ${mb(memory.arrayBuffers)}, RSS ${mb(rss)}, peak RSS ${mb(peak)}`,
);
console.log(
  `bytes per edge: ${((rss - rssBefore) / edges).toFixed(1)} (RSS), ${((peak - rssBefore) / edges).toFixed(1)} (peak RSS)` +
    (graph.bytes === undefined ? '' : `, ${(graph.bytes / edges).toFixed(1)} (graph arrays)`),
);

/** The worst-case time per event of the attack streams, and the mean time per cycle. */
function timeCycles(cycle) {
  const cycles = Number(values.cycles);
  let worst = 0;
  const cycleStarted = performance.now();
  for (let round = 0; round < cycles; round++) {
    for (const [type, from] of cycle) {
      const eventStarted = performance.now();
      apply(type, from, 1);
      worst = Math.max(worst, performance.now() - eventStarted);
    }
  }
  const perCycle = (performance.now() - cycleStarted) / cycles;
  console.log(
    `${values.shape}: ${cycles} cycles of ${cycle.length} events, ${perCycle.toFixed(3)} ms per cycle, worst event ${worst.toFixed(3)} ms`,
  );
}

if (values.shape === 'attack') {
  timeCycles([
    ['F', 16777216],
    ['U', 16777216],
    ['U', 5],
    ['F', 5],
  ]);
} else if (values.shape === 'pairs') {
  timeCycles([
    ['U', PAIR_FOLLOWER],
    ['F', PAIR_FOLLOWER],
  ]);
}

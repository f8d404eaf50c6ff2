#!/usr/bin/env node
/**
 * Throughput of the pure core (`MazeCore.push()`), without sockets, for comparing builds:
 *
 *   node scripts/core-throughput.mjs [--dist dist] [--dist /tmp/other/dist] [--events 1000000]
 *        [--users 1000] [--clients 100] [--runs 5] [--seed 1]
 *
 * The stream is the simulator's default: users 1..users, the first `clients` of them
 * connected, mix F:30,U:10,B:5,P:25,S:30 (the simulator's default), shuffled in batches of up to
 * 100 (the reorder buffer's common case). The lines are generated once, before timing. Each
 * run builds a fresh core per build, the builds alternating so that machine noise hits them
 * alike; the script prints the median events/s and notifications/s of each build.
 */
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
    dist: { type: 'string', multiple: true, default: ['dist'] },
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '100' },
    runs: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});
const EVENTS = Number(values.events);
const USERS = Number(values.users);
const CLIENTS = Number(values.clients);
const RUNS = Number(values.runs);

/** Cumulative weights of F, U, B, P, S (out of 100). */
const MIX = [
  ['F', 30],
  ['U', 40],
  ['B', 45],
  ['P', 70],
  ['S', 100],
];

function generateLines() {
  const rng = new SeededRandom(Number(values.seed));
  const lines = [];
  for (let first = 1; first <= EVENTS; ) {
    const size = Math.min(randomInt(rng, 1, 100), EVENTS - first + 1);
    const batch = [];
    for (let sequence = first; sequence < first + size; sequence++) {
      const roll = rng.below(100);
      const type = MIX.find(([, below]) => roll < below)[0];
      const from = randomInt(rng, 1, USERS);
      const to = randomInt(rng, 1, USERS);
      if (type === 'B') batch.push(`${sequence}|B\n`);
      else if (type === 'S') batch.push(`${sequence}|S|${from}\n`);
      else batch.push(`${sequence}|${type}|${from}|${to}\n`);
    }
    for (let i = batch.length - 1; i > 0; i--) {
      const j = randomInt(rng, 0, i);
      [batch[i], batch[j]] = [batch[j], batch[i]];
    }
    lines.push(...batch);
    first += size;
  }
  return lines;
}

function runOnce(MazeCore, lines) {
  const core = new MazeCore();
  for (let user = 1; user <= CLIENTS; user++) core.connect(user);
  let notifications = 0;
  const started = process.hrtime.bigint();
  for (const line of lines) {
    for (const delivery of core.push(line).deliveries) notifications += delivery.recipients.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return {
    eventsPerSecond: lines.length / seconds,
    notificationsPerSecond: notifications / seconds,
  };
}

const median = (numbers) => [...numbers].sort((a, b) => a - b)[Math.floor(numbers.length / 2)];

const builds = [];
for (const dist of values.dist) {
  const { MazeCore } = await import(pathToFileURL(resolve(dist, 'lib/index.js')).href);
  builds.push({ dist, MazeCore, runs: [] });
}
const lines = generateLines();
for (let run = 0; run < RUNS; run++) {
  for (const build of builds) build.runs.push(runOnce(build.MazeCore, lines));
}
console.log(`${EVENTS} events, ${USERS} users, ${CLIENTS} connected, median of ${RUNS} runs`);
for (const { dist, runs } of builds) {
  const events = median(runs.map((run) => run.eventsPerSecond));
  const notifications = median(runs.map((run) => run.notificationsPerSecond));
  console.log(
    `${dist}: ${(events / 1e6).toFixed(2)}M events/s, ${(notifications / 1e6).toFixed(2)}M notifications/s`,
  );
}

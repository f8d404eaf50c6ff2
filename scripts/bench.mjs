#!/usr/bin/env node
/**
 * `npm run bench`: throughput and cost of the BUILT server (`npm run bench` builds first),
 * driven by the built `follower-maze simulate`, each in its own process on 127.0.0.1.
 *
 *   node scripts/bench.mjs [--profile default|many-clients|all|latency] [--events N]
 *                          [--runs K] [--tiny] [--out FILE] [--dist DIR] [--cpu-prof]
 *                          [--chart FILE]
 *
 * Profiles (--events overrides the event count of each profile run):
 *   default       100 clients of 1,000 users, 1,000,000 events
 *   many-clients  2,000 clients of 20,000 users, 500,000 events
 * Both send batches of up to 100 shuffled events, mix F:30,U:10,B:5,P:25,S:30.
 * --tiny (CI): one run of 20,000 events per profile, many-clients scaled to 200 clients.
 *   latency      latency against load (scripts/bench/latency-profile.mjs): the maximum rate
 *                flat out (2,000,000 events, or --events), then `simulate --rate` at 10%,
 *                25%, 50%, 75% and 90% of it and at 100,000 events/s, about 8 s each, with
 *                and without one stalled client; one run per point unless --runs. Not part
 *                of `all` nor of --tiny (about 3 minutes). Prints a Markdown table and writes
 *                the chart to --chart (default docs/latency.svg).
 *
 * Per run: events/s, notifications/s and wall s (first event to last notification) as the
 * simulator measures them; the server's peak RSS and CPU seconds; the simulator's CPU
 * seconds and the cores it kept busy (its CPU s / its process's wall s, at most about 1):
 * near 1, the simulator rather than the server may set the pace.
 *
 * Each case runs --runs times (default 3) against a fresh server; the medians are printed as
 * a table and written, with every run, the commit, node and CPU, to --out (default
 * bench-results/<timestamp>.json) so results can be compared across commits. --dist picks
 * another build than the package's dist, e.g. one made with `tsc --outDir` while `npm test`
 * rebuilds dist. --cpu-prof writes a V8 CPU profile of the server and the simulator of every
 * run beside the results (profiling slows the runs down). Exit codes: 0 done, 1 a run
 * failed, 2 bad options.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FIGURES, formatFigure, formatMedianTable, medianFigures } from './bench/figures.mjs';
import { formatLatencyTable, latencyChartSvg } from './bench/latency-chart.mjs';
import { runLatencyProfile } from './bench/latency-profile.mjs';
import { killChildren, runOnce } from './bench/run-once.mjs';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_MIX = 'F:30,U:10,B:5,P:25,S:30';

/** The loads the issue asks for, by profile name. */
const PROFILES = {
  default: { events: 1_000_000, clients: 100, users: 1_000, maxBatch: 100, eventMix: DEFAULT_MIX },
  'many-clients': {
    events: 500_000,
    clients: 2_000,
    users: 20_000,
    maxBatch: 100,
    eventMix: DEFAULT_MIX,
  },
};
/** --tiny: each profile shrunk so that CI runs both in a few seconds. */
const TINY = {
  default: { events: 20_000 },
  'many-clients': { events: 20_000, clients: 200, users: 2_000 },
};
const TINY_RUNS = 1;
const LATENCY_PROFILE = 'latency';
const LATENCY_RUNS = 1;

/** Bounds one simulation: a minute plus 0.1 ms per event, 20x slower than a healthy run. */
function simulationTimeoutMs(events) {
  return 60_000 + events / 10;
}

function usage(problem) {
  process.stderr.write(`bench: ${problem}\n(see the comment at the top of scripts/bench.mjs)\n`);
  process.exit(2);
}

function positiveInteger(name, text) {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) usage(`--${name} must be a positive integer`);
  return value;
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        profile: { type: 'string', default: 'all' },
        events: { type: 'string' },
        runs: { type: 'string' },
        tiny: { type: 'boolean', default: false },
        out: { type: 'string' },
        dist: { type: 'string', default: resolve(REPO_ROOT, 'dist') },
        'cpu-prof': { type: 'boolean', default: false },
        chart: { type: 'string', default: resolve(REPO_ROOT, 'docs/latency.svg') },
      },
    }));
  } catch (error) {
    usage(error.message);
  }
  const latency = values.profile === LATENCY_PROFILE;
  const profiles =
    values.profile === 'all' ? Object.keys(PROFILES) : latency ? [] : [values.profile];
  for (const name of profiles) {
    if (!(name in PROFILES)) {
      usage(`--profile must be ${Object.keys(PROFILES).join(', ')}, all or ${LATENCY_PROFILE}`);
    }
  }
  if (latency && values.tiny) usage('--tiny has no latency profile');
  const runs =
    values.runs === undefined
      ? values.tiny
        ? TINY_RUNS
        : latency
          ? LATENCY_RUNS
          : 3
      : positiveInteger('runs', values.runs);
  const events = values.events === undefined ? undefined : positiveInteger('events', values.events);
  const bin = resolve(values.dist, 'bin/follower-maze.js');
  if (!existsSync(bin)) usage(`no ${bin}: run \`npm run build\` first, or pass --dist`);
  return { ...values, profiles, latency, runs, events, bin };
}

/** What the results were measured on, to compare files across commits and machines. */
function environment() {
  const git = (...args) => {
    try {
      return execFileSync('git', args, {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return null; // Not a git checkout (e.g. an unpacked tarball).
    }
  };
  const status = git('status', '--porcelain', '--untracked-files=no');
  return {
    commit: git('rev-parse', 'HEAD'),
    dirty: status === null ? null : status !== '',
    node: process.version,
    cpuModel: cpus()[0]?.model ?? null,
    cpuCount: cpus().length,
    platform: `${process.platform} ${process.arch}`,
  };
}

function describeRun(name, index, runs, run) {
  const figures = FIGURES.map(
    (figure) => `${formatFigure(run[figure.key], figure.decimals)} ${figure.label}`,
  );
  return `bench: ${name} run ${index}/${runs}: ${figures.join(', ')}`;
}

async function main() {
  const options = parseOptions();
  const startedAt = new Date();
  const about = environment();
  process.stdout.write(
    `bench: commit ${about.commit?.slice(0, 10) ?? 'unknown'}${about.dirty ? ' (dirty)' : ''},` +
      ` node ${about.node}, ${about.cpuCount} x ${about.cpuModel}\n`,
  );

  const out = resolve(options.out ?? `${REPO_ROOT}/bench-results/${fileStamp(startedAt)}.json`);
  const profileDir = `${out.replace(/\.json$/, '')}-profiles`;
  const cases = [];
  for (const name of options.profiles) {
    const load = { ...PROFILES[name], ...(options.tiny ? TINY[name] : {}) };
    if (options.events !== undefined) load.events = options.events;
    const caseName = `${name} ${load.events.toLocaleString('en-US')} events`;
    const runs = [];
    for (let index = 1; index <= options.runs; index++) {
      const run = await runOnce({
        bin: options.bin,
        load,
        timeoutMs: simulationTimeoutMs(load.events),
        cpuProfiles: options['cpu-prof']
          ? { dir: profileDir, name: `${name}-${index}` }
          : undefined,
      });
      runs.push(run);
      process.stdout.write(`${describeRun(caseName, index, options.runs, run)}\n`);
    }
    cases.push({ name: caseName, profile: name, load, runs, medians: medianFigures(runs) });
  }

  let latencyResults;
  if (options.latency) {
    latencyResults = await runLatencyProfile({
      bin: options.bin,
      runs: options.runs,
      events: options.events,
      timeoutMs: simulationTimeoutMs,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    cases.push(...latencyResults.cases);
    process.stdout.write(
      `\nlatency against load (maximum ${Math.round(latencyResults.maxRate)} events/s;` +
        ` medians of ${options.runs} run${options.runs === 1 ? '' : 's'}):\n`,
    );
    for (const line of formatLatencyTable(latencyResults.series)) {
      process.stdout.write(`${line}\n`);
    }
    const chart = resolve(options.chart);
    mkdirSync(dirname(chart), { recursive: true });
    writeFileSync(
      chart,
      latencyChartSvg({
        title: 'follower-maze serve: notification latency against load',
        series: latencyResults.series,
      }),
    );
    process.stdout.write(`bench: chart in ${chart}\n`);
  }

  process.stdout.write(`\nmedians:\n`);
  const table = formatMedianTable(
    cases.map((each) => ({
      name: each.name,
      runs: each.runs.length,
      medians: each.medians ?? medianFigures(each.runs),
    })),
  );
  for (const line of table) process.stdout.write(`${line}\n`);

  mkdirSync(dirname(out), { recursive: true });
  const { bin, profiles, ...given } = options;
  const result = {
    startedAt: startedAt.toISOString(),
    ...about,
    options: { ...given, out },
    cases,
    ...(latencyResults && {
      latency: {
        maxRate: latencyResults.maxRate,
        flatOut: latencyResults.flatOut,
        series: latencyResults.series,
      },
    }),
  };
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nbench: results in ${out}\n`);
  if (options['cpu-prof']) process.stdout.write(`bench: CPU profiles in ${profileDir}\n`);
}

/** `2024-05-01T12-30-00Z`: an ISO time that is a valid file name everywhere. */
function fileStamp(date) {
  return date
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replaceAll(':', '-');
}

process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killChildren();
    process.exit(1);
  });
}
try {
  await main();
} catch (error) {
  process.stderr.write(`bench: FAILED: ${error instanceof Error ? error.message : error}\n`);
  process.exitCode = 1;
}

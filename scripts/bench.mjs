#!/usr/bin/env node
/**
 * `npm run bench`: throughput and cost of the BUILT server (`npm run bench` builds first),
 * driven by the built `follower-maze simulate`, each in its own process on 127.0.0.1.
 *
 *   node scripts/bench.mjs [--profile default|many-clients|all|latency|cluster|tls|c100k|c19k]
 *                          [--events N] [--clients N] [--gateways G] [--runs K] [--tiny] [--out FILE]
 *                          [--dist DIR] [--server-dist DIR ...] [--cpu-prof] [--chart FILE]
 *                          [--series serve,stalled,cluster] [--shares 0.1,0.25,...]
 *
 * Profiles (--events overrides the event count of each profile run, --clients its number of
 * clients, which must not exceed its users):
 *   default       100 clients of 1,000 users, 1,000,000 events
 *   many-clients  2,000 clients of 20,000 users, 500,000 events
 * Both send batches of up to 100 shuffled events, mix F:30,U:10,B:5,P:25,S:30.
 * --tiny (CI): one run of 20,000 events per profile, many-clients scaled to 200 clients.
 *   latency      latency against load (scripts/bench/latency-profile.mjs): serve's maximum
 *                rate flat out (2,000,000 events, or --events), then `simulate --rate` at
 *                10%, 25%, 50%, 75% and 90% of it and at 100,000 events/s, 10 s each of
 *                which the first 2 s are left out of the latency (a fresh server compiles):
 *                serve with and without one stalled client, then the cluster (a fresh
 *                nats-server, ingest and 2 gateways per run; needs nats-server) at the same
 *                rates, a point it does not sustain reported as such; one run per point
 *                unless --runs. The machine's own stalls are measured at rest first and
 *                during every run. Not part of `all` nor of --tiny (about 5 minutes, 15 with
 *                --runs 3). Prints a Markdown table, each run's p99 at the target rate
 *                (bound 2 ms) and at 50% of the maximum (bound 10 ms) with how many runs
 *                kept within the bound, and writes the chart to --chart (default
 *                docs/latency.svg). --series (serve, stalled, cluster) and --shares (of the
 *                maximum, between 0 and 1) narrow it, e.g. `--series serve --shares 0.5
 *                --runs 6` for the two bounds alone; a narrowed profile draws no chart.
 *   cluster      serve against cluster mode on the default profile's load (or --events,
 *                --clients): each run of the cluster (scripts/bench/cluster-run.mjs) starts a
 *                fresh nats-server (JetStream, file storage in a temp dir, a free port; on
 *                PATH or /usr/sbin/nats-server), the built `follower-maze ingest` and
 *                --gateways G (default 2) x `follower-maze gateway`, and sends the simulator's
 *                events to the ingest and its clients to the gateways, round-robin. Serve and
 *                cluster runs alternate (--runs K of each, default 3), so a noisy machine
 *                weighs on both alike. Besides the median table, prints a Markdown table of
 *                serve against the cluster with each process's CPU seconds and peak RSS
 *                (ingest, every gateway, nats-server, the simulator), and the cost model
 *                (scripts/bench/cost-model.mjs): after each cluster simulation an extra
 *                gateway replays the whole log (the ingest saves no snapshot in these runs),
 *                which gives a gateway's CPU per event applied (a); the run's gateways give
 *                its CPU per notification delivered (b); the ingest's and nats-server's CPU
 *                per event; then the capacity of 1, 2, 4 and 8 gateways projected from them.
 *                Not part of `all` nor of --tiny (it needs nats-server; the 1M-event default
 *                takes a few minutes).
 *   c100k        100,000 clients at once over --gateways G (default 6) gateways of a cluster
 *                (a fresh nats-server and ingest; scripts/bench/c100k-run.mjs), each owed every
 *                broadcast of a 100-event run (--events, --clients override); the simulator
 *                spreads its clients over worker processes and loopback source addresses.
 *                Reports notifications/s, the connect and identify storm times, whether every
 *                broadcast reached every client exactly, the gateways' idle RSS before and
 *                once every client is identified (hence KiB per connection), their peak RSS
 *                and CPU. One run unless --runs; not part of `all`; --tiny: 600 clients.
 *   c19k         the same on one `serve` with 19,000 clients (its default client limit).
 *   tls          the cost of TLS: serve in plain TCP against serve with TLS on both ports and
 *                mutual TLS for the source (`--tls-cert --tls-key --event-tls-ca`, the test
 *                certificates of __tests__/fixtures/tls; the simulator with `--tls-ca` and the
 *                source's certificate), on the default profile's load (or --events,
 *                --clients), runs alternating (--runs K of each). Besides the median table,
 *                prints the two side by side with the cost of TLS in percent. Not part of
 *                `all`; --tiny runs it shrunk like the default profile.
 *
 * Per run: events/s, notifications/s and wall s (first event to last notification) as the
 * simulator measures them; the server's peak RSS and CPU seconds (in a cluster run, the sums
 * over ingest, gateways and nats-server, each also recorded on its own); the simulator's CPU
 * seconds and the cores it kept busy (its CPU s / its process's wall s, at most about 1):
 * near 1, the simulator rather than the server may set the pace.
 *
 * Each case runs --runs times (default 3) against a fresh server; the medians are printed as
 * a table and written, with every run, the commit, node and CPU, to --out (default
 * bench-results/<timestamp>.json) so results can be compared across commits. --dist picks
 * another build than the package's dist, e.g. one made with `tsc --outDir` while `npm test`
 * rebuilds dist. --server-dist DIR (repeatable; default and many-clients profiles) runs the
 * same load against the server of each given build instead, e.g. a release's checkout, the
 * builds alternating run by run so that a drift of the machine weighs on each alike; the
 * simulator stays the one of --dist, so every build meets the same load and verifier. --cpu-prof writes a V8 CPU profile of every node process of every run (the
 * server, or the ingest and each gateway; the simulator) beside the results (profiling slows
 * the runs down). Exit codes: 0 done, 1 a run failed, 2 bad options.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runManyClientsOnce } from './bench/c100k-run.mjs';
import { killChildren } from './bench/children.mjs';
import { runClusterOnce } from './bench/cluster-run.mjs';
import {
  costModelWarnings,
  formatCostModel,
  HEADROOM,
  medianCostModel,
  PROJECTED_EVENTS_PER_SECOND,
  projectCapacity,
} from './bench/cost-model.mjs';
import {
  clusterProcesses,
  comparisonFigures,
  FIGURES,
  formatComparisonTable,
  formatFigure,
  formatMedianTable,
  medianFigures,
} from './bench/figures.mjs';
import {
  formatLatencyTable,
  latencyChartSvg,
  p99Verdicts,
  sustained,
} from './bench/latency-chart.mjs';
import { LOAD_SHARES, runLatencyProfile, SERIES } from './bench/latency-profile.mjs';
import { runOnce } from './bench/run-once.mjs';
import { describeStalls } from './bench/stall-watch.mjs';
import { DEBIAN_NATS_SERVER, natsServerPath } from './support/nats-server.mjs';

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
const CLUSTER_PROFILE = 'cluster';
/** The load profile the cluster profile runs, serve and cluster alike. */
const CLUSTER_LOAD = 'default';
const DEFAULT_GATEWAYS = 2;
const TLS_PROFILE = 'tls';
/** The many-connections profiles: all clients at once, a short run of broadcasts. */
const MANY_CONNECTIONS = {
  c100k: { engine: 'cluster', clients: 100_000, gateways: 6 },
  c19k: { engine: 'serve', clients: 19_000, gateways: 1 },
};
const MANY_CONNECTIONS_EVENTS = 100;
const MANY_CONNECTIONS_TINY_CLIENTS = 600;
const MANY_CONNECTIONS_RUNS = 1;
const TLS_FIXTURES = resolve(REPO_ROOT, '__tests__/fixtures/tls');
/** The TLS profile's flags: TLS on both ports, the source with a certificate of the CA. */
const TLS_ARGS = {
  serverArgs: [
    '--tls-cert',
    `${TLS_FIXTURES}/server.pem`,
    '--tls-key',
    `${TLS_FIXTURES}/server-key.pem`,
    '--event-tls-ca',
    `${TLS_FIXTURES}/ca.pem`,
  ],
  simulatorArgs: [
    '--tls-ca',
    `${TLS_FIXTURES}/ca.pem`,
    '--event-tls-cert',
    `${TLS_FIXTURES}/source.pem`,
    '--event-tls-key',
    `${TLS_FIXTURES}/source-key.pem`,
  ],
};

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
        clients: { type: 'string' },
        gateways: { type: 'string' },
        runs: { type: 'string' },
        tiny: { type: 'boolean', default: false },
        out: { type: 'string' },
        dist: { type: 'string', default: resolve(REPO_ROOT, 'dist') },
        'server-dist': { type: 'string', multiple: true },
        'cpu-prof': { type: 'boolean', default: false },
        chart: { type: 'string', default: resolve(REPO_ROOT, 'docs/latency.svg') },
        series: { type: 'string' },
        shares: { type: 'string' },
      },
    }));
  } catch (error) {
    usage(error.message);
  }
  const latency = values.profile === LATENCY_PROFILE;
  const cluster = values.profile === CLUSTER_PROFILE;
  const tls = values.profile === TLS_PROFILE;
  const many = MANY_CONNECTIONS[values.profile];
  let profiles;
  if (values.profile === 'all') profiles = Object.keys(PROFILES);
  else if (latency || many !== undefined) profiles = [];
  else if (cluster || tls) profiles = [CLUSTER_LOAD];
  else profiles = [values.profile];
  for (const name of profiles) {
    if (!(name in PROFILES)) {
      usage(
        `--profile must be ${Object.keys(PROFILES).join(', ')}, all, ${LATENCY_PROFILE}, ${CLUSTER_PROFILE}, ${TLS_PROFILE}, ${Object.keys(MANY_CONNECTIONS).join(' or ')}`,
      );
    }
  }
  if (latency && values.tiny) usage('--tiny has no latency profile');
  if (cluster && values.tiny) usage('--tiny has no cluster profile (it needs nats-server)');
  if ((cluster || latency || many?.engine === 'cluster') && natsServerPath() === undefined) {
    usage(`--profile ${values.profile} needs nats-server on PATH or at ${DEBIAN_NATS_SERVER}`);
  }
  if (values.gateways !== undefined && !cluster && many?.engine !== 'cluster') {
    usage('--gateways needs --profile cluster or c100k');
  }
  if (values.clients !== undefined && latency)
    usage('--clients does not apply to the latency profile');
  if ((values.series !== undefined || values.shares !== undefined) && !latency)
    usage('--series and --shares need --profile latency');
  const series = values.series === undefined ? undefined : seriesOf(values.series);
  const shares = values.shares === undefined ? undefined : sharesOf(values.shares);
  const runs =
    values.runs === undefined
      ? values.tiny
        ? TINY_RUNS
        : latency
          ? LATENCY_RUNS
          : many !== undefined
            ? MANY_CONNECTIONS_RUNS
            : 3
      : positiveInteger('runs', values.runs);
  const events = values.events === undefined ? undefined : positiveInteger('events', values.events);
  const clients =
    values.clients === undefined ? undefined : positiveInteger('clients', values.clients);
  const gateways =
    values.gateways === undefined
      ? (many?.gateways ?? DEFAULT_GATEWAYS)
      : positiveInteger('gateways', values.gateways);
  const loads = Object.fromEntries(
    profiles.map((name) => [name, loadOf(name, { tiny: values.tiny, events, clients })]),
  );
  if (cluster && gateways > loads[CLUSTER_LOAD].clients) {
    usage(`--gateways ${gateways} is more than the ${loads[CLUSTER_LOAD].clients} clients`);
  }
  const bin = resolve(values.dist, 'bin/follower-maze.js');
  if (!existsSync(bin)) usage(`no ${bin}: run \`npm run build\` first, or pass --dist`);
  if (many !== undefined) {
    const manyClients = clients ?? (values.tiny ? MANY_CONNECTIONS_TINY_CLIENTS : many.clients);
    if (gateways > manyClients)
      usage(`--gateways ${gateways} is more than the ${manyClients} clients`);
    loads[values.profile] = {
      events: events ?? MANY_CONNECTIONS_EVENTS,
      clients: manyClients,
      users: manyClients * 10,
      maxBatch: 100,
      eventMix: 'B:1',
    };
  }
  if (values['server-dist'] !== undefined && (latency || cluster || tls || many !== undefined)) {
    usage('--server-dist applies to the default and many-clients profiles only');
  }
  const serverBins = (values['server-dist'] ?? [values.dist]).map((dir) => {
    const serverBin = resolve(dir, 'bin/follower-maze.js');
    if (!existsSync(serverBin)) usage(`no ${serverBin}: build it first`);
    return { dist: resolve(dir), bin: serverBin };
  });
  return {
    ...values,
    profiles,
    loads,
    latency,
    cluster,
    tls,
    series,
    shares,
    many,
    runs,
    events,
    clients,
    gateways,
    bin,
    serverBins,
  };
}

/** --series: latency series keys, each known. */
function seriesOf(text) {
  const keys = text.split(',');
  for (const key of keys) {
    if (!Object.hasOwn(SERIES, key)) {
      usage(`--series must list ${Object.keys(SERIES).join(', ')}; got ${key}`);
    }
  }
  return keys;
}

/** --shares: shares of the maximum rate, each above 0 and at most 1. */
function sharesOf(text) {
  const shares = text.split(',').map(Number);
  if (shares.some((share) => !(share > 0 && share <= 1))) {
    usage(`--shares must list numbers above 0 and at most 1, as in ${LOAD_SHARES.join(',')}`);
  }
  return shares;
}

/**
 * The load of profile `name`, shrunk by --tiny, with --events and --clients applied.
 * @param {string} name
 * @param {{ tiny: boolean, events?: number, clients?: number }} overrides
 */
function loadOf(name, { tiny, events, clients }) {
  const load = { ...PROFILES[name], ...(tiny ? TINY[name] : {}) };
  if (events !== undefined) load.events = events;
  if (clients !== undefined) {
    if (clients > load.users) {
      usage(`--clients ${clients} is more than the ${load.users} users of profile ${name}`);
    }
    load.clients = clients;
  }
  return load;
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
  const processes =
    run.gateways === undefined
      ? []
      : clusterProcesses(run.gateways).map(
          ({ prefix, label }) =>
            `${label} ${formatFigure(run[`${prefix}CpuSeconds`], 2)} CPU s` +
            ` ${formatFigure(run[`${prefix}PeakRssMb`], 1)} MB`,
        );
  return `bench: ${name} run ${index}/${runs}: ${[...figures, ...processes].join(', ')}`;
}

/** `1,000,000 events`, plus the clients when --clients set them. */
function describeLoad(load, options) {
  const events = `${load.events.toLocaleString('en-US')} events`;
  return options.clients === undefined ? events : `${events}, ${load.clients} clients`;
}

/**
 * --profile cluster: serve and the cluster on the same load, runs alternating.
 * @returns {Promise<object[]>} the two cases, serve first
 */
async function runClusterProfile(options, profileDir) {
  const load = options.loads[CLUSTER_LOAD];
  const timeoutMs = simulationTimeoutMs(load.events);
  const figures = comparisonFigures(options.gateways);
  const about = describeLoad(load, { clients: load.clients });
  const settings = {
    bin: options.bin,
    load,
    gateways: options.gateways,
    timeoutMs,
    costModel: true,
  };
  const cases = await runAlternating(options, profileDir, [
    {
      name: `serve: ${about}`,
      engine: 'serve',
      run: (cpuProfiles) => runOnce({ ...settings, cpuProfiles }),
    },
    {
      name: `cluster, ingest + ${options.gateways} gateways: ${about}`,
      engine: 'cluster',
      run: (cpuProfiles) => runClusterOnce({ ...settings, cpuProfiles }),
    },
  ]);
  return cases.map(({ name, engine, runs }) => ({
    name,
    profile: CLUSTER_PROFILE,
    engine,
    load,
    ...(engine === 'cluster' && {
      gateways: options.gateways,
      costModel: medianCostModel(runs.map((run) => run.costModel)),
    }),
    runs,
    medians: medianFigures(runs, figures),
  }));
}

/**
 * Runs every case `options.runs` times, the cases alternating so that a drift of the machine
 * falls on each of them alike, and prints each run as it ends.
 * @param {{ name: string, engine: string, run: (cpuProfiles?: object) => Promise<object> }[]} cases
 * @returns {Promise<object[]>} the cases, each with its `runs`
 */
async function runAlternating(options, profileDir, cases) {
  const withRuns = cases.map((each) => ({ ...each, runs: [] }));
  for (let index = 1; index <= options.runs; index++) {
    for (const each of withRuns) {
      const run = await each.run(
        options['cpu-prof'] ? { dir: profileDir, name: `${each.engine}-${index}` } : undefined,
      );
      each.runs.push(run);
      process.stdout.write(`${describeRun(each.name, index, options.runs, run)}\n`);
    }
  }
  return withRuns;
}

/**
 * --profile tls: serve in plain TCP and with TLS on the same load, runs alternating.
 * @returns {Promise<object[]>} the two cases, plain TCP first
 */
async function runTlsProfile(options, profileDir) {
  const load = options.loads[CLUSTER_LOAD];
  const about = describeLoad(load, options);
  const settings = { bin: options.bin, load, timeoutMs: simulationTimeoutMs(load.events) };
  const cases = await runAlternating(options, profileDir, [
    {
      name: `serve, plain TCP: ${about}`,
      engine: 'tcp',
      run: (cpuProfiles) => runOnce({ ...settings, cpuProfiles }),
    },
    {
      name: `serve, TLS: ${about}`,
      engine: 'tls',
      run: (cpuProfiles) => runOnce({ ...settings, tls: TLS_ARGS, cpuProfiles }),
    },
  ]);
  return cases.map(({ name, engine, runs }) => ({
    name,
    profile: TLS_PROFILE,
    engine,
    load,
    runs,
    medians: medianFigures(runs),
  }));
}

/**
 * --profile c100k or c19k: every client connected at once, each owed every broadcast.
 * @param {string} profileDir where --cpu-prof writes the profiles
 * @returns {Promise<object>} the case
 */
async function runManyConnectionsProfile(options, profileDir) {
  const load = options.loads[options.profile];
  const { engine } = options.many;
  const servers = engine === 'cluster' ? `${options.gateways} gateways` : 'one serve';
  const name = `${options.profile}: ${load.clients.toLocaleString('en-US')} clients on ${servers}, ${load.events} broadcasts`;
  const runs = [];
  for (let index = 1; index <= options.runs; index++) {
    const run = await runManyClientsOnce({
      bin: options.bin,
      engine,
      gateways: options.gateways,
      load,
      timeoutMs: simulationTimeoutMs(load.events) + 120_000,
      cpuProfiles: options['cpu-prof']
        ? { dir: profileDir, name: `${options.profile}-${index}` }
        : undefined,
    });
    runs.push(run);
    process.stdout.write(
      `bench: ${name} run ${index}/${options.runs}: ${MANY_CONNECTIONS_FIGURES.map((figure) => `${formatFigure(run[figure.key], figure.decimals)} ${figure.label}`).join(', ')}, every broadcast exact: ${run.everyNotification}\n`,
    );
  }
  return {
    name,
    profile: options.profile,
    engine,
    load,
    runs,
    medians: medianFigures(runs, MANY_CONNECTIONS_FIGURES),
  };
}

/** What the many-connections profiles report per run, medians in their table. */
const MANY_CONNECTIONS_FIGURES = [
  { key: 'notificationsPerSecond', label: 'notifications/s', decimals: 0 },
  { key: 'workersStartSeconds', label: 'simulator workers start s', decimals: 2 },
  { key: 'connectSeconds', label: 'connect s', decimals: 2 },
  { key: 'registerSeconds', label: 'identify s', decimals: 2 },
  { key: 'connectIdentifySeconds', label: 'connect + identify s', decimals: 2 },
  { key: 'idleRssMb', label: 'idle RSS MB', decimals: 1 },
  { key: 'connectedRssMb', label: 'RSS with clients MB', decimals: 1 },
  { key: 'kibPerConnection', label: 'KiB per connection', decimals: 2 },
  { key: 'serverPeakRssMb', label: 'peak RSS MB (largest server)', decimals: 1 },
  { key: 'serverCpuSeconds', label: 'server CPU s', decimals: 2 },
];

/** The many-connections case as a Markdown table: one row per figure. */
function formatManyConnectionsTable(each) {
  const exact = each.runs.filter((run) => run.everyNotification).length;
  return [
    `| Median of ${each.runs.length} run${each.runs.length === 1 ? '' : 's'} | value |`,
    '| --- | --- |',
    ...MANY_CONNECTIONS_FIGURES.map(
      (figure) =>
        `| ${figure.label} | ${formatFigure(each.medians[figure.key], figure.decimals)} |`,
    ),
    `| runs in which every client got every broadcast exactly | ${exact} of ${each.runs.length} |`,
  ];
}

/** The TLS column against the plain one, in percent of the plain one's value. */
function tlsCostLines(cases) {
  const [plain, tls] = cases;
  const columns = [
    { name: 'plain TCP', runs: plain.runs.length, medians: plain.medians },
    { name: 'TLS', runs: tls.runs.length, medians: tls.medians },
  ];
  const lines = formatComparisonTable(columns, FIGURES);
  const change = (key) => {
    const before = plain.medians[key];
    const after = tls.medians[key];
    return before > 0 ? `${(((after - before) / before) * 100).toFixed(1)}%` : 'n/a';
  };
  lines.push(
    '',
    `TLS against plain TCP: events/s ${change('eventsPerSecond')}, server CPU s ${change('serverCpuSeconds')},` +
      ` server RSS ${change('serverPeakRssMb')}, simulator CPU s ${change('simulatorCpuSeconds')}`,
  );
  return lines;
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
  if (options.cluster) {
    cases.push(...(await runClusterProfile(options, profileDir)));
  } else if (options.many !== undefined) {
    cases.push(await runManyConnectionsProfile(options, profileDir));
  } else if (options.tls) {
    cases.push(...(await runTlsProfile(options, profileDir)));
  } else {
    for (const name of options.profiles) {
      const load = options.loads[name];
      const about = `${name} ${describeLoad(load, options)}`;
      const several = options.serverBins.length > 1;
      const builds = await runAlternating(
        options,
        profileDir,
        options.serverBins.map(({ dist, bin }, index) => ({
          name: several ? `${about} (${dist})` : about,
          engine: several ? `${name}-build${index + 1}` : name,
          run: (cpuProfiles) =>
            runOnce({
              bin: options.bin,
              serverBin: bin,
              load,
              timeoutMs: simulationTimeoutMs(load.events),
              cpuProfiles,
            }),
        })),
      );
      for (const { name: caseName, runs } of builds) {
        cases.push({ name: caseName, profile: name, load, runs, medians: medianFigures(runs) });
      }
    }
  }

  let latencyResults;
  if (options.latency) {
    latencyResults = await runLatencyProfile({
      bin: options.bin,
      runs: options.runs,
      events: options.events,
      timeoutMs: simulationTimeoutMs,
      log: (line) => process.stdout.write(`${line}\n`),
      series: options.series,
      shares: options.shares,
    });
    cases.push(...latencyResults.cases);
    process.stdout.write(
      `\nlatency against load (maximum ${Math.round(latencyResults.maxRate)} events/s;` +
        ` medians of ${options.runs} run${options.runs === 1 ? '' : 's'}; at rest,` +
        ` ${describeStalls(latencyResults.atRest)}):\n`,
    );
    for (const line of formatLatencyTable(latencyResults.series)) {
      process.stdout.write(`${line}\n`);
    }
    for (const { name, points } of latencyResults.series) {
      const missed = points.filter((point) => !sustained(point));
      if (missed.length === 0) continue;
      process.stdout.write(
        `${name}: did not sustain ${missed.map((point) => `${point.rate.toLocaleString('en-US')} (sent ${Math.round(point.sendRate).toLocaleString('en-US')})`).join(', ')} events/s: the source was held back, so its latency there includes that wait\n`,
      );
    }
    for (const line of p99Verdicts(latencyResults.series)) process.stdout.write(`${line}\n`);
    // A narrowed profile would overwrite the full chart with part of it.
    if (options.series === undefined && options.shares === undefined) {
      const chart = resolve(options.chart);
      mkdirSync(dirname(chart), { recursive: true });
      writeFileSync(
        chart,
        latencyChartSvg({
          title: 'follower-maze: notification latency against load, serve and cluster',
          series: latencyResults.series,
        }),
      );
      process.stdout.write(`bench: chart in ${chart}\n`);
    }
  }

  if (options.many !== undefined) {
    process.stdout.write(`\n${options.profile}, medians:\n`);
    for (const line of formatManyConnectionsTable(cases[0])) process.stdout.write(`${line}\n`);
  }
  if (options.many === undefined) {
    process.stdout.write(`\nmedians:\n`);
    const table = formatMedianTable(
      cases.map((each) => ({
        name: each.name,
        runs: each.runs.length,
        medians: each.medians ?? medianFigures(each.runs),
      })),
    );
    for (const line of table) process.stdout.write(`${line}\n`);
  }
  if (options.tls) {
    process.stdout.write(`\nserve with TLS against plain TCP, medians:\n`);
    for (const line of tlsCostLines(cases)) process.stdout.write(`${line}\n`);
  }
  if (options.cluster) {
    const load = options.loads[CLUSTER_LOAD];
    process.stdout.write(
      `\nserve against the cluster (ingest + ${options.gateways} gateways + nats-server),` +
        ` ${describeLoad(load, { clients: load.clients })} of ${load.users.toLocaleString('en-US')}` +
        ` users, medians:\n`,
    );
    const columns = cases.map((each) => ({
      name: each.engine,
      runs: each.runs.length,
      medians: each.medians,
    }));
    for (const line of formatComparisonTable(columns, comparisonFigures(options.gateways))) {
      process.stdout.write(`${line}\n`);
    }
    const model = cases.find((each) => each.engine === 'cluster')?.costModel;
    process.stdout.write(
      `\ncost model (scripts/bench/cost-model.mjs), medians of ${options.runs}` +
        ` run${options.runs === 1 ? '' : 's'}: a = ${formatFigure(model.replayMicrosPerEvent, 3)}` +
        ` µs per event a gateway applies, b = ${formatFigure(model.notificationMicros, 3)} µs` +
        ` per notification it delivers; ingest ${formatFigure(model.ingestMicrosPerEvent, 3)}` +
        ` µs per event, nats-server ${formatFigure(model.natsMicrosPerEvent, 3)} µs per event\n`,
    );
    for (const warning of costModelWarnings(model)) {
      process.stdout.write(`bench: cost model: ${warning}\n`);
    }
    for (const line of formatCostModel(model)) process.stdout.write(`${line}\n`);
  }

  mkdirSync(dirname(out), { recursive: true });
  const { bin, serverBins, profiles, loads, ...given } = options;
  const result = {
    startedAt: startedAt.toISOString(),
    ...about,
    options: { ...given, out },
    cases,
    ...(options.cluster && {
      costModel: costModelResult(cases.find((each) => each.engine === 'cluster')?.costModel),
    }),
    ...(latencyResults && {
      latency: {
        maxRate: latencyResults.maxRate,
        atRest: latencyResults.atRest,
        flatOut: latencyResults.flatOut,
        series: latencyResults.series,
      },
    }),
  };
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nbench: results in ${out}\n`);
  if (options['cpu-prof']) process.stdout.write(`bench: CPU profiles in ${profileDir}\n`);
}

/** The cost model's medians and its projection, as the JSON output records them. */
function costModelResult(model) {
  return {
    medians: model,
    headroom: HEADROOM,
    projectedEventsPerSecond: PROJECTED_EVENTS_PER_SECOND,
    projection: projectCapacity(model),
  };
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

/**
 * The figures of `npm run bench`: what each run measures, medians over runs, and the tables
 * printed at the end (the median table of every profile; for `--profile cluster`, a Markdown
 * table of serve against the cluster, process by process). Pure (no I/O), so
 * `__tests__/e2e/bench.test.ts` can check it.
 *
 * A figure may be `null` in a run (e.g. no `ps` to sample); medians skip nulls, and a
 * figure with no value in any run prints as `-`. In a cluster run the `server…` figures are
 * sums over its server processes (ingest, gateways, nats-server): the CPU they took together,
 * and the sum of their peak RSS (an upper bound of their RSS at any one time).
 */

/** Every per-run figure, in table order: its key in a run record, its column, its decimals. */
export const FIGURES = [
  { key: 'eventsPerSecond', label: 'events/s', decimals: 0 },
  { key: 'notificationsPerSecond', label: 'notifications/s', decimals: 0 },
  { key: 'seconds', label: 'wall s', decimals: 2 },
  { key: 'serverPeakRssMb', label: 'server RSS MB', decimals: 1 },
  { key: 'serverCpuSeconds', label: 'server CPU s', decimals: 2 },
  { key: 'simulatorCpuSeconds', label: 'sim CPU s', decimals: 2 },
  // CPU seconds over the simulator process's lifetime: the cores it kept busy (about 1 at
  // most, as it runs on one thread). Near 1, the simulator rather than the server may set
  // the pace. Not over the streaming time, which in a short run is far shorter than the
  // start-up and connecting the CPU time also counts (bench:ci printed "sim CPU share 3.51").
  { key: 'simulatorCores', label: 'sim cores busy', decimals: 2 },
];

/**
 * The server processes of a cluster of `gateways` gateways, in table order: the prefix of
 * their figures' keys in a run record (`ingestCpuSeconds`, `gateway1PeakRssMb`, …) and
 * their name in the tables.
 * @param {number} gateways
 * @returns {{ prefix: string, label: string }[]}
 */
export function clusterProcesses(gateways) {
  return [
    { prefix: 'ingest', label: 'ingest' },
    ...Array.from({ length: gateways }, (_, index) => ({
      prefix: `gateway${index + 1}`,
      label: `gateway ${index + 1}`,
    })),
    { prefix: 'nats', label: 'nats-server' },
  ];
}

/**
 * The rows of the serve-against-cluster table: the throughput, the server side's CPU and
 * peak RSS in total and per cluster process, then the simulator's.
 * @param {number} gateways
 * @returns {{ key: string, label: string, decimals: number }[]}
 */
export function comparisonFigures(gateways) {
  const figure = (key) => FIGURES.find((each) => each.key === key);
  return [
    figure('eventsPerSecond'),
    figure('notificationsPerSecond'),
    figure('seconds'),
    { key: 'serverCpuSeconds', label: 'server CPU s (cluster: all its processes)', decimals: 2 },
    {
      key: 'serverPeakRssMb',
      label: 'server peak RSS MB (cluster: sum of its processes)',
      decimals: 1,
    },
    ...clusterProcesses(gateways).flatMap(({ prefix, label }) => [
      { key: `${prefix}CpuSeconds`, label: `${label} CPU s`, decimals: 2 },
      { key: `${prefix}PeakRssMb`, label: `${label} peak RSS MB`, decimals: 1 },
    ]),
    { key: 'simulatorCpuSeconds', label: 'simulator CPU s', decimals: 2 },
    { key: 'simulatorCores', label: 'simulator cores busy', decimals: 2 },
    { key: 'simulatorPeakRssMb', label: 'simulator peak RSS MB', decimals: 1 },
  ];
}

/**
 * The median of `values`: the middle one, or the mean of the two middle ones.
 * @param {readonly number[]} values
 * @returns {number}
 */
export function median(values) {
  if (values.length === 0) throw new RangeError('median() needs at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * The median of every figure (default: `FIGURES`) over `runs`, each taken on its own.
 * @param {readonly Record<string, unknown>[]} runs
 * @param {readonly { key: string }[]} [figures]
 * @returns {Record<string, number | null>}
 */
export function medianFigures(runs, figures = FIGURES) {
  /** @type {Record<string, number | null>} */
  const medians = {};
  for (const { key } of figures) {
    const values = runs.map((run) => run[key]).filter((value) => typeof value === 'number');
    medians[key] = values.length === 0 ? null : median(values);
  }
  return medians;
}

/**
 * A figure as printed: thousands separated, fixed decimals, `-` when missing.
 * @param {number | null | undefined} value
 * @param {number} decimals
 */
export function formatFigure(value, decimals) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

/**
 * The median table: one row per case, one right-aligned column per figure.
 * @param {readonly { name: string, runs: number, medians: Record<string, number | null> }[]} rows
 * @returns {string[]} the lines, header first
 */
export function formatMedianTable(rows) {
  const header = ['case', 'runs', ...FIGURES.map((figure) => figure.label)];
  const body = rows.map((row) => [
    row.name,
    String(row.runs),
    ...FIGURES.map((figure) => formatFigure(row.medians[figure.key], figure.decimals)),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column].length)),
  );
  // The case name reads best left-aligned, numbers right-aligned.
  const line = (cells) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]),
      )
      .join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...body.map(line)];
}

/**
 * The Markdown table of serve against the cluster: one row per figure, one column per case
 * (its name and run count in the header), numbers right-aligned; `-` where a case has no
 * such figure (serve has no ingest).
 * @param {readonly { name: string, runs: number, medians: Record<string, number | null> }[]} columns
 * @param {readonly { key: string, label: string, decimals: number }[]} figures
 * @returns {string[]} the lines, header first
 */
export function formatComparisonTable(columns, figures) {
  const header = [
    'Median',
    ...columns.map(
      (column) => `${column.name} (${column.runs} run${column.runs === 1 ? '' : 's'})`,
    ),
  ];
  const body = figures.map((figure) => [
    figure.label,
    ...columns.map((column) => formatFigure(column.medians[figure.key], figure.decimals)),
  ]);
  return formatMarkdownTable([header, ...body]);
}

/**
 * A Markdown table, padded so that it reads as text too: the first column left-aligned,
 * the others (numbers) right-aligned.
 * @param {readonly (readonly string[])[]} rows the header first, then the body
 * @returns {string[]} the lines: header, rule, body
 */
export function formatMarkdownTable(rows) {
  const [header = [], ...body] = rows;
  const widths = header.map((title, index) =>
    Math.max(title.length, ...body.map((cells) => (cells[index] ?? '').length)),
  );
  const line = (/** @type {readonly string[]} */ cells) =>
    `| ${widths
      .map((width, index) =>
        index === 0 ? (cells[index] ?? '').padEnd(width) : (cells[index] ?? '').padStart(width),
      )
      .join(' | ')} |`;
  const rule = `| ${widths
    .map((width, index) => (index === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`))
    .join(' | ')} |`;
  return [line(header), rule, ...body.map(line)];
}

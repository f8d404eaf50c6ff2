/**
 * The figures of `npm run bench`: what each run measures, medians over runs, and the table
 * printed at the end. Pure (no I/O), so `__tests__/bench.test.ts` can check it.
 *
 * A figure may be `null` in a run (e.g. no `ps` to sample); medians skip nulls, and a
 * figure with no value in any run prints as `-`.
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
 * The median of every figure over `runs`, each taken on its own.
 * @param {readonly Record<string, number | null>[]} runs
 * @returns {Record<string, number | null>}
 */
export function medianFigures(runs) {
  /** @type {Record<string, number | null>} */
  const medians = {};
  for (const { key } of FIGURES) {
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

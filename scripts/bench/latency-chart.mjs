/**
 * The latency profile's table and chart, from its results: pure (no I/O), so
 * `__tests__/e2e/bench.test.ts` can check them.
 *
 * The chart is a hand-written SVG (no chart dependency): latency in ms on a log-scale y axis
 * against the offered load (the rate asked for, `--rate`) on a linear x axis, so a series
 * reads left to right even where the server could not keep up (the table gives the rate
 * achieved), gridlines and labels on both, one line per
 * series and percentile (p50, p99, p99.9), a series drawn solid or dashed, a percentile by its
 * colour, and a legend. A point where the rate asked for was not sustained (`sustained()`)
 * is drawn hollow. Every text is XML-escaped.
 */
import { formatFigure } from './figures.mjs';

const PLOT_WIDTH = 490;
const HEIGHT = 440;
const MARGIN = { left: 70, top: 40, bottom: 56 };
/** The legend: its gap from the plot, its line's length plus gap, and a generous width per
 * character of 12 px sans-serif, so that no name is cut off at the right edge. */
const LEGEND = { gap: 16, line: 34, charWidth: 7, end: 12 };
const PERCENTILES = [
  { key: 'p50', label: 'p50', colour: '#2b8a3e' },
  { key: 'p99', label: 'p99', colour: '#e67700' },
  { key: 'p999', label: 'p99.9', colour: '#c92a2a' },
];
const DASHES = ['', '6 4', '2 3', '10 3 2 3'];
const NOT_SUSTAINED = 'rate not sustained (hollow)';
/** A point sent less than this share of the rate asked for did not sustain it. */
export const SUSTAINED_SHARE = 0.95;

/**
 * One measured point of a series: the pace achieved (events/s) and the latency percentiles.
 * @typedef {{ rate: number, sendRate: number, p50: number, p90: number, p99: number,
 *   p999: number, max: number, label?: string, slowClientsDropped?: number,
 *   stalledShare?: number }} LatencyPoint
 * @typedef {{ name: string, points: LatencyPoint[] }} LatencySeries
 */

/**
 * Whether the server kept up with the rate asked for: the simulator sent at least
 * SUSTAINED_SHARE of it (it sends slower only when the server does not take the events).
 * @param {Pick<LatencyPoint, 'rate' | 'sendRate'>} point
 */
export function sustained(point) {
  return point.sendRate >= point.rate * SUSTAINED_SHARE;
}

/** @param {string} text */
export function escapeXml(text) {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/**
 * Powers of ten spanning `min..max` (at least one decade).
 * @param {number} min
 * @param {number} max
 */
export function decades(min, max) {
  const low = Math.floor(Math.log10(Math.max(min, 1e-3)));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(max, 1e-3))));
  const ticks = [];
  for (let power = low; power <= high; power++) ticks.push(10 ** power);
  return ticks;
}

/**
 * About `count` round ticks from 0 to at least `max` (1, 2 or 5 times a power of ten apart).
 * @param {number} max
 * @param {number} count
 */
export function linearTicks(max, count = 5) {
  const raw = Math.max(max, 1) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((factor) => factor * power).find((each) => each >= raw) ?? raw;
  const ticks = [];
  for (let tick = 0; tick < max + step; tick += step) ticks.push(tick);
  return ticks;
}

/** @param {number} value */
function formatTick(value) {
  if (value >= 1_000_000) return `${value / 1_000_000}M`;
  if (value >= 1_000) return `${value / 1_000}k`;
  return String(value);
}

/** @param {number} ms */
function formatMs(ms) {
  return ms >= 1 ? String(ms) : ms.toString().replace(/^0\./, '.');
}

/**
 * The chart as an SVG document.
 * @param {{ title: string, series: LatencySeries[] }} chart
 * @returns {string}
 */
export function latencyChartSvg({ title, series }) {
  const points = series.flatMap((each) => each.points);
  const values = points.flatMap((point) => PERCENTILES.map(({ key }) => point[key]));
  const positive = values.filter((value) => value > 0);
  const yTicks = decades(Math.min(...positive, 0.1), Math.max(...positive, 1));
  const xTicks = linearTicks(Math.max(...points.map((point) => point.rate), 1));
  const legendChars = Math.max(
    ...series.flatMap((each) => PERCENTILES.map(({ label }) => `${each.name} ${label}`.length)),
    NOT_SUSTAINED.length,
  );
  const plotWidth = PLOT_WIDTH;
  const width =
    MARGIN.left +
    plotWidth +
    LEGEND.gap +
    LEGEND.line +
    legendChars * LEGEND.charWidth +
    LEGEND.end;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const xMax = /** @type {number} */ (xTicks.at(-1));
  const yMin = /** @type {number} */ (yTicks[0]);
  const yMax = /** @type {number} */ (yTicks.at(-1));
  const x = (/** @type {number} */ rate) => MARGIN.left + (rate / xMax) * plotWidth;
  const y = (/** @type {number} */ ms) => {
    const clamped = Math.min(yMax, Math.max(yMin, ms));
    const share = (Math.log10(clamped) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin));
    return MARGIN.top + plotHeight * (1 - share);
  };
  const round = (/** @type {number} */ value) => value.toFixed(1);

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    '<g class="grid" stroke="#dddddd" stroke-width="1">',
  ];
  for (const tick of yTicks) {
    parts.push(
      `<line x1="${MARGIN.left}" y1="${round(y(tick))}" x2="${MARGIN.left + plotWidth}" y2="${round(y(tick))}"/>`,
    );
  }
  for (const tick of xTicks) {
    parts.push(
      `<line x1="${round(x(tick))}" y1="${MARGIN.top}" x2="${round(x(tick))}" y2="${MARGIN.top + plotHeight}"/>`,
    );
  }
  parts.push('</g>');
  parts.push('<g class="axes" stroke="#333333" stroke-width="1">');
  parts.push(
    `<line x1="${MARGIN.left}" y1="${MARGIN.top + plotHeight}" x2="${MARGIN.left + plotWidth}" y2="${MARGIN.top + plotHeight}"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${MARGIN.top + plotHeight}"/>`,
  );
  parts.push('</g>');
  parts.push('<g class="tick-labels" fill="#333333">');
  for (const tick of yTicks) {
    parts.push(
      `<text x="${MARGIN.left - 6}" y="${round(y(tick) + 4)}" text-anchor="end">${formatMs(tick)}</text>`,
    );
  }
  for (const tick of xTicks) {
    parts.push(
      `<text x="${round(x(tick))}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle">${formatTick(tick)}</text>`,
    );
  }
  parts.push('</g>');
  parts.push(
    `<text class="axis-label" x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 14}" text-anchor="middle">offered load: events/s asked (--rate)</text>`,
    `<text class="axis-label" x="18" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 18 ${MARGIN.top + plotHeight / 2})">latency, ms (log scale)</text>`,
  );

  const legend = [];
  series.forEach((each, index) => {
    const dash = DASHES[index % DASHES.length];
    const sorted = [...each.points].sort((a, b) => a.rate - b.rate);
    for (const percentile of PERCENTILES) {
      const path = sorted
        .map((point) => `${round(x(point.rate))},${round(y(point[percentile.key]))}`)
        .join(' ');
      const dashAttribute = dash === '' ? '' : ` stroke-dasharray="${dash}"`;
      const name = `${each.name} ${percentile.label}`;
      parts.push(
        `<polyline class="series" data-series="${escapeXml(name)}" fill="none" stroke="${percentile.colour}" stroke-width="2"${dashAttribute} points="${path}"/>`,
      );
      for (const point of sorted) {
        const fill = sustained(point)
          ? `fill="${percentile.colour}"`
          : `fill="#ffffff" stroke="${percentile.colour}" stroke-width="1.5"`;
        parts.push(
          `<circle cx="${round(x(point.rate))}" cy="${round(y(point[percentile.key]))}" r="2.5" ${fill}/>`,
        );
      }
      legend.push({ name, colour: percentile.colour, dashAttribute });
    }
  });
  parts.push('<g class="legend">');
  const left = MARGIN.left + plotWidth + LEGEND.gap;
  legend.forEach((entry, index) => {
    const top = MARGIN.top + 10 + index * 18;
    parts.push(
      `<line x1="${left}" y1="${top}" x2="${left + 28}" y2="${top}" stroke="${entry.colour}" stroke-width="2"${entry.dashAttribute}/>`,
      `<text x="${left + LEGEND.line}" y="${top + 4}">${escapeXml(entry.name)}</text>`,
    );
  });
  if (!points.every(sustained)) {
    const top = MARGIN.top + 10 + legend.length * 18;
    parts.push(
      `<circle cx="${left + 14}" cy="${top}" r="2.5" fill="#ffffff" stroke="#333333" stroke-width="1.5"/>`,
      `<text x="${left + LEGEND.line}" y="${top + 4}">${NOT_SUSTAINED}</text>`,
    );
  }
  parts.push('</g>');
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * The latency table as Markdown, one row per point of each series.
 * @param {LatencySeries[]} series
 * @returns {string[]}
 */
export function formatLatencyTable(series) {
  const lines = [
    '| Series | Load | Asked events/s | Sent events/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | Dropped as slow | Machine stalled % |',
    '| ------ | ---- | -------------: | ------------: | -----: | -----: | -----: | -------: | -----: | --------------: | ----------------: |',
  ];
  for (const each of series) {
    for (const point of each.points) {
      lines.push(
        `| ${each.name} | ${point.label ?? ''} | ${formatFigure(point.rate, 0)} | ${formatFigure(point.sendRate, 0)} |` +
          ` ${formatFigure(point.p50, 3)} | ${formatFigure(point.p90, 3)} | ${formatFigure(point.p99, 3)} |` +
          ` ${formatFigure(point.p999, 3)} | ${formatFigure(point.max, 3)} | ${formatFigure(point.slowClientsDropped, 0)} |` +
          ` ${formatFigure(point.stalledShare === undefined ? undefined : point.stalledShare * 100, 2)} |`,
      );
    }
  }
  return lines;
}

/**
 * The p99 each run of a point is held to, by point: the target rate's and half the
 * maximum's (`p99Verdicts()`).
 */
export const P99_BOUNDS = [
  { label: 'target', boundMs: 2 },
  { label: '50% of max', boundMs: 10 },
];
/**
 * For each point held to a bound (P99_BOUNDS), how many of its runs kept p99 within it, as
 * lines: `serve at 100,000 events/s (target): p99 by run 1.2, 1.9, 2.4 ms; 2 of 3 within 2 ms`.
 * @param {{ name: string, points: Record<string, any>[] }[]} series
 */
export function p99Verdicts(series) {
  const lines = [];
  for (const { name, points } of series) {
    for (const { label, boundMs } of P99_BOUNDS) {
      const point = points.find((each) => each.label === label);
      if (point === undefined) continue;
      const within = point.p99ByRun.filter((p99) => p99 <= boundMs).length;
      lines.push(
        `${name} at ${point.rate.toLocaleString('en-US')} events/s (${label}): p99 by run` +
          ` ${point.p99ByRun.join(', ')} ms; ${within} of ${point.p99ByRun.length} within ${boundMs} ms`,
      );
    }
  }
  return lines;
}

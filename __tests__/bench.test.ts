import { describe, expect, it } from '@jest/globals';
import {
  FIGURES,
  formatFigure,
  formatMedianTable,
  median,
  medianFigures,
} from '../scripts/bench/figures.mjs';
import {
  decades,
  formatLatencyTable,
  latencyChartSvg,
  linearTicks,
} from '../scripts/bench/latency-chart.mjs';

describe('median', () => {
  it('takes the middle value of an odd count, in any order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([7])).toBe(7);
  });

  it('averages the two middle values of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('sorts numerically, not as strings, and leaves its input alone', () => {
    const values = [10, 9, 100];
    expect(median(values)).toBe(10);
    expect(values).toEqual([10, 9, 100]);
  });

  it('refuses no values', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('medianFigures', () => {
  it('takes each figure on its own and skips missing values', () => {
    const runs = [
      { eventsPerSecond: 100, serverPeakRssMb: null },
      { eventsPerSecond: 300, serverPeakRssMb: 50 },
      { eventsPerSecond: 200, serverPeakRssMb: 70 },
    ];
    const medians = medianFigures(runs);
    expect(medians.eventsPerSecond).toBe(200);
    expect(medians.serverPeakRssMb).toBe(60);
    expect(medians.simulatorCores).toBeNull();
    expect(Object.keys(medians)).toEqual(FIGURES.map((figure) => figure.key));
  });
});

describe('formatMedianTable', () => {
  it('prints a header, a rule and one aligned row per case, - for a missing figure', () => {
    const lines = formatMedianTable([
      { name: 'default', runs: 3, medians: { eventsPerSecond: 1234567.8, seconds: 4.5 } },
    ]);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^case\s+runs\s+events\/s/);
    expect(lines[2]).toMatch(/^default\s+3\s+1,234,568\s+-\s+4\.50\s/);
    expect(new Set(lines.map((line) => line.length)).size).toBe(1);
  });

  it('formats figures with fixed decimals', () => {
    expect(formatFigure(0.3333, 2)).toBe('0.33');
    expect(formatFigure(Number.NaN, 2)).toBe('-');
  });
});

describe('latency chart', () => {
  const point = (rate: number, p50: number, p99: number, p999: number) => ({
    rate,
    sendRate: rate * 0.99,
    p50,
    p90: (p50 + p99) / 2,
    p99,
    p999,
    max: p999 * 2,
    label: `${rate}`,
  });
  const series = [
    { name: 'serve', points: [point(100_000, 0.4, 1.5, 4), point(50_000, 0.3, 1, 3)] },
    { name: 'serve, 1 stalled <client>', points: [point(50_000, 0.3, 1.2, 300)] },
  ];
  const svg = latencyChartSvg({ title: 'latency & load', series });

  it('is well-formed XML: every tag closed in order, text escaped', () => {
    const open: string[] = [];
    for (const match of svg.matchAll(/<(\/?)([a-z]+)\b[^>]*?(\/?)>/g)) {
      const [, closing, name, selfClosing] = match;
      if (selfClosing === '/') continue;
      if (closing === '/') expect(open.pop()).toBe(name);
      else open.push(name as string);
    }
    expect(open).toEqual([]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('latency &amp; load');
    expect(svg).not.toMatch(/<client>/);
    // Outside tags, no raw < or & other than entities.
    const text = svg.replace(/<[^>]*>/g, '');
    expect(text).not.toMatch(/[<>]|&(?!amp;|lt;|gt;|quot;)/);
  });

  it('draws p50, p99 and p99.9 of every series, with axis labels', () => {
    for (const name of ['serve', 'serve, 1 stalled &lt;client&gt;']) {
      for (const percentile of ['p50', 'p99', 'p99.9']) {
        expect(svg).toContain(`data-series="${name} ${percentile}"`);
      }
    }
    expect(svg.match(/<polyline /g)).toHaveLength(6);
    expect(svg).toContain('offered load: events/s asked (--rate)');
    expect(svg).toContain('latency, ms (log scale)');
    expect(svg).toContain('>100k<');
  });

  it('spans whole decades on the y axis and round steps on the x axis', () => {
    expect(decades(0.3, 300)).toEqual([0.1, 1, 10, 100, 1_000]);
    expect(decades(0.5, 0.7)).toEqual([0.1, 1]);
    expect(linearTicks(99_000)).toEqual([0, 20_000, 40_000, 60_000, 80_000, 100_000]);
  });

  it('tabulates every point', () => {
    const lines = formatLatencyTable(series);
    expect(lines).toHaveLength(2 + 3);
    expect(lines[2]).toBe(
      '| serve | 100000 | 100,000 | 99,000 | 0.400 | 0.950 | 1.500 | 4.000 | 8.000 | - |',
    );
  });
});

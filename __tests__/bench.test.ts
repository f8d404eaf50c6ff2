import { describe, expect, it } from '@jest/globals';
import {
  FIGURES,
  formatFigure,
  formatMedianTable,
  median,
  medianFigures,
} from '../scripts/bench/figures.mjs';

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

/**
 * The simulator's page, `docs/simulator.md`, must list every option (flag, environment
 * variable, default) as `SIMULATE_OPTIONS` defines them, and `docs/errors.md` every failure
 * code of `SimulationErrorCode`, and no other.
 */
import { describe, expect, it } from '@jest/globals';
import { SimulationErrorCode } from '../lib/simulate/index.js';
import { SIMULATE_OPTIONS } from '../lib/simulate/options.js';
import { firstCells, page, section } from './helpers/markdown.js';

describe('docs/simulator.md and the simulator failures of docs/errors.md', () => {
  // Table rows as trimmed cells, whatever the column padding.
  const rows = page('docs/simulator.md')
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.split('|').map((cell) => cell.trim()));
  const failures = section(page('docs/errors.md'), 'Simulator failures');

  it.each(Object.entries(SIMULATE_OPTIONS))('documents %s', (_name, definition) => {
    const row = rows.find((cells) => cells[1] === `\`${definition.flag}\``);
    expect(row).toBeDefined();
    expect(row?.[2]).toBe('env' in definition ? `\`${definition.env}\`` : '–');
    expect(row?.[3]).toBe(`\`${definition.defaultDescription}\``);
  });

  it.each(Object.values(SimulationErrorCode))('documents %s', (code) => {
    expect(firstCells(failures, code)).toEqual([code]);
  });

  it('documents no failure code that does not exist', () => {
    expect(firstCells(failures, 'ERR_').sort()).toEqual(Object.values(SimulationErrorCode).sort());
  });
});

/**
 * The simulator's page, `docs/simulator.md`, must list every option (flag, environment
 * variables, default) as `SIMULATE_COMMAND_OPTIONS` defines them (`node
 * scripts/options-table.mjs simulate` prints the table), and `docs/errors.md` every failure
 * code of `SimulationErrorCode`, and no other.
 */
import { describe, expect, it } from '@jest/globals';
import {
  type CommandOption,
  envOf,
  flagOf,
  SIMULATE_COMMAND_OPTIONS,
} from '../../lib/cli/options.js';
import { defaultText } from '../../lib/options/option.js';
import { SimulationErrorCode } from '../../lib/simulate/index.js';
import { cells, firstCells, page, section } from '../helpers/markdown.js';

describe('docs/simulator.md and the simulator failures of docs/errors.md', () => {
  // Table rows as trimmed cells, whatever the column padding.
  const rows = page('docs/simulator.md')
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map(cells);
  const failures = section(page('docs/errors.md'), 'Simulator failures');
  const options: readonly CommandOption[] = SIMULATE_COMMAND_OPTIONS;

  it.each(options.map((option) => [option.name, option] as const))(
    'documents %s',
    (_name, option) => {
      const row = rows.find((cells) => cells[0] === `\`--${flagOf(option)}\``);
      expect(row).toBeDefined();
      const variables = [envOf(option), ...(option.aliases ?? [])];
      expect(row?.[1]).toBe(variables.map((name) => `\`${name}\``).join(', '));
      expect(row?.[2]).toBe(`\`${defaultText(option)}\``);
    },
  );

  it('documents no option that does not exist', () => {
    const documented = rows.map((cells) => cells[0]).filter((cell) => cell?.startsWith('`--'));
    expect(documented.sort()).toEqual(options.map((option) => `\`--${flagOf(option)}\``).sort());
  });

  it.each(Object.values(SimulationErrorCode))('documents %s', (code) => {
    expect(firstCells(failures, code)).toEqual([code]);
  });

  it('documents no failure code that does not exist', () => {
    expect(firstCells(failures, 'ERR_').sort()).toEqual(Object.values(SimulationErrorCode).sort());
  });
});

/**
 * The README's simulator section must list every option (flag, environment variables,
 * default) and every failure code, as `SIMULATE_COMMAND_OPTIONS` and `SimulationErrorCode`
 * define them (`node scripts/options-table.mjs simulate` prints the table). Skipped until
 * the README has a `## Simulator` section.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { type CommandOption, envOf, flagOf, SIMULATE_COMMAND_OPTIONS } from '../lib/cli/options.js';
import { defaultText } from '../lib/options/option.js';
import { SimulationErrorCode } from '../lib/simulate/index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = /^## Simulator\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(README)?.[1];
const whenDocumented = section === undefined ? it.skip : it;

describe('README: the simulator section', () => {
  // Table rows as trimmed cells, whatever the column padding.
  const rows = (section ?? '')
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.split('|').map((cell) => cell.trim()));
  const options: readonly CommandOption[] = SIMULATE_COMMAND_OPTIONS;

  whenDocumented.each(options.map((option) => [option.name, option] as const))(
    'documents %s',
    (_name, option) => {
      const row = rows.find((cells) => cells[1] === `\`--${flagOf(option)}\``);
      expect(row).toBeDefined();
      const variables = [envOf(option), ...(option.aliases ?? [])];
      expect(row?.[2]).toBe(variables.map((name) => `\`${name}\``).join(', '));
      expect(row?.[3]).toBe(`\`${defaultText(option)}\``);
    },
  );

  whenDocumented.each(Object.values(SimulationErrorCode))('documents %s', (code) => {
    expect(section).toContain(`\`${code}\``);
  });
});

/**
 * The README's simulator section must list every option (flag, environment variable,
 * default) and every failure code, as `SIMULATE_OPTIONS` and `SimulationErrorCode` define
 * them. Skipped until the README has a `## Simulator` section.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { SimulationErrorCode } from '../lib/simulate/index.js';
import { SIMULATE_OPTIONS } from '../lib/simulate/options.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = /^## Simulator\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(README)?.[1];
const whenDocumented = section === undefined ? it.skip : it;

describe('README: the simulator section', () => {
  // Table rows as trimmed cells, whatever the column padding.
  const rows = (section ?? '')
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) => line.split('|').map((cell) => cell.trim()));

  whenDocumented.each(Object.entries(SIMULATE_OPTIONS))('documents %s', (_name, definition) => {
    const row = rows.find((cells) => cells[1] === `\`${definition.flag}\``);
    expect(row).toBeDefined();
    expect(row?.[2]).toBe('env' in definition ? `\`${definition.env}\`` : '–');
    expect(row?.[3]).toBe(`\`${definition.defaultDescription}\``);
  });

  whenDocumented.each(Object.values(SimulationErrorCode))('documents %s', (code) => {
    expect(section).toContain(`\`${code}\``);
  });
});

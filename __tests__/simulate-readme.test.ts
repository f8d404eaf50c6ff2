/**
 * The README's simulator section must list every option (flag, environment variable,
 * default) and every failure code, as `SIMULATE_OPTIONS` and `SimulationErrorCode` define
 * them. Skipped until the README has a `## Simulator` section.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { SIMULATE_OPTIONS, SimulationErrorCode } from '../lib/simulate/index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const section = /^## Simulator\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(README)?.[1];
const whenDocumented = section === undefined ? it.skip : it;

describe('README: the simulator section', () => {
  whenDocumented.each(Object.entries(SIMULATE_OPTIONS))('documents %s', (_name, definition) => {
    const row = section?.split('\n').find((line) => line.startsWith(`| \`${definition.flag}\` |`));
    expect(row).toBeDefined();
    if ('env' in definition) expect(row).toContain(`\`${definition.env}\``);
    expect(row).toContain(`\`${definition.defaultDescription}\``);
  });

  whenDocumented.each(Object.values(SimulationErrorCode))('documents %s', (code) => {
    expect(section).toContain(`\`${code}\``);
  });
});

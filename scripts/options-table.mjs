#!/usr/bin/env node
/**
 * Prints the option table of `docs/cli.md` from the option lists of the BUILT package
 * (`npm run build` first), so the page is regenerated, never hand-edited:
 *
 *   node scripts/options-table.mjs            # print it
 *   node scripts/options-table.mjs --write    # replace the table in docs/cli.md
 *   node scripts/options-table.mjs simulate   # print the simulator's table (docs/simulator.md)
 *
 * `__tests__/docs/pages.test.ts` checks every cell against `SERVER_OPTIONS` (lib/cli/options.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  envOf,
  flagOf,
  SERVER_OPTIONS,
  SIMULATE_COMMAND_OPTIONS,
} from '../dist/lib/cli/options.js';
import { defaultText } from '../dist/lib/options/option.js';

const PAGE = new URL('../docs/cli.md', import.meta.url);

const simulate = process.argv.includes('simulate');
const rows = simulate
  ? [
      ['Option', 'Environment variable', 'Default', 'Meaning'],
      ...SIMULATE_COMMAND_OPTIONS.map((option) => [
        `\`--${flagOf(option)}\``,
        [envOf(option), ...(option.aliases ?? [])].map((name) => `\`${name}\``).join(', '),
        `\`${defaultText(option)}\``,
        option.describe,
      ]),
    ]
  : [
      ['Option', 'Commands', 'Environment variable', 'Default', 'Meaning'],
      ...SERVER_OPTIONS.map((spec) => [
        `\`--${flagOf(spec)}\``,
        spec.commands.join(', '),
        `\`${envOf(spec)}\``,
        `\`${defaultText(spec)}\``,
        spec.describe,
      ]),
      ['`--help`, `-h`', '', '', '', 'Show the options'],
      ['`--version`, `-v`', '', '', '', 'Show the version'],
    ];
// A cell's own `|` is escaped, in code too (the default delimiter).
const escaped = rows.map((row) => row.map((cell) => cell.replaceAll('|', '\\|')));
const widths = escaped[0].map((_, column) => Math.max(...escaped.map((row) => row[column].length)));
const line = (row) => `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
const table = [
  line(escaped[0]),
  `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`,
  ...escaped.slice(1).map(line),
].join('\n');

if (simulate || !process.argv.includes('--write')) {
  console.log(table);
} else {
  const lines = readFileSync(PAGE, 'utf8').split('\n');
  const start = lines.findIndex((text) =>
    /^\| Option +\|( Commands +\|)? Environment variable/.test(text),
  );
  if (start === -1) throw new Error('docs/cli.md has no option table');
  let end = start;
  while (end < lines.length && lines[end].startsWith('|')) end++;
  lines.splice(start, end - start, table);
  writeFileSync(PAGE, lines.join('\n'));
}

/**
 * The README documents what the code defines, so that neither can drift: the set-up
 * commands of its first screen, every `serve` option with its environment variable and
 * default, every library option, every `ErrorCode`, and every example. The simulator's
 * section is checked by `simulate-readme.test.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ADAPTER_OPTIONS, resolveMazeOptions } from '../lib/adapter/options.js';
import { type CommandOption, envOf, flagOf, SERVER_OPTIONS } from '../lib/cli/options.js';
import { ErrorCode } from '../lib/core/errors.js';
import { LISTEN_OPTIONS } from '../lib/net/options.js';
import { defaultText } from '../lib/options/option.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SCRIPTS = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

/** The text under `## title`, up to the next `## ` heading. */
function section(title: string): string {
  const match = new RegExp(`^## ${title}\\n([\\s\\S]*?)(?=^## |(?![\\s\\S]))`, 'm').exec(README);
  if (match?.[1] === undefined) throw new Error(`README has no "## ${title}" section`);
  return match[1];
}

/**
 * The cells of the table row of `text` whose first cell is `` `name` ``, trimmed (the
 * formatter pads tables), or `undefined` when there is no such row.
 */
function row(text: string, name: string): string[] | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`| \`${name}\` `));
  return line
    ?.split('|')
    .slice(1, -1)
    .map((cell) => cell.trim());
}

/** The first cells (without backticks) of every table row of `text` that starts with `start`. */
function firstCells(text: string, start: string): string[] {
  const cells: string[] = [];
  for (const match of text.matchAll(new RegExp(`^\\| \`(${start}[^\`]*)\``, 'gm'))) {
    cells.push(match[1] as string);
  }
  return cells;
}

describe('README', () => {
  it('opens with exactly the two set-up commands, and both scripts exist', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(README)?.[1] ?? '';
    const commands = firstBlock
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    expect(commands).toEqual(['npm ci && npm start', 'npm ci && npm test']);
    expect(SCRIPTS.start).toBeDefined();
    expect(SCRIPTS.test).toBeDefined();
  });

  describe('server command line', () => {
    const text = section('Server command line');

    const options: readonly CommandOption[] = SERVER_OPTIONS;
    it.each(options.map((spec) => [flagOf(spec), spec] as const))(
      'documents --%s with its commands, environment variable, default and meaning',
      (flag, spec) => {
        // Every cell derives from the option table, the meaning included.
        expect(row(text, `--${flag}`)?.slice(1, 5)).toEqual([
          spec.commands.join(', '),
          `\`${envOf(spec)}\``,
          `\`${defaultText(spec)}\``,
          spec.describe,
        ]);
      },
    );

    it('documents no option that does not exist', () => {
      const flags = SERVER_OPTIONS.map((spec) => `--${flagOf(spec)}`);
      const documented = firstCells(text, '--').filter(
        (flag) => flag !== '--help' && flag !== '--version',
      );
      expect(documented.sort()).toEqual([...flags].sort());
    });
  });

  describe('library options', () => {
    const text = section('Library API');
    const defaults: Record<string, unknown> = {
      host: LISTEN_OPTIONS.host.default,
      eventPort: LISTEN_OPTIONS.eventPort.default,
      clientPort: LISTEN_OPTIONS.clientPort.default,
      ...resolveMazeOptions(),
      // Resolved, it is this machine's descriptor limit minus the reserve; documented as 0.
      maxClients: ADAPTER_OPTIONS.maxClients.default,
    };

    it.each(Object.entries(defaults))('documents %s with its default', (name, value) => {
      expect(row(text, name)?.[1]).toBe(`\`${String(value)}\``);
    });
  });

  describe('errors', () => {
    const text = section('Errors');

    it.each(Object.values(ErrorCode))('documents %s', (code) => {
      expect(row(text, code)).toBeDefined();
    });

    it('documents no code that does not exist', () => {
      expect(firstCells(text, 'ERR_').sort()).toEqual(Object.values(ErrorCode).sort());
    });
  });

  it('links every example', () => {
    const examples = readdirSync(new URL('../examples', import.meta.url)).filter(
      (file) => file !== 'tsconfig.json',
    );
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const file of examples) expect(README).toContain(`(examples/${file})`);
  });
});

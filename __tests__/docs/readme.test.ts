/**
 * The README is what a user reads in one sitting: at most 20 KB, the two set-up commands on
 * its first screen, the most used options as the code defines them, a link to every page of
 * `docs/` and to every example, and no lab notes. The pages themselves are checked by
 * `pages.test.ts`.
 */
import { readdirSync, statSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { flagOf, SERVER_OPTIONS } from '../../lib/cli/options.js';
import { defaultText } from '../../lib/options/option.js';
import { firstCells, page, ROOT, row, section, withoutCode } from '../helpers/markdown.js';

const README = page('README.md');
const SCRIPTS = (JSON.parse(page('package.json')) as { scripts: Record<string, string> }).scripts;
const MAX_README_BYTES = 20 * 1024;
/** A terminal's first screen. */
const FIRST_SCREEN_LINES = 24;

describe('README', () => {
  it('is at most 20 KB', () => {
    expect(statSync(new URL('README.md', ROOT)).size).toBeLessThanOrEqual(MAX_README_BYTES);
  });

  it('opens with exactly the two set-up commands on its first screen, and both scripts exist', () => {
    const firstScreen = README.split('\n').slice(0, FIRST_SCREEN_LINES).join('\n');
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(firstScreen)?.[1] ?? '';
    const commands = firstBlock
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    expect(commands).toEqual(['npm ci && npm start', 'npm ci && npm test']);
    expect(SCRIPTS.start).toBeDefined();
    expect(SCRIPTS.test).toBeDefined();
  });

  it('has a quick start for each of the three uses: server, library, pure core', () => {
    const quickStart = section(README, 'Quick start');
    expect(quickStart).toContain('node dist/bin/follower-maze.js');
    expect(quickStart).toMatch(/import \{[^}]*\bcreateMaze\b[^}]*\} from 'follower-maze'/);
    expect(quickStart).toMatch(/import \{[^}]*\bMazeCore\b[^}]*\} from 'follower-maze'/);
  });

  it('shows ten of the most used options, each with the default the option table gives it', () => {
    const flags = firstCells(section(README, 'Run the server'), '--');
    expect(flags).toHaveLength(10);
    for (const flag of flags) {
      const spec = SERVER_OPTIONS.find((candidate) => `--${flagOf(candidate)}` === flag);
      expect(spec).toBeDefined();
      if (spec !== undefined) {
        expect(row(README, flag)?.[1]).toBe(`\`${defaultText(spec)}\``);
      }
    }
  });

  it('links every page of docs/', () => {
    const pages = readdirSync(new URL('docs', ROOT)).filter((file) => file.endsWith('.md'));
    expect(pages.length).toBeGreaterThanOrEqual(8);
    for (const file of pages) expect(README).toContain(`](docs/${file})`);
  });

  it('links every example', () => {
    const examples = readdirSync(new URL('examples', ROOT)).filter(
      (file) => file !== 'tsconfig.json',
    );
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const file of examples) expect(README).toContain(`(examples/${file})`);
  });

  it('keeps the copy-paste cluster block', () => {
    expect(section(README, 'A local cluster, copy-paste')).toMatch(
      /```sh\n[\s\S]*ingest[\s\S]*```/,
    );
  });

  it('holds no dated lab notes and does not present the package as published on npm', () => {
    expect(README).not.toMatch(/\b20\d\d-\d\d-\d\d\b/);
    // npx fetches the package from the registry: it works once the package is published.
    const prose = withoutCode(README).split('\n');
    for (const line of prose.filter((text) => text.includes('npx follower-maze'))) {
      expect(line).toContain('published');
    }
  });
});

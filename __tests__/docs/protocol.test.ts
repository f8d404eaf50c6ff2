/**
 * `docs/protocol.md` is the contract the code cites, so every citation must resolve: each
 * `SPEC n` or `docs/protocol.md §n` (lists and ranges too: `SPEC 2, 5-8`, `§2, §5-8`) in
 * `lib/`, `bin/`, `scripts/` and `__tests__/` names a `## n.` section of the document, and
 * is spelled the second way: `SPEC n` named a document outside the repository.
 * The document also names every `ErrorCode`, and no code that does not exist.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const PROTOCOL = readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const CITING_DIRECTORIES = ['lib', 'bin', 'scripts', '__tests__'];
const SOURCE_FILE = /\.(?:[cm]?ts|[cm]?js)$/;

/** One section number or a range of them, each optionally written with `§`. */
const ITEM = String.raw`§?\d+(?:\s*[-–]\s*§?\d+)?`;
const LIST = String.raw`${ITEM}(?:\s*,\s*${ITEM})*`;
const CITATION = new RegExp(
  String.raw`(?:\bSPEC\s+(?:sections?\s+)?|docs/protocol\.md\s*(?:§§?\s*|sections?\s+))(${LIST})`,
  'g',
);

/** The section numbers of `## n. Title` headings, in document order. */
function sectionNumbers(markdown: string): number[] {
  return [...markdown.matchAll(/^## (\d+)\. \S/gm)].map((match) => Number(match[1]));
}

/** The section numbers a citation list names: `2, 5-8` is 2, 5, 6, 7 and 8. */
function citedSections(list: string): number[] {
  const sections: number[] = [];
  for (const item of list.split(',')) {
    const [from, to = from] = item.replaceAll('§', '').split(/[-–]/).map(Number) as [number];
    for (let section = from; section <= to; section++) sections.push(section);
  }
  return sections;
}

/** Every citation in `text`: the text as written and the sections it names. */
function citations(text: string): { cited: string; sections: number[] }[] {
  return [...text.matchAll(CITATION)].map((match) => ({
    cited: match[0],
    sections: citedSections(match[1] as string),
  }));
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return SOURCE_FILE.test(name) ? [path] : [];
  });
}

describe('docs/protocol.md', () => {
  const sections = sectionNumbers(PROTOCOL);

  it('numbers its sections 1 to 12 without gaps, then records its choices', () => {
    expect(sections).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
    expect(PROTOCOL).toMatch(/^## Recorded choices$/m);
  });

  it('reads citations in both spellings, with lists and ranges', () => {
    expect(citations('(SPEC 2, 5-8)')).toEqual([
      { cited: 'SPEC 2, 5-8', sections: [2, 5, 6, 7, 8] },
    ]);
    expect(citations('(SPEC sections 1-3).')[0]?.sections).toEqual([1, 2, 3]);
    expect(citations('see docs/protocol.md §2, §5–6')[0]?.sections).toEqual([2, 5, 6]);
    expect(citations('docs/protocol.md §§ 4-5')[0]?.sections).toEqual([4, 5]);
    expect(citations('one per SPEC tunable')).toEqual([]);
  });

  it('has every section that the code and the tests cite', () => {
    const found: string[] = [];
    const unresolved: string[] = [];
    const outside: string[] = [];
    for (const directory of CITING_DIRECTORIES) {
      for (const file of sourceFiles(join(ROOT, directory))) {
        if (file === fileURLToPath(import.meta.url)) continue;
        const text = readFileSync(file, 'utf8');
        for (const { cited, sections: named } of citations(text)) {
          const where = `${relative(ROOT, file)}: ${cited}`;
          found.push(where);
          if (named.some((section) => !sections.includes(section))) unresolved.push(where);
          // `SPEC n` named a document outside the repository: cite the one inside it.
          if (cited.startsWith('SPEC')) outside.push(where);
        }
      }
    }
    // The code cites the contract in dozens of places: finding none means the pattern broke.
    expect(found.length).toBeGreaterThanOrEqual(50);
    expect(unresolved).toEqual([]);
    expect(outside).toEqual([]);
  });

  it.each(Object.values(ErrorCode))('names %s', (code) => {
    expect(PROTOCOL).toMatch(new RegExp(`\`${code}\``));
  });

  it('names no code that does not exist', () => {
    const named = new Set(PROTOCOL.match(/\bERR_[A-Z][A-Z_]*/g));
    expect([...named].sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('is linked from the README', () => {
    expect(README).toContain('](docs/protocol.md)');
  });
});

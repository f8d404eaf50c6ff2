/**
 * Reading the repository's Markdown for the doc tests: a page's text, a section of it, the
 * cells of a table row, and its relative links with the headings they may point at.
 */
import { readFileSync } from 'node:fs';

export const ROOT = new URL('../../', import.meta.url);

/** The text of `path`, relative to the repository root. */
export function page(path: string): string {
  return readFileSync(new URL(path, ROOT), 'utf8');
}

/** `markdown` without its fenced code blocks (whose `#` lines are no headings). */
export function withoutCode(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** The text under the heading `title` (any level), up to the next heading of its level or above. */
export function section(markdown: string, title: string): string {
  const lines = markdown.split('\n');
  let inCode = false;
  let level = 0;
  const body: string[] = [];
  for (const line of lines) {
    if (line.startsWith('```')) inCode = !inCode;
    const heading = inCode ? null : /^(#{1,6}) (.+)$/.exec(line);
    if (level === 0) {
      if (heading?.[2] === title) level = (heading[1] as string).length;
      continue;
    }
    if (heading !== null && (heading[1] as string).length <= level) break;
    body.push(line);
  }
  if (level === 0) throw new Error(`no "${title}" heading`);
  return body.join('\n');
}

/**
 * The cells of a table row, trimmed (the formatter pads tables), split on the unescaped
 * pipes only: a cell's own `|` is written `\|` (the default delimiter).
 */
export function cells(line: string): string[] {
  return line
    .split(/(?<!\\)\|/)
    .slice(1, -1)
    .map((cell) => cell.trim().replaceAll('\\|', '|'));
}

/**
 * The cells of the table row of `text` whose first cell is `` `name` ``, or `undefined` when
 * there is no such row.
 */
export function row(text: string, name: string): string[] | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`| \`${name}\` `));
  return line === undefined ? undefined : cells(line);
}

/** The first cells (without backticks) of every table row of `text` that starts with `start`. */
export function firstCells(text: string, start: string): string[] {
  const cells: string[] = [];
  for (const match of text.matchAll(new RegExp(`^\\| \`(${start}[^\`]*)\``, 'gm'))) {
    cells.push(match[1] as string);
  }
  return cells;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of every heading of `markdown`. */
export function anchors(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
    anchorOf(match[1] as string),
  );
}

/** The targets of the relative links of `markdown` (`[text](target)`), code blocks left out. */
export function relativeLinks(markdown: string): string[] {
  return [...withoutCode(markdown).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] as string)
    .filter((target) => !/^[a-z]+:/.test(target));
}

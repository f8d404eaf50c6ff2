/**
 * Everything a test opens is closed after it: `useClosing()` registers one `afterEach` and
 * returns `track()`, which hands back what it is given and closes it then, newest first.
 * Memory event sources are ended first: an ingest or a maze reads its open source to its
 * end when it closes.
 */
import { afterEach } from '@jest/globals';
import type { Problem } from '../../lib/errors.js';
import { endMemorySources } from './sockets.js';

export interface Closable {
  close(): Promise<void>;
}

export function useClosing(): <T extends Closable>(thing: T) => T {
  const opened: Closable[] = [];
  afterEach(async () => {
    endMemorySources();
    for (const thing of opened.splice(0).reverse()) await thing.close();
  });
  return (thing) => {
    opened.push(thing);
    return thing;
  };
}

/** The problems `source` reports from now on, in order. */
export function collectProblems(source: {
  on(event: 'problem', listener: (problem: Problem) => void): unknown;
}): Problem[] {
  const problems: Problem[] = [];
  source.on('problem', (problem) => problems.push(problem));
  return problems;
}

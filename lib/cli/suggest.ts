/**
 * "Did you mean …?" for misspelled flags, environment variables and config keys: the known
 * name closest to what was typed, if it is close enough to be a likely typo.
 *
 * Invariant: a suggestion is at most `max(2, length / 4)` edits (insertions, deletions,
 * substitutions, case ignored) away; otherwise there is none, rather than a wild guess.
 */
import { flagOf, SERVER_OPTIONS } from '../core/option-table.js';
import { SIMULATE_OPTIONS } from '../simulate/options.js';

/** The candidate nearest to `typed`, or `undefined` when none is plausibly meant. */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  const wanted = typed.toLowerCase();
  const limit = Math.max(2, Math.floor(wanted.length / 4));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        substitution,
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * yargs' `Unknown argument(s): evnt-port, evntPort` (it lists the camelCase twin too) as
 * `unknown option --evnt-port (did you mean --event-port?)`; other messages unchanged.
 */
export function withSuggestions(message: string): string {
  const match = /^Unknown arguments?: (.+)$/.exec(message);
  if (match === null) return message;
  const typed = new Set(
    (match[1] as string)
      .split(', ')
      .map((name) =>
        name.replace(/^-+/, '').replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`),
      ),
  );
  const flags = knownFlags();
  const described = [...typed].map((name) => {
    const suggestion = closest(name, flags);
    return suggestion === undefined ? `--${name}` : `--${name} (did you mean --${suggestion}?)`;
  });
  return `unknown option${described.length === 1 ? '' : 's'} ${described.join(', ')}`;
}

function knownFlags(): string[] {
  return [
    ...SERVER_OPTIONS.map(flagOf),
    ...Object.values(SIMULATE_OPTIONS).map((definition) => definition.flag.replace(/^--/, '')),
    'help',
    'version',
  ];
}

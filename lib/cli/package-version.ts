/**
 * The package's version for the startup banner, read from the package.json above this
 * module: `../../package.json` from the sources (`lib/cli/`), `../../../package.json` from
 * the build (`dist/lib/cli/`). Never throws: `unknown` when no follower-maze package.json
 * is found.
 */
import { readFileSync } from 'node:fs';

const PACKAGE_NAME = 'follower-maze';
const CANDIDATES = ['../../package.json', '../../../package.json'];

/** The version of the follower-maze package this module belongs to, or `unknown`. */
export function packageVersion(): string {
  for (const candidate of CANDIDATES) {
    try {
      const json = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (json.name === PACKAGE_NAME && typeof json.version === 'string') return json.version;
    } catch {
      // Not there (or not JSON): try the next one.
    }
  }
  return 'unknown';
}

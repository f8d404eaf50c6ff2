/**
 * The CLI's words for the library's option names. The library names its options as a program
 * passes them (`natsUrl`); a user of the command line sets them as flags or environment
 * variables, so an error the CLI prints names those beside the option.
 *
 * Invariant: only camelCase names are rewritten (`natsUrl`, not `host`), whole words only, so
 * ordinary words in a message (`nats://host:4222`) stay as they are.
 */
import { envOf, flagOf, SERVER_OPTIONS } from './options.js';

const SPELLINGS = new Map<string, string>(
  SERVER_OPTIONS.filter((spec) => /[A-Z]/.test(spec.name)).map((spec) => [
    spec.name,
    `${spec.name} (--${flagOf(spec)}, ${envOf(spec)})`,
  ]),
);
const OPTION_NAME = new RegExp(`\\b(${[...SPELLINGS.keys()].join('|')})\\b`, 'g');

/**
 * `message` with each option name followed by its flag and variable:
 * `natsUrl (--nats-url, FOLLOWER_MAZE_NATS_URL)`.
 */
export function withFlagNames(message: string): string {
  return message.replace(OPTION_NAME, (name) => SPELLINGS.get(name) ?? name);
}

/**
 * What yargs' strict mode reports, said for a person: an unknown flag with the closest
 * option of the command ("did you mean …?"), a flag of another command with the commands
 * that take it, and a stray word as an unexpected argument.
 */
import { closest } from '../options/suggest.js';
import { COMMAND_OPTIONS, type Command, flagOf, flagsOf, optionsOf } from './options.js';

const COMMANDS: readonly Command[] = ['serve', 'ingest', 'gateway', 'simulate'];

/**
 * yargs' `Unknown argument(s): evnt-port, evntPort` (it lists the camelCase twin too) as
 * `unknown option --evnt-port (did you mean --event-port?)`; other messages unchanged.
 * `typed` is the command line as given (without `node` and the script): it tells the
 * command (`serve` unless another is named) and which unknown names were words, not flags.
 */
export function withSuggestions(message: string, typed: readonly string[] = []): string {
  const match = /^Unknown arguments?: (.+)$/.exec(message);
  if (match === null) return message;
  const command = COMMANDS.find((name) => name === typed[0]) ?? 'serve';
  const names = (match[1] as string).split(', ');
  const isFlag = (name: string): boolean =>
    typed.some((arg) => /^--?[^=]+/.exec(arg)?.[0].replace(/^-+/, '') === name);
  const words = names.filter((name) => typed.includes(name) && !isFlag(name));
  const flags = [
    ...new Set(
      names
        .filter((name) => !words.includes(name))
        .map((name) =>
          name.replace(/^-+/, '').replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`),
        ),
    ),
  ];
  const own = [...optionsOf(command).map(flagOf), 'help', 'version'];
  const unknown: string[] = [];
  const parts: string[] = [];
  for (const flag of flags) {
    // An alias (`--totalEvents`, the original verifier's name) belongs to its option's commands.
    const takers = COMMAND_OPTIONS.filter((option) => flagsOf(option).includes(flag)).flatMap(
      (option) => option.commands,
    );
    if (takers.length > 0) {
      parts.push(`--${flag} is not an option of ${command} (it belongs to ${takers.join(', ')})`);
      continue;
    }
    // A secret is read from a file: `--nats-token` is `--nats-token-file`.
    const suggestion = own.includes(`${flag}-file`) ? `${flag}-file` : closest(flag, own);
    unknown.push(
      suggestion === undefined ? `--${flag}` : `--${flag} (did you mean --${suggestion}?)`,
    );
  }
  if (unknown.length > 0) {
    parts.unshift(`unknown option${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}`);
  }
  if (words.length > 0) {
    parts.push(`unexpected argument${words.length === 1 ? '' : 's'} ${words.join(', ')}`);
  }
  return parts.join('; ');
}

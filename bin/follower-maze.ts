#!/usr/bin/env node
/**
 * The `follower-maze` command line: parses options and calls the library. One
 * `.command(…)` per subcommand; `serve` is the default.
 */
import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { EXIT_USAGE } from '../lib/cli/serve.js';
import { serveCommand } from '../lib/cli/serve-command.js';
import { simulateCommand } from '../lib/cli/simulate-command.js';
import { withSuggestions } from '../lib/cli/suggest.js';

const packageJson = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { version: string };

await yargs(hideBin(process.argv))
  .scriptName('follower-maze')
  .usage('$0 [command] [options]\n\nA Follower Maze server: one event source, many user clients.')
  .command(serveCommand)
  .command(simulateCommand)
  .strict()
  .version(packageJson.version)
  .help()
  .alias('h', 'help')
  .alias('v', 'version')
  .wrap(100)
  .fail((message, error) => {
    process.stderr.write(
      `follower-maze: ${withSuggestions(message ?? error?.message ?? 'invalid arguments')} (see --help)\n`,
    );
    process.exit(EXIT_USAGE);
  })
  .parseAsync();

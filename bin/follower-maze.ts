#!/usr/bin/env node
/**
 * The `follower-maze` command line: parses options and calls the library. One
 * `.command(…)` per subcommand; `serve` is the default.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { gatewayCommand, ingestCommand } from '../lib/cli/cluster-commands.js';
import { packageVersion } from '../lib/cli/package-version.js';
import { serveCommand } from '../lib/cli/serve-command.js';
import { EXIT_USAGE } from '../lib/cli/server-process.js';
import { simulateCommand } from '../lib/cli/simulate-command.js';
import { withSuggestions } from '../lib/cli/suggest.js';

const typed = hideBin(process.argv);

await yargs(typed)
  .scriptName('follower-maze')
  .usage('$0 [command] [options]\n\nA Follower Maze server: one event source, many user clients.')
  .command(serveCommand)
  .command(ingestCommand)
  .command(gatewayCommand)
  .command(simulateCommand)
  .strict()
  .version(packageVersion())
  .help()
  .alias('h', 'help')
  .alias('v', 'version')
  .wrap(100)
  .fail((message, error) => {
    // yargs also lands here when a handler throws: that is a bug, not a usage error.
    if (message === null && error !== undefined) {
      process.stderr.write(`follower-maze: unexpected error: ${error.stack ?? error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(
      `follower-maze: ${withSuggestions(message ?? 'invalid arguments', typed)} (see --help)\n`,
    );
    process.exit(EXIT_USAGE);
  })
  .parseAsync();

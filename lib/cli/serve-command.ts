/**
 * The `serve` command (also the default command) as a yargs command module, so the binary
 * is a list of `.command(…)` calls and a new subcommand is one more line. Its flags come from
 * the option table; `resolveServeArgs()` decides every setting, so a bad one exits with 2
 * before anything is bound.
 */
import type { Argv, CommandModule } from 'yargs';
import { MazeError } from '../core/errors.js';
import { ENV_PREFIX } from '../core/option-table.js';
import { EXIT_USAGE, runServe } from './serve.js';
import { resolveServeArgs, serveYargsOptions } from './serve-options.js';
import { processOutput } from './serve-output.js';

export const serveCommand: CommandModule<object, Record<string, unknown>> = {
  command: ['serve', '$0'],
  describe: 'Run the server (the default command)',
  builder: (yargs: Argv<object>) =>
    yargs
      .options(serveYargsOptions())
      .example('$0', 'serve events on 127.0.0.1:9090 and clients on 127.0.0.1:9099')
      .example(
        '$0 --event-port 0 --client-port 0',
        'bind any free ports (printed in the startup line)',
      )
      .example('$0 --stats-interval 1000', 'print a stats line every second')
      .example('$0 --config follower-maze.json', 'read settings from a JSON file')
      .epilog(
        `Every option can also be set in the environment as ${ENV_PREFIX}_<OPTION>, e.g. ${ENV_PREFIX}_EVENT_PORT=9000, or in the --config file by its camelCase name (eventPort). A flag wins over the environment, the environment over the file. Booleans take true/false, yes/no, on/off or 1/0.`,
      ) as unknown as Argv<Record<string, unknown>>,
  handler: async (argv) => {
    let args: ReturnType<typeof resolveServeArgs>;
    try {
      args = resolveServeArgs(argv);
    } catch (error) {
      if (!(error instanceof MazeError)) throw error;
      processOutput().err(`follower-maze: ${error.message} (see --help)`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    await runServe(args);
  },
};

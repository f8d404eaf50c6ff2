/**
 * The `serve` command (also the default command) as a yargs command module, so the binary
 * is a list of `.command(…)` calls and a new subcommand is one more line.
 */
import type { Argv, CommandModule } from 'yargs';
import { runServe } from './serve.js';
import { type ServeArgs, serveYargsOptions, validateServeArgs } from './serve-options.js';

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: ['serve', '$0'],
  describe: 'Run the server (the default command)',
  builder: (yargs: Argv<object>) =>
    yargs
      .options(serveYargsOptions())
      .check((argv) => {
        const problem = validateServeArgs(argv);
        if (problem !== undefined) throw new Error(problem);
        return true;
      })
      .example('$0', 'serve events on 127.0.0.1:9090 and clients on 127.0.0.1:9099')
      .example(
        '$0 --event-port 0 --client-port 0',
        'bind any free ports (printed in the startup line)',
      )
      .example('$0 --stats-interval 1000', 'print a stats line every second')
      .epilog(
        'Every option can also be set in the environment as FOLLOWER_MAZE_<OPTION>, e.g. FOLLOWER_MAZE_EVENT_PORT=9000.',
      ) as unknown as Argv<ServeArgs>,
  handler: async (args) => {
    await runServe(args);
  },
};

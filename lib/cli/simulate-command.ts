/**
 * The `simulate` command as a yargs command module, beside `serve-command.ts`: flags are
 * derived from `SIMULATE_COMMAND_OPTIONS`, and the handler runs `runSimulateCommand()` on
 * the process. Kept out of the package entry so that its declarations never need yargs' types.
 * The simulator itself (and hdr-histogram-js with it) is loaded only when the command runs.
 */
import type { CommandModule } from 'yargs';
import { commandYargsOptions, PARSER_CONFIGURATION } from './command-options.js';
import { ENV_PREFIX } from './options.js';

/** The `simulate` command, ready for `yargs().command(simulateCommand)`. */
export const simulateCommand: CommandModule = {
  command: 'simulate',
  describe: 'Verify a running Follower Maze server: stream random events, check every notification',
  builder: (yargs) =>
    yargs
      .options(commandYargsOptions('simulate'))
      .parserConfiguration(PARSER_CONFIGURATION)
      .example('$0 simulate', 'verify the server on 127.0.0.1:9090/9099 with 10M events')
      .example(
        `${ENV_PREFIX}_TOTAL_EVENTS=200000 $0 simulate --event-terminator crlf`,
        'a short run with CRLF events',
      )
      .example(
        '$0 simulate --rate 100000 --total-events 2000000',
        'pace the source at 100,000 events/s and report the latency percentiles',
      )
      .example(
        '$0 simulate --client-port 9099,9199,9299',
        'verify a cluster: events to the ingest on 9090, clients spread over three gateways',
      )
      .epilog(
        'Exit codes: 0 every notification verified, 1 the server broke the protocol, 2 usage' +
          ` or connection error. Every option can also be set in the environment as ${ENV_PREFIX}_<OPTION>` +
          ` (${ENV_PREFIX}_EVENT_PORT, as for serve); a flag wins. The original verification` +
          " program's names are accepted too, as flags (--totalEvents, --eventListenerPort) and as" +
          ' environment variables (totalEvents=200000), below the FOLLOWER_MAZE_ ones.',
      ),
  handler: async (args) => {
    const { runSimulateCommand } = await import('./simulate-run.js');
    process.exitCode = await runSimulateCommand(args, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
      typed: process.argv.slice(2),
    });
  },
};

/**
 * The `simulate` command as a yargs command module, beside `serve-command.ts`: flags are
 * derived from `SIMULATE_OPTIONS`, and the handler runs `runSimulateCommand()` on the process.
 * Kept out of the package entry so that its declarations never need yargs' types. The
 * simulator itself (and hdr-histogram-js with it) is loaded only when the command runs.
 */
import type { CommandModule, Options } from 'yargs';
import { SIMULATE_OPTIONS } from '../simulate/options.js';

function yargsOptions(): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const [name, definition] of Object.entries(SIMULATE_OPTIONS)) {
    const env = 'env' in definition ? ` [env: ${definition.env}]` : '';
    options[name] = {
      // No yargs default: an absent flag must fall back to the environment variable.
      // `resolveSimulateOptions` checks every value, so `--timeout abc` exits with 2.
      type: definition.type === 'integer' ? 'number' : definition.type,
      describe: `${definition.description}${env}`,
      defaultDescription: definition.defaultDescription,
      ...(definition.type !== 'boolean' && { requiresArg: true }),
    };
  }
  return options;
}

/** The `simulate` command, ready for `yargs().command(simulateCommand)`. */
export const simulateCommand: CommandModule = {
  command: 'simulate',
  describe: 'Verify a running Follower Maze server: stream random events, check every notification',
  builder: (yargs) =>
    yargs
      .options(yargsOptions())
      .example('$0 simulate', 'verify the server on 127.0.0.1:9090/9099 with 10M events')
      .example(
        'totalEvents=200000 $0 simulate --eventTerminator crlf',
        'a short run with CRLF events (the original variables work as they are)',
      )
      .example(
        '$0 simulate --rate 100000 --totalEvents 2000000',
        'pace the source at 100,000 events/s and report the latency percentiles',
      )
      .example(
        '$0 simulate --clientListenerPort 9099,9199,9299',
        'verify a cluster: events to the ingest on 9090, clients spread over three gateways',
      )
      .epilog(
        'Exit codes: 0 every notification verified, 1 the server broke the protocol, 2 usage' +
          ' or connection error. Each original option is also read from the environment' +
          ' variable of the same name; a flag wins.',
      ),
  handler: async (args) => {
    const { runSimulateCommand } = await import('../simulate/command.js');
    process.exitCode = await runSimulateCommand(args, {
      stdout: process.stdout,
      stderr: process.stderr,
      env: process.env,
    });
  },
};

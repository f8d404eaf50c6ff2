/** The `serve` command (also the default command): one process, no NATS. */
import { runServe } from './serve.js';
import { resolveServeArgs } from './serve-options.js';
import { serverCommand } from './server-command.js';

export const serveCommand = serverCommand({
  command: 'serve',
  isDefault: true,
  describe: 'Run the server in one process (the default command)',
  examples: [
    ['$0', 'serve events on 127.0.0.1:9090 and clients on 127.0.0.1:9099'],
    ['$0 --event-port 0 --client-port 0', 'bind any free ports (printed in the startup line)'],
    ['$0 --stats-interval 1000', 'print a stats line every second'],
    ['$0 --config follower-maze.json', 'read settings from a JSON file'],
  ],
  resolve: resolveServeArgs,
  run: runServe,
});

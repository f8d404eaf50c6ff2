/**
 * A server command (`serve`, `ingest`, `gateway`) as a yargs command module: its flags and
 * help come from its options (`lib/cli/options.ts`), its settings are decided before
 * anything starts (a bad one exits with 2 before anything is bound or connected), then it
 * runs.
 */
import type { CommandModule } from 'yargs';
import { MazeError } from '../errors.js';
import { commandYargsOptions, PARSER_CONFIGURATION } from './command-options.js';
import { ENV_PREFIX, type ServerCommand } from './options.js';
import { processOutput } from './serve-output.js';
import { EXIT_USAGE } from './server-process.js';

export interface ServerCommandSpec<Args> {
  readonly command: ServerCommand;
  /** `true` for the default command. */
  readonly isDefault?: boolean;
  readonly describe: string;
  readonly examples: readonly (readonly [command: string, description: string])[];
  /** Decides every setting; throws `MazeError(ERR_INVALID_OPTION)`. */
  resolve(argv: Readonly<Record<string, unknown>>): Args;
  run(args: Args): Promise<unknown>;
}

export function serverCommand<Args>(spec: ServerCommandSpec<Args>): CommandModule {
  return {
    command: spec.isDefault === true ? [spec.command, '$0'] : spec.command,
    describe: spec.describe,
    builder: (yargs) => {
      let built = yargs
        .options(commandYargsOptions(spec.command))
        .parserConfiguration(PARSER_CONFIGURATION);
      for (const [command, description] of spec.examples) {
        built = built.example(command, description);
      }
      return built.epilog(
        `Every option can also be set in the environment as ${ENV_PREFIX}_<OPTION>, e.g. ${ENV_PREFIX}_HOST=0.0.0.0, or in the --config file by its camelCase name (host). A flag wins over the environment, the environment over the file. The file may hold the settings of every server command (serve, ingest, gateway) and the environment those of simulate too, so one of them can configure a whole cluster. Booleans take true/false, yes/no, on/off or 1/0.`,
      );
    },
    handler: async (argv) => {
      let args: Args;
      try {
        args = spec.resolve(argv);
      } catch (error) {
        if (!(error instanceof MazeError)) throw error;
        processOutput().err(`follower-maze: ${error.message} (see --help)`);
        process.exitCode = EXIT_USAGE;
        return;
      }
      await spec.run(args);
    },
  };
}

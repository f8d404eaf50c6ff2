/**
 * Where `listen()` binds (docs/protocol.md §1): the two ports and their host, as rows the
 * command line composes with the other layers'. The simulator's defaults are these too, so
 * that both always agree.
 */
import type { OptionRow } from '../options/option.js';

const PORT = { type: 'integer', min: 0, max: 65_535 } as const;

/** The rows of `listen()`'s own options, by option name. */
export const LISTEN_OPTIONS = {
  eventPort: {
    ...PORT,
    default: 9090,
    describe: 'TCP port the event source connects to (0: any free port)',
  },
  clientPort: {
    ...PORT,
    default: 9099,
    describe: 'TCP port user clients connect to (0: any free port)',
  },
  host: {
    type: 'string',
    // Loopback: the event port can message every user.
    default: '127.0.0.1',
    describe: 'Address the ports bind to (0.0.0.0 exposes them to the network)',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

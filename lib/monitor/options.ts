/**
 * The monitoring port's options, as the command line takes them (`--monitor-port`,
 * `--monitor-host`) and `startMonitor()` takes them (`port`, checked; `host`, defaulted). Rows
 * only: the command line reads them without loading the metrics library.
 */
import type { OptionRow } from '../options/option.js';

/** The rows of the monitoring port, by option name. */
export const MONITOR_OPTIONS = {
  monitorPort: {
    type: 'integer',
    min: 0,
    max: 65_535,
    // Off unless given; `startMonitor()` itself takes 0 (any free port) by default.
    default: undefined,
    describe: 'HTTP port for /healthz, /metrics, /stats and /clients (0: any free port; none: off)',
  },
  monitorHost: {
    type: 'string',
    // Loopback, because its `/clients` page lists user ids and peer addresses.
    default: '127.0.0.1',
    describe: 'Address the monitoring port binds to (it shows user ids and client addresses)',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

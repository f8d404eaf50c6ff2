/**
 * The monitoring port's options, as the command line takes them (`--monitor-port`,
 * `--monitor-host`, `--monitor-token-file`) and `startMonitor()` takes them (`port`, checked;
 * `host`, defaulted; `token`, the file's content). Rows only: the command line reads them
 * without loading the metrics library.
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
  monitorTokenFile: {
    type: 'string',
    // Off unless given: the monitor is open to whoever reaches `monitorHost`.
    default: undefined,
    describe:
      'File of the bearer token every monitoring path but /healthz then needs (Authorization: Bearer)',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

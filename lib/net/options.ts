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

const PEM_FILE = { type: 'string', default: undefined } as const;

/**
 * TLS on the ports (docs/security.md): files of PEM text, read at start and again on SIGHUP.
 * Off unless a certificate and key are given.
 */
export const TLS_OPTIONS = {
  tlsCert: {
    ...PEM_FILE,
    describe: 'PEM certificate (chain) file: TLS on the event and client ports (with --tls-key)',
  },
  tlsKey: {
    ...PEM_FILE,
    describe: 'PEM private key file of --tls-cert',
  },
  eventTlsCa: {
    ...PEM_FILE,
    describe: 'PEM CA file: the event source must present a certificate from it (mutual TLS)',
  },
  clientTlsCa: {
    ...PEM_FILE,
    describe: 'PEM CA file: every client must present a certificate from it (mutual TLS)',
  },
  monitorTls: {
    type: 'boolean',
    default: false,
    describe: 'Serve the monitoring port over HTTPS with --tls-cert and --tls-key',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

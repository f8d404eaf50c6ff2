/**
 * Cluster mode's options (docs/protocol.md §11): the connection to NATS and the event log's
 * stream (`connectEventLog()`), the snapshot writer's cadence (`createSnapshotWriter()`), and
 * which of a maze's options the ingest and a gateway take. Rows and names only, no NATS or
 * cluster code: the command line reads them without loading either.
 */
import { CORE_OPTIONS } from '../core/options.js';
import { MAX_TIMER_MS, type OptionRow, pickRows } from '../options/option.js';

/** A setting of the connection that has no default. */
const UNSET = { type: 'string', default: undefined } as const;

/** The rows of `connectEventLog()`'s settings, by option name. */
export const NATS_OPTIONS = {
  natsUrl: {
    ...UNSET,
    describe:
      'NATS server URL(s) of the event log, comma-separated (nats://host:4222, no credentials in it); serve with it keeps its state in NATS',
  },
  natsCreds: {
    ...UNSET,
    describe: 'NATS credentials file (.creds: user JWT and NKey seed, decentralized auth)',
  },
  natsUser: {
    ...UNSET,
    describe: 'NATS user name (with --nats-password-file)',
  },
  natsPasswordFile: {
    ...UNSET,
    describe: 'File holding the NATS password of --nats-user (one trailing line break ignored)',
  },
  natsTokenFile: {
    ...UNSET,
    describe: 'File holding the NATS authentication token (one trailing line break ignored)',
  },
  natsTlsCa: {
    ...UNSET,
    describe: 'PEM file of the CA that signed the NATS server certificate (turns TLS on)',
  },
  natsTlsCert: {
    ...UNSET,
    describe:
      'PEM file of the client certificate shown to NATS (with --nats-tls-key; turns TLS on)',
  },
  natsTlsKey: {
    ...UNSET,
    describe: 'PEM file of the private key of --nats-tls-cert',
  },
  logKeyFile: {
    ...UNSET,
    describe:
      'File of the key (32+ bytes) the ingest signs batches with and readers check (unsigned or forged ones are skipped)',
  },
  natsStream: {
    type: 'string',
    default: 'FOLLOWER_MAZE',
    describe: 'JetStream stream of the event log (created if missing)',
  },
  natsSubject: {
    type: 'string',
    // The one subject of that stream the ingest publishes to.
    default: 'follower-maze.events',
    describe: 'Subject of the event log; an existing stream must have exactly this subject',
  },
  natsStorage: {
    type: 'choice',
    choices: ['file', 'memory'],
    // On disk, so the log survives a NATS restart.
    default: 'file',
    describe: 'Storage of a stream created by follower-maze (memory: lost when NATS restarts)',
  },
  natsReplicas: {
    type: 'integer',
    min: 1,
    // Most replicas JetStream allows for a stream; one is right for a single nats-server.
    max: 5,
    default: 1,
    describe: 'Replicas of a stream created by follower-maze (more than 1 needs a NATS cluster)',
  },
  natsMaxAge: {
    type: 'integer',
    min: 0,
    // JetStream counts it in nanoseconds, within 2^63.
    max: 9_000_000_000,
    default: 0,
    describe:
      'Seconds the event log keeps a batch (0: for ever), set on the stream by the writer; keep it well above the snapshot interval',
  },
  natsMaxBytes: {
    type: 'integer',
    min: 0,
    default: 0,
    describe: 'Bytes the event log keeps, oldest batches dropped first (0: no limit)',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

/** The rows of the snapshot writer's cadence, by option name. */
export const SNAPSHOT_OPTIONS = {
  snapshotEvents: {
    type: 'integer',
    min: 1,
    default: 1_000_000,
    describe: 'Events between two snapshots of the follow graph, which late gateways start from',
  },
  snapshotInterval: {
    type: 'integer',
    min: 1,
    max: MAX_TIMER_MS,
    default: 60_000,
    describe: 'Most milliseconds between two snapshots while events arrive',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

/** The settings the ingest takes: the event source side of a maze's. */
export const INGEST_OPTION_NAMES = [
  'startSequence',
  'reorderCapacity',
  'reorderBytes',
  'maxLineLength',
  'sourceIdleTimeout',
  'shutdownTimeout',
  'delimiter',
  // Not the ingest's own: it records it in a new log, for every reader to check.
  'maxFollowEdges',
] as const;

/** The settings a gateway takes: the client side of a maze's. */
export const GATEWAY_OPTION_NAMES = [
  'maxIdLineLength',
  'identifyTimeout',
  'maxClients',
  'clientBufferLimit',
  'totalBufferLimit',
  'slowClientTimeout',
  'maxFollowEdges',
  'resumeBytes',
  'shutdownTimeout',
  'delimiter',
] as const;

/**
 * The rows of the settings the snapshot writer takes: its cadence, and the graph bound and
 * delimiter of the core.
 */
export const SNAPSHOT_WRITER_OPTIONS = {
  ...SNAPSHOT_OPTIONS,
  ...pickRows(CORE_OPTIONS, ['maxFollowEdges', 'delimiter']),
};

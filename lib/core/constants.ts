/**
 * Every limit and default of follower-maze, in one place (docs/protocol.md §1-8).
 * The core uses only the sequencing and follow-graph ones; the adapter, the CLI and the simulator
 * import the rest from here so that a default is never written twice.
 */

/** Port the event source connects to (docs/protocol.md §1). */
export const DEFAULT_EVENT_PORT = 9090;
/** Port user clients connect to (docs/protocol.md §1). */
export const DEFAULT_CLIENT_PORT = 9099;
/** Loopback by default: the event port can message every user (docs/protocol.md §1). */
export const DEFAULT_HOST = '127.0.0.1';

/** Longest event line accepted, terminator included (docs/protocol.md §2). A valid event is < 50 bytes. */
export const DEFAULT_MAX_LINE_LENGTH = 4 * 1024;
/** Longest user-id line a client may send; an id has at most 16 digits. */
export const DEFAULT_MAX_ID_LINE_LENGTH = 64;

/** First sequence number of a fresh stream (docs/protocol.md §4). */
export const DEFAULT_START_SEQUENCE = 1;
/** Events that may wait for a missing number before it is declared lost (docs/protocol.md §4). */
export const DEFAULT_REORDER_CAPACITY = 100_000;
/**
 * Bytes of event lines that may wait for a missing number (docs/protocol.md §4). The count bound alone
 * lets 100,000 lines of 4 KiB (leading zeros are valid) hold ~400 MiB; 64 MiB still holds
 * the whole count bound of ordinary (< 50-byte) events, so only padded lines hit it first.
 */
export const DEFAULT_REORDER_BYTES = 64 * 1024 * 1024;

/**
 * Follow edges the graph holds before a new follow is refused (`ERR_FOLLOW_LIMIT`, docs/protocol.md §10).
 * 2^23 = 8,388,608 edges keeps the graph within a few hundred MiB. Measured at this bound
 * (`scripts/graph-memory.mjs`): 340 MiB of RSS when the edges share a few followees
 * (16-byte edge slots at load 3/8 to 3/4, ~32 bytes an edge) and 693 MiB when every edge
 * has a followee of its own (each then also costs a followee entry and a node: ~80 bytes
 * an edge); small-id followers of a popular user cost a bit each. That is far above what
 * the simulator's profiles build (1,000 users following each other are 1M edges).
 */
export const DEFAULT_MAX_FOLLOW_EDGES = 2 ** 23;
/** Largest `maxFollowEdges`: keeps every typed array of the graph under 2^28 elements. */
export const MAX_FOLLOW_EDGES = 2 ** 27;

/** How long a new client has to send its id (docs/protocol.md §5). */
export const DEFAULT_IDENTIFY_TIMEOUT_MS = 5_000;
/**
 * Idle time before TCP keepalive probes a client socket: a client that half-closed after its
 * id and then vanished is otherwise only noticed when it is next written to (docs/protocol.md §5).
 */
export const CLIENT_KEEPALIVE_DELAY_MS = 30_000;
/**
 * `maxClients` value that means "derived from the descriptor limit" (docs/protocol.md §5): the process's
 * soft limit of open files minus a reserve (`CLIENT_DESCRIPTOR_RESERVE`,
 * `CLIENT_DESCRIPTOR_RESERVE_SHARE`). It is also the default.
 */
export const DEFAULT_MAX_CLIENTS = 0;
/**
 * Fewest descriptors kept back from clients (docs/protocol.md §5): Node's own (~20: epoll, pipes, stdio),
 * the two listening sockets, the event source and the ones being refused or taken over, log
 * files, and later connections such as monitoring. Without it, clients exhaust the limit and
 * the event source's connect is accepted and dropped silently (EMFILE).
 */
export const CLIENT_DESCRIPTOR_RESERVE = 64;
/** Share of the descriptor limit kept back from clients, when more than the minimum reserve. */
export const CLIENT_DESCRIPTOR_RESERVE_SHARE = 0.05;
/**
 * Descriptor limit assumed where the process's own cannot be read (not Linux, no `/proc`):
 * the usual soft limit, so the derived default stays safe rather than generous.
 */
export const FALLBACK_DESCRIPTOR_LIMIT = 1024;
/**
 * Refused client connections are reported at most once per this period (docs/protocol.md §9): the first
 * at once, later ones together with their count; `stats().clientsRefused` counts them all.
 */
export const CLIENT_LIMIT_REPORT_INTERVAL_MS = 1_000;
/** Bytes a client may have queued before the event source is paused (docs/protocol.md §6). */
export const DEFAULT_CLIENT_BUFFER_LIMIT = 1024 * 1024;
/**
 * Bytes all clients together may have queued before the event source is paused (docs/protocol.md §6).
 * 256 MiB: room for 256 clients at their full 1 MiB limit at once, while the live queues of
 * any number of stalled clients stay near it (measured: 4,500 idle readers peak at 1.05 GB RSS
 * while they are dropped, V8 collecting their queues lazily; they used to reach 2 GB in 90 s
 * and crash the process).
 */
export const DEFAULT_TOTAL_BUFFER_LIMIT = 256 * 1024 * 1024;
/**
 * Output queued since the last flush that makes the maze flush before the input chunk ends.
 * Limits are checked at flushes, so this bounds how far one chunk can carry the queues past
 * them (a 64 KiB chunk of 8-byte broadcasts owes every client 64 KiB; 4,500 clients, 288 MiB).
 * 1 MiB keeps a chunk of the default mix (~1.3 MiB of output for 100 clients) to two writes.
 */
export const OUTPUT_FLUSH_BYTES = 1024 * 1024;
/**
 * With many clients the early flush also waits for this much output per client with output,
 * so each write stays large enough to be cheap; the overshoot of a limit stays under it.
 */
export const OUTPUT_FLUSH_BYTES_PER_CLIENT = 4 * 1024;
/** How often the exact total is taken while over budget: cheap, and quick to resume. */
export const BUDGET_CHECK_INTERVAL_MS = 50;
/** Over budget, the source resumes once the total is under this share of the budget. */
export const BUDGET_RESUME_FRACTION = 0.75;
/** How long a client may stay over its buffer limit before it is dropped (docs/protocol.md §6). */
export const DEFAULT_SLOW_CLIENT_TIMEOUT_MS = 10_000;
/**
 * How long the event source may send nothing (while the server is reading it) before a new
 * source that connects takes its place (docs/protocol.md §7); 0 never lets one take over. A live source
 * streams continuously, so 10 s of silence — as long as a client may stall everyone
 * (`DEFAULT_SLOW_CLIENT_TIMEOUT_MS`) — means a hung or half-dead producer, and a source that
 * retries about every 9 s (as the original harness does) gets in on its second retry at most.
 */
export const DEFAULT_SOURCE_IDLE_TIMEOUT_MS = 10_000;
/**
 * Idle time before TCP keepalive probes an event source socket that `listen()` accepted
 * (docs/protocol.md §7): a peer that is gone without a FIN or RST (host down, cable cut) fails its probes
 * and the socket errors, which releases the source. Node probes every second, 10 times.
 */
export const EVENT_SOURCE_KEEPALIVE_MS = 5_000;
/** Bounded wait for buffered output to flush on shutdown (docs/protocol.md §8). */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;
/** Stats line period in the CLI; 0 disables it. */
export const DEFAULT_STATS_INTERVAL_MS = 0;

/** Largest sequence number or user id (docs/protocol.md §3). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;
/** Longest duration any `…Timeout`/`…Interval` option may have: what a Node timer can wait. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** How much of an offending line a report quotes. */
export const MAX_QUOTED_LINE_LENGTH = 80;

/**
 * Address the HTTP monitoring port binds to unless told otherwise: loopback, because its
 * `/clients` page lists user ids and peer addresses.
 */
export const DEFAULT_MONITOR_HOST = '127.0.0.1';
/** Port of `startMonitor()` unless told otherwise: 0 picks a free one (the CLI's is off unless given). */
export const DEFAULT_MONITOR_PORT = 0;
/** Clients listed by the monitor's `/clients` page when no `limit` is given. */
export const DEFAULT_MONITOR_PAGE_LIMIT = 100;
/** Most clients one `/clients` page may list: a page is built while the server waits. */
export const MAX_MONITOR_PAGE_LIMIT = 1_000;
/**
 * Open connections the monitoring port accepts at once. Each is a descriptor taken from the
 * reserve that `maxClients` leaves (`CLIENT_DESCRIPTOR_RESERVE`), so scrapers cannot starve it.
 */
export const MONITOR_MAX_CONNECTIONS = 16;
/** Longest time a monitoring request may take to arrive whole; a stuck peer is cut off. */
export const MONITOR_REQUEST_TIMEOUT_MS = 10_000;

/** Levels of the CLI's log, most severe first (`--log-level`). */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
/** Problems are warnings, lifecycle is info, each client's connect and disconnect is debug. */
export const DEFAULT_LOG_LEVEL = 'info';
/** Formats of the CLI's log (`--log-format`): lines for people, or one JSON object per line. */
export const LOG_FORMATS = ['text', 'json'] as const;
export const DEFAULT_LOG_FORMAT = 'text';

// Cluster mode (docs/protocol.md §11): the event log on NATS JetStream.

/** JetStream stream holding the event log unless told otherwise. */
export const DEFAULT_NATS_STREAM = 'FOLLOWER_MAZE';
/** The one subject of that stream the ingest publishes to. */
export const DEFAULT_NATS_SUBJECT = 'follower-maze.events';
/** Storage of a stream created by follower-maze: on disk, so the log survives a NATS restart. */
export const DEFAULT_NATS_STORAGE = 'file';
/** Replicas of a stream created by follower-maze: one, right for a single nats-server. */
export const DEFAULT_NATS_REPLICAS = 1;
/** Most replicas JetStream allows for a stream. */
export const MAX_NATS_REPLICAS = 5;
/**
 * Longest wait for a NATS server to accept the connection: an address that drops packets
 * fails in this time instead of the client's default 20 s (a refused one fails at once).
 */
export const NATS_CONNECT_TIMEOUT_MS = 5_000;
/** Pause before the NATS client tries a lost server again (the client's default is 2 s). */
export const NATS_RECONNECT_WAIT_MS = 250;
/** First pause before a server command tries NATS again at startup; it doubles each time. */
export const NATS_RETRY_MIN_MS = 500;
/** Longest pause between a server command's attempts to reach NATS at startup. */
export const NATS_RETRY_MAX_MS = 10_000;
/** Longest wait for JetStream to answer one request (an append's acknowledgement, stream info). */
export const EVENT_LOG_REQUEST_TIMEOUT_MS = 5_000;
/**
 * Batches a log reader may fetch ahead of its consumer: the bound on what a gateway holds
 * while it does not pull (64 KiB batches: 1 MiB).
 */
export const EVENT_LOG_READ_AHEAD = 16;
/** Batches an in-memory event log keeps before dropping the oldest. */
export const DEFAULT_MEMORY_LOG_RETAIN_BATCHES = 10_000;
/** Bytes of encoded batches an in-memory event log keeps before dropping the oldest. */
export const DEFAULT_MEMORY_LOG_RETAIN_BYTES = 64 * 1024 * 1024;
/**
 * Lifetime of one pull request of a log reader: an idle reader asks again this often. It
 * bounds nothing a caller waits for (`next()` waits for the next batch, however long).
 */
export const EVENT_LOG_PULL_EXPIRES_MS = 5_000;
/** Pause before a log reader pulls again after a transient failure (NATS restarting). */
export const EVENT_LOG_READ_RETRY_MS = 250;
/**
 * Bytes of event lines (terminators included) that close an ingest's batch: one append, one
 * JetStream message, well under NATS's default 1 MiB payload. A single line longer than this
 * (`maxLineLength` above it) makes a batch of its own.
 */
export const INGEST_BATCH_BYTES = 64 * 1024;
/**
 * Milliseconds a partial batch waits for more lines before it is appended anyway: the most an
 * event waits in the ingest before its append starts.
 */
export const INGEST_BATCH_DELAY_MS = 5;
/** Appends an ingest has in flight at once (pipelined); while they are, the source is paused. */
export const INGEST_APPEND_WINDOW = 8;
/** Pause before an ingest asks the log for its tail again after that failed (NATS restarting). */
export const INGEST_RECOVERY_RETRY_MS = 250;
/** Reads of the snapshot a gateway tries before giving up (a save replacing it can cut one short). */
export const SNAPSHOT_READ_ATTEMPTS = 3;
/** Events between two snapshots of the follow graph, by default. */
export const DEFAULT_SNAPSHOT_EVENTS = 1_000_000;
/** Most milliseconds between two snapshots while events arrive, by default. */
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 60_000;
/** Longest max age of an event log stream: JetStream counts it in nanoseconds, within 2^63. */
export const MAX_NATS_MAX_AGE_S = 9_000_000_000;
/** Seconds an event log stream keeps a batch (0: no limit), by default. */
export const DEFAULT_NATS_MAX_AGE_S = 0;
/** Bytes an event log stream keeps (0: no limit), by default. */
export const DEFAULT_NATS_MAX_BYTES = 0;
/** JetStream's default window for duplicate message ids, which a stream with a shorter max age must not exceed. */
export const NATS_DUPLICATE_WINDOW_S = 120;
/** First pause before a gateway reads the log again after a read failed; it doubles each time. */
export const GATEWAY_RETRY_MIN_MS = 250;
/** Longest pause between a gateway's attempts to read the log again. */
export const GATEWAY_RETRY_MAX_MS = 10_000;

/**
 * `simulate()`: runs the verification against a server over TCP. This is the only module of
 * the simulator that touches sockets; the generator and the client streams are pure.
 *
 * The run, in order:
 * 1. Connect `concurrencyLevel` clients (CONNECTS_IN_FLIGHT at a time, at most
 *    CONNECTS_PER_SECOND_PER_PORT per second and client port) and send each its user id line; then the
 *    `stalledClients`, which identify as users without a client and never read (nothing
 *    they receive is verified, and the server may drop them). With several client ports (a
 *    cluster: one ingest, several gateways that each serve clients), client `i`, counted
 *    over both kinds in that order, connects to port `i mod N`; the rest of the run does not
 *    care which port a client is on, since every gateway owes its clients what one server
 *    would. With `waitForPorts`, a port that refuses is tried again until that many ms
 *    after the start (servers started together with the simulator may still be starting).
 * 2. Connect the event source.
 * 3. Warm up: send broadcasts 1, 2, … (one every WARMUP_INTERVAL_MS, or less often when a
 *    server has many clients: WARMUP_NOTIFICATIONS_PER_MS) until every client has
 *    received one; the next waits until the last one reached every client registered so
 *    far, for at most WARMUP_DELIVERY_WAIT_INTERVALS intervals. A client that receives a
 *    broadcast was registered before the server applied it, so after the warm-up every
 *    client is known to be registered, whatever the server's timing: no guessed sleep, no
 *    handshake outside the protocol. A client that
 *    receives none within `timeout` ms fails the run (ERR_SIM_NOT_REGISTERED), unless a
 *    registered client still waits for one (ERR_SIM_TIMEOUT, that client; with workers,
 *    which alone know it, once its own wait ran out, at most `timeout` later); when no client
 *    at all has received one after WARMUP_SILENCE_MS, the run fails at once
 *    (ERR_SIM_NO_WARMUP: the server most likely applied these sequence numbers already).
 * 4. Stream `totalEvents` events in shuffled batches, gathered into large writes. The
 *    generator pauses on the event socket's backpressure ('drain') and whenever the clients
 *    owe too many lines (`Ledger`), which bounds memory and yields to the receive path.
 *    With `rate`, a token bucket (`TokenBucket`) paces the batches instead: every write
 *    sends what the bucket allows, then the stream sleeps until it allows more.
 *    Every write is stamped (`LatencyRecorder`), so each client read yields the latency of
 *    the notifications it carries.
 * 5. Wait until every owed line arrived, then linger `linger` ms to catch extra lines.
 *
 * With `reconnectEvery`, each client drops its connection at random points of its stream
 * (`DropSchedule`, mid-line too: the rest of that read is lost), waits 0..`reconnectPause`
 * ms, connects again (to the next port of the list, so a cluster's clients move between
 * gateways) and identifies as `USERID|LASTSEQ|EPOCH` (its first connection identified as
 * `USERID|-`, to be given the epoch); its `ClientStream` judges the resumed
 * stream. While away, a client stays owed its lines (the generator's pacing counts them)
 * and its wait for them is not timed; the run ends only once every client is connected.
 *
 * With `workers` > 1 the clients run in worker processes (`WorkerPool`), each verifying
 * those whose index modulo `workers` is its shard with the same generator from the same seed;
 * this process keeps the event source, and before each write every worker is owed the write's
 * lines (`worker-messages.ts`). The workers connect once every one of them has started, so
 * the connect storm is timed from its first connect. `sourceAddresses` spreads the clients'
 * source addresses.
 *
 * An abort signal (`SimulationControl`, Ctrl-C in the CLI) stops the run as a failure
 * (ERR_SIM_INTERRUPTED), so the result carries the partial figures.
 *
 * Invariants: the first failure wins and stops the run (fail fast); every wait is bounded
 * by `timeout` (a connect, the warm-up, a client waiting for its next line, the event source
 * blocked), and the refusals retried by `waitForPorts`; every socket is closed before `simulate()` resolves: after a success `end()`,
 * then `destroy()` after a bounded wait; after a failure `destroy()` at once.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect as connectTls } from 'node:tls';
import type { ClientStream, ReconnectCounts } from './client-stream.js';
import { EVENT_WRITE_SIZE } from './constants.js';
import { type IdField, idFieldsOf } from './credentials.js';
import { DropSchedule, NO_DROP } from './drops.js';
import {
  SimulationErrorCode as Code,
  type SimulationFailure,
  simulationFailure,
} from './failures.js';
import { EventGenerator } from './generator.js';
import { foldDigest, formatDigest } from './hash.js';
import {
  type ResolvedSimulateOptions,
  resolveSimulateOptions,
  type SimulateOptions,
  terminatorBytes,
} from './options.js';
import { TokenBucket } from './pacer.js';
import type { ReconnectSummary, SimulationProgress, SimulationResult } from './result.js';
import type { ToWorker } from './worker-messages.js';
import { type WorkerRole, WorkerShard } from './worker-shard.js';
import { WorkerPool, type WorkerReport } from './workers.js';

/** Receive buffer shared by the client sockets, reused for every read. */
const CLIENT_READ_BUFFER_SIZE = 64 * 1024;
/**
 * Most client connections being opened at once (a listen backlog is often 511). A window, not
 * waves: a connect that waits for a SYN retransmit (1 s) does not hold up the others.
 */
const CONNECTS_IN_FLIGHT = 128;
/**
 * Most new client connections per second to one client port, over every worker. The kernel
 * completes a handshake before the server accepts it: faster than the server accepts, the
 * accept queue overflows, and a connection whose last ACK was dropped may not be accepted
 * for a minute. One `serve` on a shared 2-core machine took 19,000 at about 6,000/s once and
 * left 1,054 unaccepted the next time.
 */
const CONNECTS_PER_SECOND_PER_PORT = 4_000;
/** Wait between warm-up broadcasts while some client has not received one yet, in ms... */
const WARMUP_INTERVAL_MS = 20;
/**
 * ...or longer, so that the warm-up owes each server (client port) at most this many
 * notifications per ms, counting every client (each is connected, so soon registered): 17,000
 * clients registered while 2,000 still connected took every broadcast every 20 ms (850,000
 * notifications/s), which kept the server too busy to accept the rest within 20 s. Counting
 * only the clients registered so far sent broadcasts every 20 ms until the first one had
 * reached them: 100,000 clients were owed 5-10 broadcasts at once, and the last few
 * registered waited a second more for the next one.
 */
const WARMUP_NOTIFICATIONS_PER_MS = 100;
/**
 * Longest wait for one warm-up broadcast to reach every client registered so far, in warm-up
 * intervals, before the next is sent anyway: 100,000 clients over 6 servers (167 ms
 * intervals) took 1.5-1.7 s for one, under these 2.5 s. A registered client that never gets
 * its broadcast must not stop the warm-up: a client registered after the last broadcast
 * would never receive one, and be blamed for the other's fault.
 */
const WARMUP_DELIVERY_WAIT_INTERVALS = 15;
/** Wait before trying again a connection a port refused, while `waitForPorts` lasts, in ms. */
const PORT_RETRY_MS = 100;
/**
 * Pause generating once one client owes this many lines (expected, not received yet)...
 * With many clients the per-client limit shrinks to MAX_PENDING_TOTAL / concurrencyLevel,
 * but not below MIN_PENDING_PER_CLIENT.
 */
const MAX_PENDING_PER_CLIENT = 8_192;
const MIN_PENDING_PER_CLIENT = 256;
/** ...or all clients together owe this many; resume at half of both. Bounds memory. */
const MAX_PENDING_TOTAL = 1_048_576;
/**
 * Longest the warm-up goes on while no client has received any broadcast at all, in ms
 * (when shorter than `timeout`): then the run fails with ERR_SIM_NO_WARMUP instead of
 * waiting the whole `timeout`. Every connection was accepted by then, so the likely cause is
 * a server that already applied these sequence numbers (a second run against it).
 */
export const WARMUP_SILENCE_MS = 3_000;
/** Bounded wait between `end()` and `destroy()` when closing, in ms. */
const CLOSE_TIMEOUT_MS = 1_000;

const MAX_TICK_MS = 100;
const MIN_TICK_MS = 5;

/**
 * Runs one simulation against the server at `host:eventPort/clientPort` (or the cluster
 * whose ingest takes `eventPort` and whose gateways serve the ports `clientPort` lists).
 * Resolves with the result, `ok` or not; rejects only on invalid options (`MazeError`).
 * Aborting `control.signal` ends the run with `ERR_SIM_INTERRUPTED`.
 */
export async function simulate(
  options: SimulateOptions = {},
  control: SimulationControl = {},
): Promise<SimulationResult> {
  return runSimulation(resolveSimulateOptions({ ...options }), control);
}

/** What the caller can do to a running simulation. */
export interface SimulationControl {
  /** Aborting it stops the run: the result is a failure with ERR_SIM_INTERRUPTED. */
  readonly signal?: AbortSignal;
}

/**
 * `simulate()` with options already resolved (as the CLI does, environment included).
 * Rejects with `ERR_INVALID_OPTION` before connecting when a JWT key file is unusable.
 */
export async function runSimulation(
  options: ResolvedSimulateOptions,
  control: SimulationControl = {},
): Promise<SimulationResult> {
  const idField = await idFieldsOf(options);
  return new Simulation(options, idField).run(control.signal);
}

/**
 * One run. With `workers` > 1 it is the coordinator: the event source, the warm-up and the
 * stream here, the clients in worker processes (`WorkerPool`), each a `Simulation` whose
 * `WorkerShard` follows the coordinator's writes (`receive()`).
 */
export class Simulation {
  readonly #options: ResolvedSimulateOptions;
  readonly #idField: IdField;
  readonly #generator: EventGenerator;
  // By client index; undefined while a dropped client is away.
  readonly #clientSockets: (Socket | undefined)[] = [];
  // By client index, with `reconnectEvery`.
  readonly #drops: readonly DropSchedule[] | undefined;
  // The coordinator's workers; a worker's shard of the clients.
  readonly #pool: WorkerPool | undefined;
  readonly #worker: WorkerShard | undefined;
  #reports: readonly (WorkerReport | undefined)[] = [];
  // When the run started, every client was connected, and every one was registered (ms).
  #runStartedAt = 0;
  // When the clients started connecting: at the start, or once every worker had started
  // (then #workersStartedAt too).
  #connectStartedAt = 0;
  #workersStartedAt = 0;
  #connectedAt = 0;
  #registeredAt = 0;
  // Dropped clients not connected again yet, their pauses, and their connects under way.
  #away = 0;
  readonly #pauses = new Set<NodeJS.Timeout>();
  readonly #reconnecting = new Set<Promise<void>>();
  readonly #stalledSockets: Socket[] = [];
  // One read buffer for every client socket: each read is verified before the next one
  // starts, so nothing outlives it, and the memory the kernel copies into stays in cache.
  readonly #readBuffer = Buffer.allocUnsafe(CLIENT_READ_BUFFER_SIZE);
  #eventSource: Socket | undefined;
  #failure: SimulationFailure | undefined;
  #closing = false;
  // Until when a refused connection is tried again (`waitForPorts` from the start).
  #portsDeadline = 0;

  // The one thing the run is waiting for, and how to wake it.
  #wake: (() => void) | undefined;
  #ready: () => boolean = () => true;

  #eventSourceBlocked = false;
  #eventSourceBlockedSince = 0;
  #eventsSent = 0;
  #startedAt = 0;
  // The stream's first and last writes, and the events sent up to the first one.
  #streamFirstWriteAt = 0;
  #streamLastWriteAt = 0;
  #eventsAtFirstWrite = 0;
  #eventsAtLastWrite = 0;
  #finishedAt = 0;
  #ticker: NodeJS.Timeout | undefined;
  #lastProgressAt = 0;
  #lastProgressEvents = 0;
  #lastProgressNotifications = 0;

  constructor(options: ResolvedSimulateOptions, idField: IdField, worker?: WorkerRole) {
    this.#options = options;
    this.#idField = idField;
    const { workers } = options;
    const perClientLimit = Math.min(
      MAX_PENDING_PER_CLIENT,
      Math.max(MIN_PENDING_PER_CLIENT, Math.floor(MAX_PENDING_TOTAL / options.concurrencyLevel)),
    );
    const spread = workers > 1;
    this.#generator = new EventGenerator(options, {
      perClientLimit,
      totalLimit: Math.floor(MAX_PENDING_TOTAL / workers),
      // The coordinator verifies no client, a worker those of its shard.
      ...(spread && {
        owns: (index: number) => worker !== undefined && index % workers === worker.shard,
      }),
    });
    if (worker !== undefined) {
      this.#worker = new WorkerShard(worker, this.#generator, options.latencyWarmup, {
        away: () => this.#away,
        fail: (failure) => this.#fail(failure),
        poke: () => this.#poke(),
      });
    }
    if (spread && worker === undefined) {
      this.#pool = new WorkerPool(
        options,
        () => this.#poke(),
        (failure) => this.#fail(failure),
      );
    }
    const { reconnectEvery, randomSeed } = options;
    if (reconnectEvery === 0) return;
    const drops: DropSchedule[] = [];
    // Each connection opens with the epoch line, which is not a notification.
    for (const client of this.#generator.clients) {
      drops[client.index] = new DropSchedule(randomSeed, client.index, reconnectEvery, 1);
    }
    this.#drops = drops;
  }

  async run(signal?: AbortSignal): Promise<SimulationResult> {
    const interrupt = (): void => this.#interrupt();
    if (signal?.aborted === true) interrupt();
    signal?.addEventListener('abort', interrupt, { once: true });
    this.#runStartedAt = performance.now();
    this.#connectStartedAt = this.#runStartedAt;
    this.#portsDeadline = this.#runStartedAt + this.#options.waitForPorts;
    this.#tick();
    const tickMs = Math.max(
      MIN_TICK_MS,
      Math.min(MAX_TICK_MS, Math.floor(this.#options.timeout / 4)),
    );
    this.#ticker = setInterval(() => this.#tick(), tickMs);
    const pool = this.#pool;
    const connect =
      pool === undefined
        ? [() => this.#connectClients(), () => this.#connectStalledClients()]
        : [
            async () => {
              // Bounded by the pool's start timeout; a failure (Ctrl-C included) ends it.
              await this.#until(() => pool.started);
              if (this.#failure !== undefined) return;
              this.#workersStartedAt = performance.now();
              this.#connectStartedAt = this.#workersStartedAt;
            },
            () => pool.connected(),
          ];
    const shard = this.#worker;
    const phases =
      shard === undefined
        ? [
            ...connect,
            () => this.#connectEventSource(),
            () => this.#warmUp(),
            () => this.#stream(),
            async () => {
              pool?.finish();
              await this.#until(() =>
                pool === undefined
                  ? this.#generator.ledger.pending === 0 && this.#away === 0
                  : pool.drained,
              );
              if (this.#failure === undefined) this.#finishedAt = performance.now();
            },
            () => this.#until(() => false, this.#options.linger),
          ]
        : [
            async () => {
              shard.ready();
              await this.#until(() => shard.connectAsked || shard.closeAsked);
            },
            ...connect,
            async () => shard.connected(),
            () => this.#until(() => shard.closeAsked),
          ];
    try {
      for (const phase of phases) {
        if (this.#failure !== undefined) break;
        await phase();
        if (phase === connect.at(-1)) this.#connectedAt = performance.now();
      }
      if (this.#failure === undefined) this.#checkDigests();
    } finally {
      signal?.removeEventListener('abort', interrupt);
      clearInterval(this.#ticker);
      await this.#closeAll();
    }
    return this.#result();
  }

  #interrupt(): void {
    this.#fail(
      simulationFailure(
        Code.Interrupted,
        `interrupted after ${this.#eventsSent} events sent and` +
          ` ${this.#generator.ledger.received} notifications verified; the figures are partial`,
      ),
    );
  }

  /** A worker: what the coordinator says. */
  receive(message: ToWorker): void {
    this.#worker?.receive(message);
  }

  /** A worker: its clients' stream digests, in index order, and their latencies. */
  report(): Pick<WorkerReport, 'streamDigests' | 'latencies'> {
    return {
      streamDigests: this.#generator.clients.map((client) => client.streamDigest),
      latencies: this.#generator.ledger.latency.encoded(),
    };
  }

  async #connectClients(): Promise<void> {
    const clients = this.#generator.clients;
    const idTerminator = terminatorBytes(this.#options.idTerminator);
    const { clientPorts, workers } = this.#options;
    const pace = new TokenBucket(
      (CONNECTS_PER_SECOND_PER_PORT * clientPorts.length) /
        (this.#worker === undefined ? 1 : workers),
      performance.now(),
    );
    let next = 0;
    const connectNext = async (): Promise<void> => {
      while (next < clients.length && this.#failure === undefined) {
        const wait = pace.waitMs(performance.now());
        if (wait > 0) {
          await new Promise((resolve) => setTimeout(resolve, wait));
          continue;
        }
        pace.take(1);
        const client = clients[next++] as ClientStream;
        const socket = await this.#openClient(client, this.#clientPort(client.index));
        // A client that will drop is resume-aware from its first connection on; a token
        // takes the user id's place (docs/protocol.md §12).
        const idField = await this.#idField(client.userId);
        const aware = this.#drops === undefined ? '' : client.awarePart();
        socket?.write(`${idField}${aware}${idTerminator}`);
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(CONNECTS_IN_FLIGHT, clients.length) }, connectNext),
    );
  }

  async #connectStalledClients(): Promise<void> {
    const idTerminator = terminatorBytes(this.#options.idTerminator);
    const users = this.#generator.unconnectedUsers(this.#options.stalledClients);
    const verified = this.#generator.clientCount;
    const { workers } = this.#options;
    const shard = this.#worker?.shard;
    const connecting = users.map(async (user, index) => {
      if (shard !== undefined && index % workers !== shard) return;
      const at = verified + index;
      const socket = await this.#open(`stalled#${index}`, this.#clientPort(at), at);
      if (socket === undefined) return;
      this.#stalledSockets.push(socket);
      // Never read: the kernel's buffers fill, then the server's queue for it.
      socket.pause();
      // Nothing it says matters, its closing included: a socket that never reads does not
      // even see the server's FIN, which waits behind the unread bytes.
      socket.on('error', () => {});
      socket.write(`${await this.#idField(user)}${idTerminator}`);
    });
    await Promise.all(connecting);
  }

  // Connects `client` and makes the socket its connection; undefined after a failure.
  async #openClient(client: ClientStream, port: number): Promise<Socket | undefined> {
    const socket = await this.#open(`client#${client.index}`, port, client.index, (from, bytes) =>
      this.#onClientData(client, from, bytes),
    );
    if (socket === undefined) return undefined;
    this.#clientSockets[client.index] = socket;
    this.#watchClient(socket, client);
    return socket;
  }

  // Round-robin over the client ports, by creation order (verified clients, then stalled).
  #clientPort(index: number): number {
    const ports = this.#options.clientPorts;
    return ports[index % ports.length] as number;
  }

  async #connectEventSource(): Promise<void> {
    const socket = await this.#open('event-source', this.#options.eventPort);
    if (socket === undefined) return;
    this.#eventSource = socket;
    socket.on('drain', () => {
      this.#eventSourceBlocked = false;
      this.#poke();
    });
    socket.on('data', () => {}); // Anything the server says here is ignored.
    this.#watchClosing(socket, 'event-source', () => 'the event source');
  }

  // Opens one connection; on failure records a connection failure and resolves undefined.
  // `onData` gets each read, in the shared read buffer. A client (`clientIndex`) connects
  // from the source address its index picks, when there are any.
  #open(
    connection: string,
    port: number,
    clientIndex?: number,
    onData?: (socket: Socket, bytes: number) => void,
  ): Promise<Socket | undefined> {
    const { host, timeout, tls, sourceAddresses } = this.#options;
    const localAddress =
      clientIndex === undefined || sourceAddresses.length === 0
        ? undefined
        : sourceAddresses[clientIndex % sourceAddresses.length];
    return new Promise((resolve) => {
      const attempt = (): void => {
        const onread =
          onData === undefined
            ? undefined
            : {
                buffer: this.#readBuffer,
                callback: (bytes: number): boolean => {
                  onData(socket, bytes);
                  return true;
                },
              };
        const socketOptions = {
          host,
          port,
          noDelay: true,
          ...(onread && { onread }),
          ...(localAddress !== undefined && { localAddress }),
        };
        const socket: Socket =
          tls === undefined
            ? connect(socketOptions)
            : connectTls({
                ...socketOptions,
                ...(connection === 'event-source' ? tls.eventSource : tls.client),
              });
        const timer = setTimeout(
          () => fail(new Error(`no connection within ${timeout} ms`)),
          timeout,
        );
        const fail = (error: Error): void => {
          clearTimeout(timer);
          socket.destroy();
          if (this.#mayRetry(error)) {
            setTimeout(
              () => (this.#failure === undefined ? attempt() : resolve(undefined)),
              PORT_RETRY_MS,
            );
            return;
          }
          this.#fail(
            simulationFailure(
              Code.Connect,
              `cannot connect ${connection} to ${host}:${port}: ${describeError(error)}`,
              { connection },
            ),
          );
          resolve(undefined);
        };
        socket.once('error', fail);
        // Over TLS, a connection is made once its handshake is done.
        socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
          clearTimeout(timer);
          socket.off('error', fail);
          resolve(socket);
        });
      };
      attempt();
    });
  }

  // A refused connection is tried again while `waitForPorts` lasts: its server may still be
  // starting (a script that starts servers and the simulator together).
  #mayRetry(error: Error): boolean {
    return (
      (error as NodeJS.ErrnoException).code === 'ECONNREFUSED' &&
      this.#failure === undefined &&
      performance.now() + PORT_RETRY_MS < this.#portsDeadline
    );
  }

  #watchClient(socket: Socket, client: ClientStream): void {
    const drops = this.#drops?.[client.index]?.drops ?? 0;
    this.#watchClosing(
      socket,
      `client#${client.index}`,
      () =>
        `${client.name} after ${client.lines} lines (${client.pending} still owed)` +
        (drops === 0 ? '' : ` on the connection it resumed (${drops} drops so far)`),
      // A connection the client dropped is no longer watched.
      () => this.#clientSockets[client.index] === socket,
    );
  }

  // Any close or error the simulator did not start is a failure of the server.
  #watchClosing(
    socket: Socket,
    connection: string,
    describe: () => string,
    watched: () => boolean = () => true,
  ): void {
    socket.on('error', (error) => {
      if (this.#closing || !watched()) return;
      this.#fail(
        simulationFailure(Code.Closed, `${describe()}: connection error: ${describeError(error)}`, {
          connection,
        }),
      );
    });
    socket.on('close', () => {
      if (this.#closing || !watched()) return;
      this.#fail(simulationFailure(Code.Closed, `the server closed ${describe()}`, { connection }));
    });
  }

  #onClientData(client: ClientStream, socket: Socket, bytes: number): void {
    if (this.#failure !== undefined) return;
    const buffer = this.#readBuffer;
    const ledger = this.#generator.ledger;
    ledger.clock = performance.now();
    const drops = this.#drops;
    let cut = NO_DROP;
    if (drops !== undefined) {
      // A connection already dropped may deliver one more read before it closes: lost too.
      if (this.#clientSockets[client.index] !== socket) return;
      cut = (drops[client.index] as DropSchedule).cut(buffer, bytes);
    }
    if (!client.receive(buffer, cut === NO_DROP ? bytes : cut)) {
      this.#fail(client.failure as SimulationFailure);
      return;
    }
    if (cut !== NO_DROP) this.#drop(client, socket);
    this.#worker?.changed();
    if (this.#wake !== undefined) this.#poke();
  }

  // Drops the client's connection: what was not received is lost. It connects again after
  // its pause, and resumes.
  #drop(client: ClientStream, socket: Socket): void {
    this.#clientSockets[client.index] = undefined;
    socket.destroy();
    client.dropped();
    if (this.#closing) return;
    this.#away++;
    const schedule = this.#drops?.[client.index] as DropSchedule;
    const pause = setTimeout(() => {
      this.#pauses.delete(pause);
      const connecting = this.#resume(client, schedule.drops);
      this.#reconnecting.add(connecting);
      void connecting.finally(() => this.#reconnecting.delete(connecting));
    }, schedule.pauseMs(this.#options.reconnectPause));
    this.#pauses.add(pause);
  }

  // Connects a dropped client again, on the next port of the list, as `USERID|LASTSEQ|EPOCH`.
  async #resume(client: ClientStream, drops: number): Promise<void> {
    if (this.#failure !== undefined || this.#closing) return;
    const socket = await this.#openClient(client, this.#clientPort(client.index + drops));
    if (socket === undefined) return;
    const idField = await this.#idField(client.userId);
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#generator.ledger.clock = performance.now();
    const idTerminator = terminatorBytes(this.#options.idTerminator);
    // A token takes the user id's place in the resume line too (docs/protocol.md §12).
    socket.write(`${idField}${client.resumePart()}${idTerminator}`);
    this.#away--;
    this.#worker?.changed();
    this.#poke();
  }

  async #warmUp(): Promise<void> {
    this.#startedAt = performance.now();
    this.#lastProgressAt = this.#startedAt;
    const generator = this.#generator;
    const pool = this.#pool;
    const { timeout } = this.#options;
    const clients = pool?.clients ?? generator.clients.length;
    const registered = (): number => pool?.registered ?? generator.ledger.registered;
    const pending = (): number => pool?.pending ?? generator.ledger.pending;
    const interval = Math.max(
      WARMUP_INTERVAL_MS,
      clients / (WARMUP_NOTIFICATIONS_PER_MS * this.#options.clientPorts.length),
    );
    const deliveryWait = interval * WARMUP_DELIVERY_WAIT_INTERVALS;
    let graced = false;
    const deadline = performance.now() + timeout;
    // Only when it comes before the deadline: a short `timeout` keeps its own failure.
    const silenceDeadline =
      WARMUP_SILENCE_MS < timeout ? performance.now() + WARMUP_SILENCE_MS : Infinity;
    while (this.#failure === undefined && registered() < clients) {
      if (registered() === 0 && performance.now() > silenceDeadline) {
        this.#fail(
          simulationFailure(
            Code.NoWarmup,
            `no client received any of the ${generator.warmupSent} warm-up broadcasts` +
              ` (sequence numbers 1..${generator.warmupSent}) in ${WARMUP_SILENCE_MS} ms, although` +
              ` the server accepted every connection: most likely it already applied these` +
              ` sequence numbers (was it used by an earlier run?). A run numbers its events` +
              ` from 1, so it needs a server that has applied none: restart a plain serve, or` +
              ` start it with --reset-on-disconnect; a server on NATS (serve --nats-url, or an` +
              ` ingest with gateways) keeps its event log across restarts, so restart it, and` +
              ` every gateway, on a new stream (another --nats-stream and --nats-subject).` +
              ` Otherwise the server does not read the event source, splits the fields on` +
              ` another byte than ${JSON.stringify(this.#options.delimiter)} (--delimiter must be` +
              ` the same on both sides), or never registers clients`,
            { connection: 'event-source' },
          ),
        );
        return;
      }
      // A registered client still owed a broadcast is the first fault: report it, not the
      // clients that may have been registered only since the last broadcast.
      const starved =
        performance.now() > deadline
          ? generator.clients.find(
              (client) => client.pending > 0 && this.#clientSockets[client.index] !== undefined,
            )
          : undefined;
      if (starved !== undefined) {
        this.#fail(starved.timedOut(performance.now() - starved.waitingSince));
        return;
      }
      if (performance.now() > deadline && pool !== undefined && pool.pending > 0 && !graced) {
        // The same in a worker, which alone knows the client: its own wait, begun before the
        // deadline, ends within `timeout` and fails the run.
        graced = true;
        await this.#until(() => false, timeout);
        continue;
      }
      if (performance.now() > deadline && pool !== undefined) {
        this.#fail(
          simulationFailure(
            Code.NotRegistered,
            `${clients - registered()} of ${clients} clients received none of the` +
              ` ${generator.warmupSent} warm-up broadcasts sent in ${timeout} ms: the server` +
              ' never registered them',
          ),
        );
        return;
      }
      if (performance.now() > deadline) {
        const stranger = generator.clients.find((client) => !client.registered) as ClientStream;
        this.#fail(
          simulationFailure(
            Code.NotRegistered,
            `${stranger.name} received none of the ${generator.warmupSent} warm-up broadcasts` +
              ` sent in ${timeout} ms: the server never registered it`,
            { connection: `client#${stranger.index}`, userId: stranger.userId },
          ),
        );
        return;
      }
      generator.warmupBroadcast();
      await pool?.advance(generator.warmupSent, generator.generated, false);
      if (this.#failure !== undefined) return;
      this.#writeEvents(generator.takeOutput());
      await this.#until(() => registered() === clients, interval);
      // Not while the last one is still on its way to the clients registered so far: with
      // many clients one broadcast takes seconds to deliver, and the next would only slow it.
      await this.#until(
        () => registered() === clients || pending() === 0,
        Math.max(0, Math.min(deliveryWait, deadline - performance.now())),
      );
    }
    this.#registeredAt = performance.now();
  }

  async #stream(): Promise<void> {
    const generator = this.#generator;
    const ledger = generator.ledger;
    ledger.latency.startRecording(performance.now(), this.#options.latencyWarmup);
    if (this.#options.rate > 0) {
      await this.#streamPaced(this.#options.rate);
      return;
    }
    const pool = this.#pool;
    while (!generator.done && this.#failure === undefined) {
      generator.nextBatch();
      const pause = pool === undefined && ledger.mustPause;
      if (generator.outputLength < EVENT_WRITE_SIZE && !pause && !generator.done) continue;
      if (pool !== undefined) {
        await pool.advance(generator.warmupSent, generator.generated, true);
        if (this.#failure !== undefined) return;
      }
      this.#writeEvents(generator.takeOutput());
      if (pause || pool?.mustPause === true) await this.#until(() => this.#mayResume());
      if (this.#eventSourceBlocked) await this.#until(() => !this.#eventSourceBlocked);
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  // Paced: each turn writes the batches the bucket allows in one write, then sleeps until it
  // allows another; the ledger's and the socket's backpressure still hold the stream.
  async #streamPaced(rate: number): Promise<void> {
    const generator = this.#generator;
    const ledger = generator.ledger;
    const bucket = new TokenBucket(rate, performance.now());
    while (!generator.done && this.#failure === undefined) {
      const wait = bucket.waitMs(performance.now());
      if (wait > 0) {
        await this.#until(() => false, wait);
        continue;
      }
      const now = performance.now();
      while (bucket.balance(now) >= 1 && !generator.done) {
        const before = generator.generated;
        generator.nextBatch();
        bucket.take(generator.generated - before);
      }
      if (this.#pool !== undefined) {
        await this.#pool.advance(generator.warmupSent, generator.generated, true);
        if (this.#failure !== undefined) return;
      }
      this.#writeEvents(generator.takeOutput());
      if (ledger.mustPause || this.#pool?.mustPause === true) {
        await this.#until(() => this.#mayResume());
      }
      if (this.#eventSourceBlocked) await this.#until(() => !this.#eventSourceBlocked);
    }
  }

  // The generator may go on: the ledger, or every worker's, says so.
  #mayResume(): boolean {
    return this.#pool?.mayResume ?? this.#generator.ledger.mayResume;
  }

  #writeEvents(bytes: Uint8Array): void {
    const socket = this.#eventSource as Socket;
    const ledger = this.#generator.ledger;
    const now = performance.now();
    ledger.clock = now;
    ledger.latency.wrote(now);
    if (this.#generator.generated > 0) {
      if (this.#streamFirstWriteAt === 0) {
        this.#streamFirstWriteAt = now;
        this.#eventsAtFirstWrite = this.#generator.generated;
      }
      this.#streamLastWriteAt = now;
      this.#eventsAtLastWrite = this.#generator.generated;
    }
    this.#eventsSent = this.#generator.nextSequence - 1;
    if (!socket.write(bytes) && !this.#eventSourceBlocked) {
      this.#eventSourceBlocked = true;
      this.#eventSourceBlockedSince = now;
    }
    // Nothing queued: the kernel has the bytes, so the generator may write over them.
    if (socket.writableLength === 0) this.#generator.reuseOutput();
  }

  // Waits until `ready()` holds, the run fails, or `ms` elapse.
  #until(ready: () => boolean, ms?: number): Promise<void> {
    if (this.#failure !== undefined || ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.#wakeUp(), ms);
      this.#ready = ready;
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  #poke(): void {
    if (this.#wake !== undefined && (this.#failure !== undefined || this.#ready())) this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #fail(failure: SimulationFailure | undefined): void {
    if (failure === undefined || this.#failure !== undefined) return;
    this.#failure = failure;
    this.#worker?.failed(failure);
    this.#pool?.abandon();
    this.#finishedAt = performance.now();
    this.#wakeUp();
  }

  // Timeouts, progress and a fresh clock, every few ms.
  #tick(): void {
    const now = performance.now();
    const ledger = this.#generator.ledger;
    ledger.clock = now;
    if (this.#failure !== undefined || this.#closing) return;
    const { timeout, logInterval, onProgress } = this.#options;
    for (const client of this.#generator.clients) {
      if (
        client.pending > 0 &&
        now - client.waitingSince > timeout &&
        this.#clientSockets[client.index] !== undefined
      ) {
        this.#fail(client.timedOut(now - client.waitingSince));
        return;
      }
    }
    if (this.#eventSourceBlocked && now - this.#eventSourceBlockedSince > timeout) {
      this.#fail(
        simulationFailure(
          Code.EventSourceStalled,
          `the server read no events for more than ${timeout} ms (event source blocked after` +
            ` ${this.#eventsSent} events)`,
          { connection: 'event-source' },
        ),
      );
      return;
    }
    if (onProgress !== undefined && logInterval > 0 && this.#startedAt > 0) {
      const interval = now - this.#lastProgressAt;
      if (interval >= logInterval) this.#progress(onProgress, now, interval);
    }
    this.#worker?.tick();
    this.#poke();
  }

  #progress(
    onProgress: (progress: SimulationProgress) => void,
    now: number,
    interval: number,
  ): void {
    const ledger = this.#generator.ledger;
    const received = this.#pool?.received ?? ledger.received;
    onProgress({
      elapsedMs: now - this.#startedAt,
      eventsSent: this.#eventsSent,
      eventsTotal: this.#options.totalEvents + this.#generator.warmupSent,
      notificationsReceived: received,
      notificationsPending: this.#pool?.pending ?? ledger.pending,
      eventsPerSecond: ((this.#eventsSent - this.#lastProgressEvents) * 1000) / interval,
      notificationsPerSecond: ((received - this.#lastProgressNotifications) * 1000) / interval,
    });
    this.#lastProgressAt = now;
    this.#lastProgressEvents = this.#eventsSent;
    this.#lastProgressNotifications = received;
  }

  // Each line was already checked; this re-checks each whole stream's order-sensitive digest.
  #checkDigests(): void {
    for (const client of this.#generator.clients) {
      if (
        client.receivedDigest !== client.expectedDigest ||
        client.lines !== client.expectedLines
      ) {
        this.#fail(
          simulationFailure(
            Code.Content,
            `${client.name}: received ${client.lines} lines with digest` +
              ` ${formatDigest(client.receivedDigest)}, owed ${client.expectedLines} with digest` +
              ` ${formatDigest(client.expectedDigest)}`,
            { connection: `client#${client.index}`, userId: client.userId },
          ),
        );
        return;
      }
    }
  }

  async #closeAll(): Promise<void> {
    this.#closing = true;
    this.#wakeUp();
    for (const pause of this.#pauses) clearTimeout(pause);
    this.#pauses.clear();
    // Each ends within `timeout`, and destroys what it opened once closing.
    await Promise.all(this.#reconnecting);
    const reports = this.#pool?.close(this.#failure !== undefined);
    const sockets = [...this.#clientSockets, ...this.#stalledSockets, this.#eventSource].filter(
      (socket): socket is Socket => socket !== undefined && !socket.destroyed,
    );
    const closed = sockets.map(
      (socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())),
    );
    if (this.#failure !== undefined) {
      // Fail fast: nothing more is worth reading or flushing.
      for (const socket of sockets) socket.destroy();
      this.#reports = (await reports) ?? [];
      return;
    }
    // A stalled client never reads, so it would not close in time: it goes at once.
    for (const socket of this.#stalledSockets) socket.destroy();
    for (const socket of sockets) socket.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
    this.#reports = (await reports) ?? [];
  }

  // Events/s between the stream's first and last writes: what the pace achieved.
  #sendRate(): number {
    const ms = this.#streamLastWriteAt - this.#streamFirstWriteAt;
    return ms > 0 ? ((this.#eventsAtLastWrite - this.#eventsAtFirstWrite) * 1000) / ms : 0;
  }

  #result(): SimulationResult {
    const generator = this.#generator;
    const ledger = generator.ledger;
    const seconds =
      this.#startedAt === 0 ? 0 : Math.max(0, (this.#finishedAt - this.#startedAt) / 1000);
    let digest = 0;
    let expected = 0;
    let received = ledger.received;
    let reconnects = { ...ledger.reconnects, refused: { ...ledger.reconnects.refused } };
    const reports = this.#reports;
    if (this.#pool === undefined) {
      for (const client of generator.clients) {
        digest = foldDigest(digest, client.streamDigest);
        expected += client.expectedLines;
      }
    } else {
      // Client `i` is the worker `i % workers`'s client `floor(i / workers)`.
      for (let i = 0; i < this.#pool.clients; i++) {
        const part = reports[i % reports.length]?.streamDigests[Math.floor(i / reports.length)];
        if (part !== undefined) digest = foldDigest(digest, part);
      }
      for (const [shard, report] of reports.entries()) {
        this.#fail(
          report === undefined
            ? simulationFailure(Code.Worker, `worker #${shard} reported no result`, {
                connection: `worker#${shard}`,
              })
            : report.result.ok
              ? undefined
              : report.result.failure,
        );
        if (report === undefined) continue;
        expected += report.result.expectedNotifications;
        if (report.latencies !== undefined) ledger.latency.add(report.latencies);
        received += report.result.notifications;
        reconnects = addReconnects(reconnects, report.result.reconnects);
      }
    }
    const summary = {
      events: this.#eventsSent,
      warmupEvents: generator.warmupSent,
      notifications: received,
      expectedNotifications: expected,
      clients: this.#pool?.clients ?? generator.clients.length,
      users: this.#options.numberOfUsers,
      seed: this.#options.randomSeed,
      seconds,
      eventsPerSecond: seconds > 0 ? this.#eventsSent / seconds : 0,
      notificationsPerSecond: seconds > 0 ? received / seconds : 0,
      rate: this.#options.rate > 0 ? this.#options.rate : null,
      sendRate: this.#sendRate(),
      latency: ledger.latency.summary() ?? null,
      latencyWarmup: this.#options.latencyWarmup,
      workersStartSeconds:
        this.#workersStartedAt === 0 ? null : (this.#workersStartedAt - this.#runStartedAt) / 1000,
      connectSeconds:
        this.#connectedAt === 0 ? null : (this.#connectedAt - this.#connectStartedAt) / 1000,
      registerSeconds:
        this.#registeredAt === 0 ? null : (this.#registeredAt - this.#startedAt) / 1000,
      stalledClients: this.#options.stalledClients,
      reconnects: this.#options.reconnectEvery === 0 ? null : reconnects,
      digest: formatDigest(digest),
    };
    return this.#failure === undefined
      ? { ok: true, ...summary }
      : { ok: false, failure: this.#failure, ...summary };
  }
}

// The sum of two runs' reconnect counters.
function addReconnects(sum: ReconnectCounts, more: ReconnectSummary | null): ReconnectCounts {
  if (more === null) return sum;
  return {
    drops: sum.drops + more.drops,
    resumes: sum.resumes + more.resumes,
    refused: {
      trimmed: sum.refused.trimmed + more.refused.trimmed,
      ahead: sum.refused.ahead + more.refused.ahead,
    },
    owedOnResume: sum.owedOnResume + more.owedOnResume,
    skipped: sum.skipped + more.skipped,
    repeats: sum.repeats + more.repeats,
  };
}

function describeError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? error.message : `${code} (${error.message})`;
}

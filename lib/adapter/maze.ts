/**
 * The stream adapter: a `MazeCore` driven by Node streams (docs/protocol.md §2, 5-9). It
 * attaches to any readable (event source) and any duplex (client), so TCP sockets,
 * in-memory `duplexPair()` ends and pipes all work the same.
 *
 * A `Maze` is the composition of the two sides in one process: `EventInput` (the source
 * slot, framing, its lifecycle) feeds lines to the core, and `FanOut` (clients, batching,
 * flow control) delivers what the core returns. The cluster's ingest and gateway compose
 * the same parts around a log instead.
 *
 * Invariants:
 * - Per input chunk: every line is pushed to the core and its deliveries queued, then every
 *   client with output gets one write (`FanOut`).
 * - The input is held exactly while the output's flow control says so.
 * - `core.connect()` and `core.disconnect()` pair up with the clients `FanOut` registers.
 * - Nothing here throws because of a peer: every problem is emitted as `'problem'` with
 *   its connection (`event-source#N`, `client#N`) and line number in the context.
 */
import { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';
import createDebug from 'debug';
import { type CoreStats, MazeCore } from '../core/maze-core.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { EventInput, type EventInputStats, undrainedProblem } from './event-input.js';
import {
  type AttachClientOptions,
  type ClientInfo,
  type ClientPage,
  FanOut,
  type FanOutStats,
  type ResumeReport,
} from './fan-out.js';
import { newEpoch } from './new-epoch.js';
import { type MazeOptions, type ResolvedMazeOptions, resolveMazeOptions } from './options.js';

export type { AttachClientOptions, ClientInfo, ClientPage, ResumeReport } from './fan-out.js';

const log = createDebug('follower-maze:maze');

/** Counters of a running maze (docs/protocol.md §9): the core's, both sides', and problems. */
export interface MazeStats extends CoreStats, FanOutStats, EventInputStats {
  /** Problems reported so far. */
  readonly problems: number;
  /** Connections a listening port failed to accept (`ERR_ACCEPT` reported through `report()`). */
  readonly acceptFailures: number;
}

/** Events of a `Maze`. */
export interface MazeEventMap {
  /** Something a peer did wrong, or a stream failure. Never thrown. */
  problem: [problem: Problem];
  /** A client sent its id; it receives every event applied from now on. */
  clientIdentified: [client: ClientInfo];
  /**
   * A client that identified as `USERID|LASTSEQ|EPOCH` was sent the epoch line, then what it
   * missed (`exact`) or a gap line (docs/protocol.md §12); it receives live notifications
   * from now on.
   */
  clientResumed: [report: ResumeReport];
  /** A client is gone (left, failed, rejected, dropped or closed). */
  clientClosed: [client: ClientInfo];
  /** An event source was accepted (it holds the source slot until it ends). */
  eventSourceAttached: [
    source: { readonly connection: string; readonly remoteAddress: string | null },
  ];
  /** An event source ended, failed or was closed; the next one may attach. */
  eventSourceEnded: [source: { readonly connection: string; readonly lineCount: number }];
}

/** Creates a maze with the given options; throws `ERR_INVALID_OPTION` on a bad one. */
export function createMaze(options: MazeOptions = {}): Maze {
  return new Maze(options);
}

export class Maze extends EventEmitter<MazeEventMap> {
  /** The options in force, defaults filled in. */
  readonly options: ResolvedMazeOptions;
  readonly #core: MazeCore;
  readonly #input: EventInput;
  readonly #output: FanOut;
  #closing: Promise<void> | undefined;
  #problems = 0;
  #acceptFailures = 0;

  constructor(options: MazeOptions = {}) {
    super();
    this.options = resolveMazeOptions(options);
    this.#core = new MazeCore({
      startSequence: this.options.startSequence,
      reorderCapacity: this.options.reorderCapacity,
      reorderBytes: this.options.reorderBytes,
      maxFollowEdges: this.options.maxFollowEdges,
      resumeBytes: this.options.resumeBytes,
      delimiter: this.options.delimiter,
      epoch: options.epoch ?? newEpoch(),
    });
    this.#output = new FanOut({ ...this.options, authenticate: options.authenticate }, this.#core, {
      clientIdentified: (client) => this.emit('clientIdentified', client),
      clientResumed: (report) => this.emit('clientResumed', report),
      clientClosed: (client) => this.emit('clientClosed', client),
      pauseInput: () => this.#input.pause(),
      resumeInput: () => this.#input.resume(),
      report: (problem) => this.#report(problem),
    });
    this.#input = new EventInput(this.options, {
      applyEventLine: (bytes, start, end, lineNumber, connection) =>
        this.#applyEventLine(bytes, start, end, lineNumber, connection),
      wellFormedLines: () => this.#core.wellFormedLines,
      flushOutput: () => this.#output.flush(),
      sourceAttached: (connection, remoteAddress) =>
        this.emit('eventSourceAttached', { connection, remoteAddress }),
      sourceEnded: (connection, lineCount) => {
        // The numbers start again: another stream, which resuming clients must not mistake.
        if (this.options.resetOnDisconnect) this.#core.reset(newEpoch());
        this.emit('eventSourceEnded', { connection, lineCount });
      },
      report: (problem) => this.#report(problem),
    });
  }

  /**
   * The epoch of the stream applied now (docs/protocol.md §12), sent to resume-aware
   * clients: the `epoch` option, else a random one, and a new one at each reset.
   */
  get epoch(): string {
    return this.#core.epoch;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Attaches an event source. If one is already active and has sent something within
   * `sourceIdleTimeout` (or is paused by backpressure), this one is reported
   * (`ERR_EVENT_SOURCE_BUSY`) and closed without reading a line. If the active one has been
   * idle longer, it is reported (`ERR_EVENT_SOURCE_IDLE`) and closed, and this one takes
   * over. Returns its connection name (`event-source#N`). Throws `ERR_INVALID_STATE` after
   * `close()`.
   */
  attachEventSource(stream: Readable): string {
    this.#assertOpen();
    return this.#input.attach(stream);
  }

  /**
   * Attaches a user client: it must send its id first, then receives notifications.
   * While `maxClients` clients are attached, a half-closed one with nothing queued is ended
   * to make room (`stats().clientsEvicted`, `ERR_CLIENT_EVICTED`); with none, the stream is
   * destroyed at once instead, counted in `stats().clientsRefused` and reported
   * (`ERR_CLIENT_LIMIT`); each report at most once per `CLIENT_LIMIT_REPORT_INTERVAL_MS`.
   * Returns its connection name (`client#N`) either way.
   * Throws `ERR_INVALID_STATE` after `close()`.
   */
  attachClient(stream: Duplex, options?: AttachClientOptions): string {
    this.#assertOpen();
    return this.#output.attach(stream, options);
  }

  /**
   * Reports a problem found in front of the maze (e.g. by `listen()` when a listening port
   * fails): it is counted in `stats().problems` and emitted as `'problem'`, like the maze's own;
   * an `ERR_ACCEPT` is counted in `stats().acceptFailures` too.
   */
  report(problem: Problem): void {
    if (problem.code === ErrorCode.AcceptFailed) this.#acceptFailures++;
    this.#report(problem);
  }

  /** A snapshot of the counters. */
  stats(): MazeStats {
    return {
      ...this.#core.stats(),
      ...this.#output.stats(),
      ...this.#input.stats(),
      problems: this.#problems,
      acceptFailures: this.#acceptFailures,
    };
  }

  /**
   * Lists attached clients (identified or identifying) in the order they were attached:
   * `limit` of them from `offset` on, as plain summaries. O(offset + limit).
   */
  clients(offset: number, limit: number): ClientPage {
    return this.#output.clients(offset, limit);
  }

  /**
   * Shuts down in two steps (docs/protocol.md §8). From the call on, no stream is attached
   * (`ERR_INVALID_STATE`). First the open event source is read on until it ends, for at most
   * `shutdownTimeout`: every line it sent is applied and delivered, backpressure still
   * holding it. Then everything attached is closed: each stream is ended so buffered output
   * flushes, and whatever has not finished within another `shutdownTimeout` is destroyed.
   * What the shutdown drops (a source still open at the timeout, events still waiting for a
   * missing number) is reported once as `ERR_SHUTDOWN_UNDRAINED`, with its count.
   * Idempotent; resolves when all are closed.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    log('closing');
    const source = await this.#input.drain(this.options.shutdownTimeout);
    const core = this.#core.stats();
    const undrained = undrainedProblem(source, core.pending, core.nextSequence);
    if (undrained !== undefined) this.#report(undrained);
    await Promise.all([this.#input.close(), this.#output.close()]);
    log('closed');
  }

  #assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new MazeError(ErrorCode.InvalidState, 'the maze is closed');
    }
  }

  // The hot path: one call per event line.
  #applyEventLine(
    bytes: Uint8Array,
    start: number,
    end: number,
    lineNumber: number,
    connection: string,
  ): void {
    const result = this.#core.push(bytes, start, end);
    if (result.problems.length !== 0) {
      for (const problem of result.problems) {
        this.#report({
          code: problem.code,
          message: problem.message,
          context: { ...problem.context, connection, lineNumber },
        });
      }
    }
    if (result.deliveries.length !== 0) this.#output.deliver(result.deliveries);
  }

  #report(problem: Problem): void {
    this.#problems++;
    log('problem %s %o', problem.code, problem.context);
    this.emit('problem', problem);
  }
}

/**
 * The worker's side of a run spread over worker processes (`workers` > 1): a `Simulation`
 * that holds one shard of the clients follows the coordinator's messages (`receive()`) and
 * tells it what its pacing, warm-up and end wait for (`worker-messages.ts`).
 *
 * Invariants:
 * - Before each of the coordinator's writes, the shard's generator is advanced to the same
 *   position (the same seed gives the same events), so its clients are owed the write's
 *   lines before they can arrive; only then is the write acknowledged (`advanced`).
 * - A change the coordinator waits for (the ledger may resume, every client registered,
 *   nothing owed any more, drained after `finish`) is sent as soon as it happens, whatever
 *   made it (a line received, or lines a gap line said are lost); the counters for its
 *   progress at most once per tick.
 */
import { performance } from 'node:perf_hooks';
import {
  SimulationErrorCode as Code,
  type SimulationFailure,
  simulationFailure,
} from './failures.js';
import type { EventGenerator } from './generator.js';
import type { FromWorker, ToWorker, WorkerState } from './worker-messages.js';

/**
 * A worker's part of a spread run: the clients whose index modulo `workers` is `shard`, and
 * how it speaks to the coordinator.
 */
export interface WorkerRole {
  readonly shard: number;
  readonly send: (message: FromWorker) => void;
}

/** What the shard needs of the `Simulation` that holds its clients. */
export interface ShardHost {
  /** Dropped clients not connected again yet. */
  away(): number;
  /** Ends the run with `failure` (the first one wins). */
  fail(failure: SimulationFailure): void;
  /** Something the run may be waiting for changed. */
  poke(): void;
}

/** One worker's shard of the clients, as the coordinator sees it (see the module header). */
export class WorkerShard {
  readonly #role: WorkerRole;
  readonly #generator: EventGenerator;
  readonly #latencyWarmup: number;
  readonly #host: ShardHost;
  // The stream is over (`finish`), the coordinator asked to close, the last state sent, and
  // whether latency is being recorded.
  #finishing = false;
  #connectAsked = false;
  #closeAsked = false;
  #lastState: WorkerState | undefined;
  #recording = false;

  constructor(role: WorkerRole, generator: EventGenerator, latencyWarmup: number, host: ShardHost) {
    this.#role = role;
    this.#generator = generator;
    this.#latencyWarmup = latencyWarmup;
    this.#host = host;
  }

  get shard(): number {
    return this.#role.shard;
  }

  /** The coordinator said every worker has started: connect now. */
  get connectAsked(): boolean {
    return this.#connectAsked;
  }

  /** The coordinator asked to close: the run is over. */
  get closeAsked(): boolean {
    return this.#closeAsked;
  }

  /** What the coordinator says. */
  receive(message: ToWorker): void {
    switch (message.type) {
      case 'connect':
        this.#connectAsked = true;
        this.#host.poke();
        break;
      case 'advance':
        this.#advance(message.warmupSent, message.generated, message.streaming);
        break;
      case 'finish':
        this.#finishing = true;
        this.changed();
        break;
      case 'close':
        this.#closeAsked = true;
        // The run failed: stop connecting too (its own failure is the coordinator's to report).
        if (message.abandon) {
          this.#host.fail(simulationFailure(Code.Interrupted, 'the run failed in another process'));
        }
        this.#host.poke();
        break;
      default:
        break;
    }
  }

  /** Started: it waits for `connect`. */
  ready(): void {
    this.#role.send({ type: 'ready' });
  }

  /** Every client of the shard is connected and has sent its id. */
  connected(): void {
    this.#role.send({ type: 'connected' });
  }

  /** The run failed here. */
  failed(failure: SimulationFailure): void {
    this.#role.send({ type: 'failed', failure });
  }

  /** Its ledger or its clients changed: tells the coordinator if it waits for that. */
  changed(): void {
    this.#report(false);
  }

  /** Every tick: the counters for the coordinator's progress too, once it has a state. */
  tick(): void {
    if (this.#lastState !== undefined) this.#report(true);
  }

  // Generates what the coordinator generated for its next write (the same seed gives the
  // same events), so its clients are owed their lines before the write.
  #advance(warmupSent: number, generated: number, streaming: boolean): void {
    const generator = this.#generator;
    const ledger = generator.ledger;
    const now = performance.now();
    ledger.clock = now;
    if (streaming && !this.#recording) {
      this.#recording = true;
      ledger.latency.startRecording(now, this.#latencyWarmup);
    }
    while (generator.warmupSent < warmupSent) generator.warmupBroadcast();
    while (generator.generated < generated) generator.nextBatch();
    generator.takeOutput();
    generator.reuseOutput();
    // On its clock, just before the coordinator's write: the latency counts the message's
    // trip too.
    ledger.latency.wrote(now);
    const state = this.#state();
    this.#lastState = state;
    this.#role.send({ type: 'advanced', state });
  }

  #state(): WorkerState {
    const ledger = this.#generator.ledger;
    return {
      registered: ledger.registered,
      received: ledger.received,
      pending: ledger.pending,
      mustPause: ledger.mustPause,
      mayResume: ledger.mayResume,
      drained: this.#drained(),
    };
  }

  #drained(): boolean {
    return this.#finishing && this.#generator.ledger.pending === 0 && this.#host.away() === 0;
  }

  // Tells the coordinator what its pacing, warm-up and end wait for as soon as it changes;
  // the counters for its progress only with `periodic` (every tick).
  #report(periodic: boolean): void {
    const last = this.#lastState;
    const ledger = this.#generator.ledger;
    const clients = this.#generator.clients.length;
    const changed =
      last === undefined ||
      (last.mustPause && ledger.mayResume) ||
      (last.registered < clients && ledger.registered === clients) ||
      // The warm-up's next broadcast waits for it.
      (last.pending > 0 && ledger.pending === 0) ||
      (!last.drained && this.#drained());
    if (!changed && !(periodic && last.received !== ledger.received)) return;
    const state = this.#state();
    this.#lastState = state;
    this.#role.send({ type: 'state', state });
  }
}

/**
 * The coordinator's side of a run spread over worker processes (`workers` > 1): starts the
 * workers, hands each its shard of the clients, keeps their ledgers' last state, and collects
 * their results. The run itself (event source, warm-up, stream, pacing) stays in
 * `Simulation`, which asks the pool where it would ask its own ledger.
 *
 * Invariants:
 * - No worker is told to connect before every worker has started, nor once the run failed;
 *   a worker that has not started within WORKER_START_TIMEOUT_MS fails the run.
 * - `advance()` resolves once every live worker holds the expectations of the next write
 *   (see `worker-messages.ts`), or once the run failed.
 * - The first failure of any worker (a verification failure, or a worker that exits before
 *   its result) goes to `onFailure`; the pool never fails twice.
 * - `close()` ends every worker within CLOSE_WAIT_MS: a worker that has not sent its result
 *   by then is killed. No worker outlives the pool.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  SimulationErrorCode as Code,
  type SimulationFailure,
  simulationFailure,
} from './failures.js';
import type { EncodedLatencies } from './latency.js';
import type { ResolvedSimulateOptions } from './options.js';
import type { SimulationResult } from './result.js';
import type { FromWorker, ToWorker, WorkerOptions, WorkerState } from './worker-messages.js';

/** Longest wait for the workers' results once asked to close, in ms. */
const CLOSE_WAIT_MS = 10_000;

/**
 * Longest wait for a worker to start (load the simulator, build its generator), in ms: 6
 * workers started in 0.84 s together on a shared 2-core machine; one silent for this long
 * is stuck, and the run, which waits for every worker before connecting, would wait forever.
 */
export const WORKER_START_TIMEOUT_MS = 30_000;

/** The built worker entry, beside this module. */
const WORKER_ENTRY = fileURLToPath(new URL('./worker.js', import.meta.url));

/** How the pool starts its workers: the entry module and how long each may take. */
export interface WorkerStart {
  readonly entry: string;
  readonly timeoutMs: number;
}

const WORKER_START: WorkerStart = { entry: WORKER_ENTRY, timeoutMs: WORKER_START_TIMEOUT_MS };

const NO_STATE: WorkerState = {
  registered: 0,
  received: 0,
  pending: 0,
  mustPause: false,
  mayResume: true,
  drained: false,
};

interface Worker {
  readonly child: ChildProcess;
  state: WorkerState;
  ready: boolean;
  connected: boolean;
  // Acknowledged advances, against those sent.
  acknowledged: number;
  result: WorkerReport | undefined;
  exited: boolean;
}

/** What a worker reported at the end: its summary, its clients' stream digests and latencies. */
export interface WorkerReport {
  readonly result: SimulationResult;
  readonly streamDigests: readonly number[];
  readonly latencies: EncodedLatencies | undefined;
}

export class WorkerPool {
  /** Verified clients over all workers. */
  readonly clients: number;
  readonly #workers: Worker[] = [];
  readonly #onChange: () => void;
  readonly #onFailure: (failure: SimulationFailure) => void;
  #advances = 0;
  #failed = false;
  #closing = false;
  readonly #startTimer: NodeJS.Timeout;
  // Waits on the pool, each woken when its condition holds or the run failed.
  readonly #waiters = new Set<{ ready: () => boolean; resolve: () => void }>();

  constructor(
    options: ResolvedSimulateOptions,
    onChange: () => void,
    onFailure: (failure: SimulationFailure) => void,
    start: WorkerStart = WORKER_START,
  ) {
    this.clients = options.concurrencyLevel;
    this.#onChange = onChange;
    this.#onFailure = onFailure;
    const { onProgress: _, ...workerOptions } = options;
    for (let shard = 0; shard < options.workers; shard++) {
      this.#workers.push(this.#start(shard, workerOptions, start.entry));
    }
    this.#startTimer = setTimeout(() => {
      const shard = this.#workers.findIndex((worker) => !worker.ready);
      this.#fail(
        simulationFailure(
          Code.Worker,
          `worker #${shard} did not start within ${start.timeoutMs} ms`,
          { connection: `worker#${shard}` },
        ),
      );
    }, start.timeoutMs);
  }

  /**
   * Every worker has started; they were all told to connect then, at once (unless the run
   * had failed): the storm is not staggered by the workers' start-up.
   */
  get started(): boolean {
    return this.#workers.every((worker) => worker.ready);
  }

  /** The run failed: no worker is told to connect any more, and every wait on it ends. */
  abandon(): void {
    this.#failed = true;
    clearTimeout(this.#startTimer);
    this.#settle();
  }

  /** Resolves once every worker connected its clients, or the run failed. */
  connected(): Promise<void> {
    return this.#until(() => this.#workers.every((worker) => worker.connected));
  }

  /** Every worker is owed the lines up to this position; resolves once they all hold them. */
  advance(warmupSent: number, generated: number, streaming: boolean): Promise<void> {
    this.#advances++;
    const advances = this.#advances;
    this.#sendAll({ type: 'advance', warmupSent, generated, streaming });
    return this.#until(() => this.#workers.every((worker) => worker.acknowledged === advances));
  }

  /** The stream is over: the workers report once their clients received everything. */
  finish(): void {
    this.#sendAll({ type: 'finish' });
  }

  get registered(): number {
    return this.#sum((state) => state.registered);
  }

  get received(): number {
    return this.#sum((state) => state.received);
  }

  get pending(): number {
    return this.#sum((state) => state.pending);
  }

  get mustPause(): boolean {
    return this.#workers.some((worker) => worker.state.mustPause);
  }

  get mayResume(): boolean {
    return this.#workers.every((worker) => worker.state.mayResume);
  }

  get drained(): boolean {
    return this.#workers.every((worker) => worker.state.drained);
  }

  /**
   * Asks every worker to close its clients (at once with `abandon`), and resolves with what
   * each reported, by shard (undefined for one that reported nothing).
   */
  async close(abandon: boolean): Promise<(WorkerReport | undefined)[]> {
    this.#closing = true;
    clearTimeout(this.#startTimer);
    this.#sendAll({ type: 'close', abandon });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(
        this.#workers.map(
          (worker) =>
            new Promise<void>((resolve) => {
              if (worker.exited) resolve();
              else worker.child.once('exit', () => resolve());
            }),
        ),
      ),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    for (const worker of this.#workers) if (!worker.exited) worker.child.kill('SIGKILL');
    return this.#workers.map((worker) => worker.result);
  }

  #start(shard: number, options: WorkerOptions, entry: string): Worker {
    const child = fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const worker: Worker = {
      child,
      state: NO_STATE,
      ready: false,
      connected: false,
      acknowledged: 0,
      result: undefined,
      exited: false,
    };
    child.on('message', (message: FromWorker) => this.#receive(worker, message));
    child.on('error', (error) => {
      this.#fail(
        simulationFailure(Code.Worker, `worker #${shard} failed: ${error.message}`, {
          connection: `worker#${shard}`,
        }),
      );
    });
    child.on('exit', (code, signal) => {
      worker.exited = true;
      if (worker.result === undefined) {
        this.#fail(
          simulationFailure(
            Code.Worker,
            `worker #${shard} exited (${signal ?? `code ${code}`}) before it reported its clients`,
            { connection: `worker#${shard}` },
          ),
        );
      }
      this.#settle();
    });
    this.#send(worker, { type: 'start', options, shard });
    return worker;
  }

  #receive(worker: Worker, message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        worker.ready = true;
        if (this.started) {
          clearTimeout(this.#startTimer);
          if (!this.#failed && !this.#closing) this.#sendAll({ type: 'connect' });
        }
        break;
      case 'connected':
        worker.connected = true;
        break;
      case 'advanced':
        worker.acknowledged++;
        worker.state = message.state;
        break;
      case 'state':
        worker.state = message.state;
        break;
      case 'failed':
        this.#fail(message.failure);
        break;
      case 'result':
        worker.result = {
          result: message.result,
          streamDigests: message.streamDigests,
          latencies: message.latencies,
        };
        break;
    }
    this.#settle();
    this.#onChange();
  }

  #fail(failure: SimulationFailure): void {
    // Once closing, a worker's end is the pool's doing, not a failure.
    if (this.#failed || this.#closing) return;
    this.#failed = true;
    clearTimeout(this.#startTimer);
    this.#onFailure(failure);
    this.#settle();
  }

  #sendAll(message: ToWorker): void {
    for (const worker of this.#workers) this.#send(worker, message);
  }

  #send(worker: Worker, message: ToWorker): void {
    if (worker.exited || !worker.child.connected) return;
    // A worker that died meanwhile reports through 'exit'.
    worker.child.send(message, (error) => {
      if (error !== null && error !== undefined) this.#settle();
    });
  }

  #sum(of: (state: WorkerState) => number): number {
    let sum = 0;
    for (const worker of this.#workers) sum += of(worker.state);
    return sum;
  }

  #until(ready: () => boolean): Promise<void> {
    if (this.#failed || ready()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ ready, resolve }));
  }

  #settle(): void {
    for (const waiter of this.#waiters) {
      if (this.#failed || waiter.ready()) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}

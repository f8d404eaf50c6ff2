/**
 * What a run spread over worker processes (`workers` > 1) says between its coordinator, which
 * holds the event source, and its workers, which hold the clients. Every process runs the
 * same generator from the same seed, so the messages carry positions in the stream, never
 * events or lines.
 *
 * Invariants:
 * - A worker is owed a write's lines before the write: the coordinator sends `advance` with
 *   the generator's position after the write's events and writes only once every worker
 *   acknowledged it (`advanced`), so a notification never arrives before it is expected.
 * - Every message is a plain object (the IPC channel's JSON).
 */
import type { SimulationFailure } from './failures.js';
import type { EncodedLatencies } from './latency.js';
import type { ResolvedSimulateOptions } from './options.js';
import type { SimulationResult } from './result.js';

/** Options as a worker receives them: the coordinator's, without the progress callback. */
export type WorkerOptions = Omit<ResolvedSimulateOptions, 'onProgress'>;

/** A worker's ledger, as the coordinator's pacing and warm-up need it. */
export interface WorkerState {
  /** Its clients that received a warm-up broadcast. */
  readonly registered: number;
  /** Lines its clients received. */
  readonly received: number;
  /** Lines its clients are owed and have not received. */
  readonly pending: number;
  /** Its ledger says the generator must stop. */
  readonly mustPause: boolean;
  /** Its ledger says the generator may go on. */
  readonly mayResume: boolean;
  /** After `finish`: every line owed was received, and every client is connected. */
  readonly drained: boolean;
}

/** Coordinator to worker. */
export type ToWorker =
  | {
      readonly type: 'start';
      readonly options: WorkerOptions;
      /** The worker verifies the clients whose index modulo `workers` is `shard`. */
      readonly shard: number;
    }
  /** Every worker has started: connect the clients now, all at once. */
  | { readonly type: 'connect' }
  | {
      readonly type: 'advance';
      /** Generate up to here: warm-up broadcasts sent, events generated after them. */
      readonly warmupSent: number;
      readonly generated: number;
      /** The write belongs to the stream (latency is recorded from its first one). */
      readonly streaming: boolean;
    }
  | { readonly type: 'finish' }
  | {
      readonly type: 'close';
      /** The run failed elsewhere: drop every connection at once. */
      readonly abandon: boolean;
    };

/** Worker to coordinator. */
export type FromWorker =
  /** Started, its generator built: it connects its clients once told (`connect`). */
  | { readonly type: 'ready' }
  | { readonly type: 'connected' }
  | { readonly type: 'advanced'; readonly state: WorkerState }
  | { readonly type: 'state'; readonly state: WorkerState }
  | { readonly type: 'failed'; readonly failure: SimulationFailure }
  | {
      readonly type: 'result';
      readonly result: SimulationResult;
      /** Each of its clients' stream digest, in index order. */
      readonly streamDigests: readonly number[];
      /** Its clients' latencies; none recorded: undefined. */
      readonly latencies: EncodedLatencies | undefined;
    };

/**
 * The entry of a worker process of a spread run (`workers` > 1; see `workers.ts`): waits for
 * its `start` message, runs its shard of the clients as a `Simulation` driven by the
 * coordinator's messages, sends its result and leaves. When the coordinator goes away (the
 * IPC channel closes), the run is interrupted and every socket closed, so no worker
 * outlives it.
 */
import { idFieldsOf } from './credentials.js';
import { Simulation } from './simulate.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

function send(message: FromWorker, then?: () => void): void {
  if (process.connected) process.send?.(message, undefined, undefined, () => then?.());
  else then?.();
}

// Ctrl-C reaches the whole process group: the coordinator stops the run and closes the
// workers, which must live to report what they verified.
process.on('SIGINT', () => {});

process.once('message', async (start: ToWorker) => {
  if (start.type !== 'start') return;
  const { options, shard } = start;
  const gone = new AbortController();
  process.once('disconnect', () => gone.abort());
  const simulation = new Simulation(
    { ...options, onProgress: undefined },
    await idFieldsOf({ ...options, onProgress: undefined }),
    { shard, send },
  );
  process.on('message', (message: ToWorker) => simulation.receive(message));
  const result = await simulation.run(gone.signal);
  const report = simulation.report();
  send({ type: 'result', result, ...report }, () => {
    if (process.connected) process.disconnect();
  });
});

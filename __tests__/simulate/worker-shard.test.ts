/**
 * A worker's side of a spread run (`WorkerShard`): it says when it has started, and its
 * clients connect only once the coordinator says every worker has, so the connect storm is
 * timed from its first connect, not staggered by the workers' start-up.
 */
import { describe, expect, it } from '@jest/globals';
import { EventGenerator } from '../../lib/simulate/generator.js';
import { resolveSimulateOptions } from '../../lib/simulate/options.js';
import type { FromWorker } from '../../lib/simulate/worker-messages.js';
import { WorkerShard } from '../../lib/simulate/worker-shard.js';

function shard(): { shard: WorkerShard; sent: FromWorker[]; pokes: () => number } {
  const sent: FromWorker[] = [];
  let pokes = 0;
  const generator = new EventGenerator(
    resolveSimulateOptions({ concurrencyLevel: 4, totalEvents: 10, workers: 2 }),
    { perClientLimit: 100, totalLimit: 100, owns: (index) => index % 2 === 0 },
  );
  const worker = new WorkerShard(
    { shard: 0, send: (message) => sent.push(message) },
    generator,
    0,
    {
      away: () => 0,
      fail: () => {},
      poke: () => {
        pokes++;
      },
    },
  );
  return { shard: worker, sent, pokes: () => pokes };
}

describe('WorkerShard', () => {
  it('tells the coordinator it has started, and connects only once told to', () => {
    const { shard: worker, sent, pokes } = shard();
    worker.ready();
    expect(sent).toEqual([{ type: 'ready' }]);
    expect(worker.connectAsked).toBe(false);
    worker.receive({ type: 'advance', warmupSent: 0, generated: 0, streaming: false });
    expect(worker.connectAsked).toBe(false);
    const before = pokes();
    worker.receive({ type: 'connect' });
    expect(worker.connectAsked).toBe(true);
    // The run waits on it: woken at once.
    expect(pokes()).toBe(before + 1);
    expect(worker.closeAsked).toBe(false);
  });
});

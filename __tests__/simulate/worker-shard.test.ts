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

function shard(): {
  shard: WorkerShard;
  generator: EventGenerator;
  sent: FromWorker[];
  pokes: () => number;
} {
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
  return { shard: worker, generator, sent, pokes: () => pokes };
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

  it('tells the coordinator at once when its clients owe nothing any more, not only when they received lines', () => {
    const { shard: worker, generator, sent } = shard();
    // Its two clients registered by broadcast 1, then owed broadcast 2.
    generator.warmupBroadcast();
    const first = Buffer.from('1|B\n');
    for (const client of generator.clients) expect(client.receive(first, first.length)).toBe(true);
    generator.warmupBroadcast();
    worker.receive({ type: 'advance', warmupSent: 2, generated: 0, streaming: false });
    expect(sent.at(-1)).toMatchObject({ type: 'advanced', state: { pending: 2 } });
    worker.changed();
    expect(sent).toHaveLength(1);
    // Lines a gap line says are lost: nothing received, nothing owed any more.
    generator.ledger.pending = 0;
    worker.changed();
    expect(sent).toHaveLength(2);
    expect(sent.at(-1)).toMatchObject({ type: 'state', state: { pending: 0, received: 2 } });
  });
});

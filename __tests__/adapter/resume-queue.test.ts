/**
 * The resume queue (lib/adapter/resume-queue.ts): arrival order, the scan budget per turn of
 * the event loop, waiting while blocked, and nothing served after delete() or close().
 */
import { describe, expect, it } from '@jest/globals';
import { ResumeQueue } from '../../lib/adapter/resume-queue.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ResumeQueue', () => {
  it('serves in arrival order, in later turns, within a scan budget per turn', async () => {
    const served: string[] = [];
    const queue = new ResumeQueue<string>(
      (client) => {
        served.push(client);
        return 60_000; // each scan takes most of a turn's budget
      },
      () => false,
    );
    queue.add('a');
    queue.add('b');
    queue.add('c');
    expect(served).toEqual([]);
    expect(queue.size).toBe(3);
    await nextTurn();
    expect(served).toEqual(['a', 'b']);
    await nextTurn();
    expect(served).toEqual(['a', 'b', 'c']);
    expect(queue.size).toBe(0);
  });

  it('serves at most 500 clients a turn even when their scans cost nothing', async () => {
    let served = 0;
    const queue = new ResumeQueue<number>(
      () => {
        served++;
        return 0;
      },
      () => false,
    );
    for (let client = 0; client < 1_200; client++) queue.add(client);
    await nextTurn();
    expect(served).toBe(500);
    await nextTurn();
    await nextTurn();
    expect(served).toBe(1_200);
  });

  it('waits while blocked and goes on when kicked', async () => {
    let blocked = true;
    const served: string[] = [];
    const queue = new ResumeQueue<string>(
      (client) => {
        served.push(client);
        return 1;
      },
      () => blocked,
    );
    queue.add('a');
    await nextTurn();
    await nextTurn();
    expect(served).toEqual([]);
    expect(queue.has('a')).toBe(true);
    blocked = false;
    queue.kick();
    await nextTurn();
    expect(served).toEqual(['a']);
    expect(queue.has('a')).toBe(false);
  });

  it('serves nobody deleted or waiting at close()', async () => {
    const served: string[] = [];
    const queue = new ResumeQueue<string>(
      (client) => {
        served.push(client);
        return 1;
      },
      () => false,
    );
    queue.add('a');
    queue.add('b');
    queue.delete('a');
    await nextTurn();
    expect(served).toEqual(['b']);
    queue.add('c');
    queue.close();
    await nextTurn();
    expect(served).toEqual(['b']);
    expect(queue.size).toBe(0);
  });
});

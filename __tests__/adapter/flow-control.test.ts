/**
 * Flow control without streams (docs/protocol.md §6): fake clients whose queues the test sets, fake
 * timers, and a host that records what it is asked to do.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  BUDGET_CHECK_INTERVAL_MS,
  BUDGET_RESUME_FRACTION,
  type FlowClient,
  FlowControl,
  type FlowLimits,
} from '../../lib/adapter/flow-control.js';

const HIGH_WATER_MARK = 16;

/** A client whose queue the test sets; it counts how often flow control reads it. */
class FakeClient implements FlowClient {
  readonly highWaterMark = HIGH_WATER_MARK;
  queued = 0;
  reads = 0;
  constructor(readonly name: string) {}
  queuedBytes(): number {
    this.reads++;
    return this.queued;
  }
  awaitingDrain(): boolean {
    return this.queued > this.highWaterMark;
  }
}

function setUp(limits: Partial<FlowLimits> = {}) {
  const calls: string[] = [];
  const dropped: { client: FakeClient; reason: string }[] = [];
  const flow: FlowControl<FakeClient> = new FlowControl<FakeClient>(
    { clientBufferLimit: 100, totalBufferLimit: 1_000, slowClientTimeout: 500, ...limits },
    {
      pauseSource: () => calls.push('pause'),
      resumeSource: () => calls.push('resume'),
      // The maze destroys a dropped client, and its close removes it.
      dropSlowClient: (client, reason) => {
        dropped.push({ client, reason });
        flow.removed(client);
      },
    },
  );
  /** Queues `bytes` more for `client` and tells flow control, as a flush does. */
  const write = (client: FakeClient, bytes: number): void => {
    client.queued += bytes;
    flow.wrote(client);
  };
  return { flow, calls, dropped, write };
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('flow control: one client over its limit', () => {
  it('holds the source while a client is over its limit, and lets go on drain', () => {
    const { flow, calls, write } = setUp();
    const client = new FakeClient('a');
    write(client, 100);
    expect(flow.sourceHeld).toBe(false);
    write(client, 1);
    expect(calls).toEqual(['pause']);
    expect(flow).toMatchObject({ sourceHeld: true, clientsOverLimit: 1, pauses: 1 });
    client.queued = 0;
    flow.drained(client);
    expect(calls).toEqual(['pause', 'resume']);
    expect(flow).toMatchObject({ sourceHeld: false, clientsOverLimit: 0, queuedBytes: 0 });
  });

  it('drops a client still over its limit when the slow-client timeout fires', () => {
    const { flow, calls, dropped, write } = setUp();
    const stuck = new FakeClient('stuck');
    write(stuck, 150);
    jest.advanceTimersByTime(499);
    expect(dropped).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(dropped).toEqual([
      { client: stuck, reason: expect.stringMatching(/100-byte buffer limit for 500 ms/) },
    ]);
    expect(calls).toEqual(['pause', 'resume']);
    expect(flow).toMatchObject({ clientsOverLimit: 0, queuedBytes: 0 });
  });

  it('keeps a client back under its limit by then, though not drained, and releases the source', () => {
    const { flow, calls, dropped, write } = setUp();
    const reader = new FakeClient('reader');
    write(reader, 150);
    reader.queued = 60;
    jest.advanceTimersByTime(500);
    expect(dropped).toEqual([]);
    expect(calls).toEqual(['pause', 'resume']);
    // Over again: a new timer.
    write(reader, 60);
    expect(flow.clientsOverLimit).toBe(1);
  });

  it('a limit below the stream mark acts as the mark when the timer fires', () => {
    const { dropped, write } = setUp({ clientBufferLimit: 4 });
    const client = new FakeClient('small');
    write(client, 20);
    client.queued = HIGH_WATER_MARK;
    jest.advanceTimersByTime(500);
    expect(dropped).toEqual([]);
  });

  it('does not hold the source for a client that will not signal drain', () => {
    const { flow, write } = setUp({ clientBufferLimit: 4 });
    write(new FakeClient('under-mark'), HIGH_WATER_MARK);
    expect(flow.sourceHeld).toBe(false);
  });
});

describe('flow control: the total budget', () => {
  it('holds the source when the total passes the budget, though each client is under its limit', () => {
    const { flow, calls, write } = setUp();
    const clients = Array.from({ length: 11 }, (_, i) => new FakeClient(`c${i}`));
    for (const client of clients) write(client, 95);
    flow.flushed();
    expect(flow).toMatchObject({ clientsOverLimit: 0, overBudget: true, sourceHeld: true });
    expect(flow.queuedBytes).toBe(11 * 95);
    expect(calls).toEqual(['pause']);
  });

  it('resumes only once the exact total is under the resume mark', () => {
    const { flow, calls, write } = setUp();
    const clients = Array.from({ length: 11 }, (_, i) => new FakeClient(`c${i}`));
    for (const client of clients) write(client, 95);
    flow.flushed();
    // The peers read, silently (no 'drain' under the mark): the checks see it.
    for (const client of clients) client.queued = 70; // 770: under the budget, over the mark
    jest.advanceTimersByTime(BUDGET_CHECK_INTERVAL_MS);
    expect(flow.queuedBytes).toBe(770);
    expect(flow.sourceHeld).toBe(true);
    for (const client of clients) client.queued = 60; // 660 < 750
    jest.advanceTimersByTime(BUDGET_CHECK_INTERVAL_MS);
    expect(flow.queuedBytes).toBeLessThan(1_000 * BUDGET_RESUME_FRACTION);
    expect(flow).toMatchObject({ overBudget: false, sourceHeld: false });
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('counts a queue that shrank unseen as an upper bound, and recounts before holding', () => {
    const { flow, write } = setUp();
    const early = new FakeClient('early');
    write(early, 90);
    early.queued = 0; // taken by the peer, no 'drain' (never over the mark's signal)
    const others = Array.from({ length: 10 }, (_, i) => new FakeClient(`c${i}`));
    for (const client of others) write(client, 95);
    expect(flow.queuedBytes).toBe(90 + 950);
    flow.flushed();
    // The recount finds 950: under the budget, so the source is not held.
    expect(flow).toMatchObject({ queuedBytes: 950, overBudget: false, sourceHeld: false });
  });

  it('drops the largest queues first when over budget past the timeout, until under the mark', () => {
    const { flow, calls, dropped, write } = setUp();
    const sizes = [99, 20, 98, 30, 97, 96, 40, 95, 94, 93, 92, 91, 90];
    const clients = sizes.map((size, i) => {
      const client = new FakeClient(`c${i}`);
      write(client, size);
      return client;
    });
    flow.flushed();
    expect(flow.overBudget).toBe(true);
    jest.advanceTimersByTime(499);
    expect(dropped).toEqual([]);
    jest.advanceTimersByTime(1);
    // 1035 in all; dropping 99, 98 and 97 leaves 741 < 750.
    expect(dropped.map(({ client }) => client.name)).toEqual(['c0', 'c2', 'c4']);
    for (const { reason } of dropped) expect(reason).toMatch(/1000-byte total buffer limit/);
    expect(flow).toMatchObject({ overBudget: false, sourceHeld: false, queuedBytes: 741 });
    expect(calls).toEqual(['pause', 'resume']);
    expect(
      clients.filter((client) => !dropped.some((drop) => drop.client === client)),
    ).toHaveLength(10);
  });

  it('holds the source while either rule holds it, and resumes when neither does', () => {
    const { flow, calls, write } = setUp();
    const big = new FakeClient('big');
    write(big, 150); // over its own limit
    const clients = Array.from({ length: 9 }, (_, i) => new FakeClient(`c${i}`));
    for (const client of clients) write(client, 95);
    flow.flushed(); // 1005 > 1000
    big.queued = 0;
    flow.drained(big);
    expect(flow).toMatchObject({ clientsOverLimit: 0, overBudget: true, sourceHeld: true });
    for (const client of clients) client.queued = 0;
    jest.advanceTimersByTime(BUDGET_CHECK_INTERVAL_MS);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('reads each queue once per write while under budget: no scan of all clients', () => {
    const { flow, write } = setUp({ totalBufferLimit: 1_000_000 });
    const clients = Array.from({ length: 1_000 }, (_, i) => new FakeClient(`c${i}`));
    for (let round = 0; round < 5; round++) {
      for (const client of clients) write(client, 10);
      flow.flushed();
    }
    expect(clients.reduce((sum, client) => sum + client.reads, 0)).toBe(5 * 1_000);
  });

  it('forgets a removed client: it no longer counts or holds the source', () => {
    const { flow, calls, write } = setUp();
    const gone = new FakeClient('gone');
    write(gone, 500);
    flow.removed(gone);
    expect(flow).toMatchObject({ queuedBytes: 0, clientsOverLimit: 0, sourceHeld: false });
    expect(calls).toEqual(['pause', 'resume']);
    jest.advanceTimersByTime(1_000);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('stops every timer on close', () => {
    const { flow, dropped, write } = setUp();
    write(new FakeClient('stuck'), 500);
    for (let i = 0; i < 20; i++) write(new FakeClient(`c${i}`), 90);
    flow.flushed();
    flow.close();
    expect(jest.getTimerCount()).toBe(0);
    expect(dropped).toEqual([]);
  });
});

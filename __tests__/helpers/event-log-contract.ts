/**
 * What every `EventLog` promises (lib/cluster/event-log.ts), as one suite that
 * `event-log-contract.test.ts` runs against `MemoryEventLog` and against `JetStreamEventLog`
 * on a real `nats-server`: positions from 1 in order, reads in order from any position and
 * then live, idempotent duplicates, refused stale fences (one refusal refuses the rest of a
 * pipelined window), truncation reported, readers that end on close and on abort.
 *
 * `open()` gives a fresh, empty log per test (`retainBatches`: the most batches it keeps);
 * the suite closes it. Every wait is bounded.
 */
import { afterEach, expect, it } from '@jest/globals';
import {
  type AppendResult,
  type EventBatch,
  type EventLog,
  fenceAfter,
  isForeign,
  type LogBatch,
  type LogFence,
  type LogReader,
} from '../../lib/cluster/event-log.js';
import { ErrorCode } from '../../lib/errors.js';
import { WAIT_MS, withTimeout } from './sockets.js';

/** Opens a fresh, empty log. */
export type OpenEventLog = (options?: { retainBatches?: number }) => Promise<EventLog>;

/** Batch `n` (1-based) of a test stream: sequence numbers 10n-9 .. 10n, two lines. */
export function batchOf(n: number): EventBatch {
  const first = 10 * n - 9;
  return {
    firstSequence: first,
    lastSequence: first + 9,
    lines: [`${first}|B\n`, `${String(first + 9).padStart(6, '0')}|S|${n}\r\n`],
  };
}

/**
 * Appends batches `from..to` one after the other, the first fenced on its position alone (as
 * after `tail()`), each later one chained with `fenceAfter()`; returns their positions.
 */
export async function appendRange(log: EventLog, from: number, to: number): Promise<number[]> {
  const positions: number[] = [];
  let fence: LogFence = { position: from - 1 };
  for (let n = from; n <= to; n += 1) {
    positions.push((await log.append(batchOf(n), fence)).position);
    // As an ingest does once its first batch is in (nothing if the log records settings already).
    if (n === 1) {
      await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
    }
    fence = fenceAfter(fence, batchOf(n));
  }
  return positions;
}

/** The next `count` batches of `reader`, each within the bounded wait. */
export async function take(reader: LogReader, count: number): Promise<LogBatch[]> {
  const batches: LogBatch[] = [];
  for (let index = 0; index < count; index += 1) {
    const batch = await withTimeout(reader.next(), WAIT_MS, `batch ${index + 1} of ${count}`);
    if (batch === undefined) throw new Error(`the reader ended after ${index} batches`);
    if (isForeign(batch)) throw new Error(`position ${batch.position} is not a batch`);
    batches.push(batch);
  }
  return batches;
}

/** Registers the contract tests on the current `describe`. */
export function eventLogContract(open: OpenEventLog): void {
  const opened: EventLog[] = [];
  const fresh: OpenEventLog = async (options) => {
    const log = await open(options);
    opened.push(log);
    return log;
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
  });

  it('starts empty, appends at positions 1, 2, 3 and reports the tail', async () => {
    const log = await fresh();
    expect(await log.tail()).toBeUndefined();
    expect(await appendRange(log, 1, 3)).toEqual([1, 2, 3]);
    expect(await log.tail()).toEqual({ position: 3, firstSequence: 21, lastSequence: 30 });
  });

  it('has an epoch, and records the first settings given, with the first position given', async () => {
    const log = await fresh();
    const { epoch } = await log.identity();
    expect(epoch).toEqual(expect.any(String));
    expect(await log.identity()).toEqual({ epoch, settings: undefined, firstPosition: 1 });
    const first = { maxFollowEdges: 10, startSequence: 5, delimiter: ';' };
    const recorded = { epoch, settings: first, firstPosition: 1 };
    expect(await log.recordSettings(first, 1)).toEqual(recorded);
    const second = { maxFollowEdges: 20, startSequence: 1, delimiter: '|' };
    expect(await log.recordSettings(second, 2)).toEqual(recorded);
    expect(await log.identity()).toEqual(recorded);

    // The position given, whatever the log holds.
    const written = await fresh();
    await written.append(batchOf(1), { position: 0 });
    await written.append(batchOf(2), fenceAfter({ position: 0 }, batchOf(1)));
    expect(await written.identity()).toMatchObject({ settings: undefined, firstPosition: 1 });
    expect(await written.recordSettings(first, 2)).toMatchObject({
      settings: first,
      firstPosition: 2,
    });
  });

  it('reads back in order, byte for byte, from any position', async () => {
    const log = await fresh();
    await appendRange(log, 1, 5);
    for (const from of [1, 3, 5]) {
      const reader = log.read(from);
      const batches = await take(reader, 6 - from);
      await reader.close();
      expect(batches).toEqual(
        Array.from({ length: 6 - from }, (_, index) => ({
          position: from + index,
          ...batchOf(from + index),
        })),
      );
    }
  });

  it("keeps a batch's delimiter: read() and tail() give it back, the default stays absent", async () => {
    const log = await fresh();
    const plain = batchOf(1);
    const semicolons: EventBatch = {
      firstSequence: 11,
      lastSequence: 12,
      lines: ['11;B\n', '12;S;7\n'],
      delimiter: ';',
    };
    await log.append(plain, { position: 0 });
    await log.append(semicolons, fenceAfter({ position: 0 }, plain));
    expect(await log.tail()).toEqual({
      position: 2,
      firstSequence: 11,
      lastSequence: 12,
      delimiter: ';',
    });
    const reader = log.read(1);
    const batches = await take(reader, 2);
    await reader.close();
    expect(batches).toEqual([
      { position: 1, ...plain },
      { position: 2, ...semicolons },
    ]);
  });

  it('waits for batches appended after the reader reached the end', async () => {
    const log = await fresh();
    await appendRange(log, 1, 1);
    const reader = log.read(1);
    expect((await take(reader, 1))[0]?.position).toBe(1);
    const waiting = reader.next();
    await log.append(batchOf(2), { position: 1 });
    expect(await withTimeout(waiting, WAIT_MS, 'the live batch')).toEqual({
      position: 2,
      ...batchOf(2),
    });
    // A reader may also start beyond the end.
    const ahead = log.read(3);
    const later = ahead.next();
    await log.append(batchOf(3), { position: 2 });
    expect((await withTimeout(later, WAIT_MS, 'batch 3'))?.position).toBe(3);
    await Promise.all([reader.close(), ahead.close()]);
  });

  it('takes a duplicate message id as done: nothing appended, the first position', async () => {
    const log = await fresh();
    await appendRange(log, 1, 2);
    // Retried with the fence it had the first time, and with the current one.
    expect(await log.append(batchOf(1), { position: 0 })).toEqual({ position: 1, duplicate: true });
    expect(await log.append(batchOf(2), { position: 2, firstSequence: 11 })).toEqual({
      position: 2,
      duplicate: true,
    });
    expect(await log.tail()).toEqual({ position: 2, firstSequence: 11, lastSequence: 20 });
    const reader = log.read(1);
    expect((await take(reader, 2)).map((batch) => batch.position)).toEqual([1, 2]);
    await reader.close();
  });

  it('refuses a stale fence with ERR_LOG_FENCED and appends nothing', async () => {
    const log = await fresh();
    await appendRange(log, 1, 2);
    // A second writer that believes the log is at 1.
    await expect(log.append(batchOf(3), { position: 1 })).rejects.toMatchObject({
      code: ErrorCode.LogFenced,
      message: expect.stringContaining('at position 2, not 1'),
    });
    await expect(log.append(batchOf(3), { position: 3 })).rejects.toMatchObject({
      code: ErrorCode.LogFenced,
    });
    // The right position, but not the batch this writer believes it appended there.
    await expect(log.append(batchOf(3), { position: 2, firstSequence: 1 })).rejects.toMatchObject({
      code: ErrorCode.LogFenced,
      message: expect.stringContaining('another batch'),
    });
    expect((await log.tail())?.position).toBe(2);
    // Another batch from the same number is not the one this writer appended either.
    await expect(
      log.append(batchOf(3), { position: 2, firstSequence: 11, lastSequence: 12 }),
    ).rejects.toMatchObject({ code: ErrorCode.LogFenced });
    expect(
      await log.append(batchOf(3), { position: 2, firstSequence: 11, lastSequence: 20 }),
    ).toEqual({
      position: 3,
      duplicate: false,
    });
  });

  it('keeps pipelined appends in order; a second writer makes the rest of the window fail', async () => {
    const log = await fresh();
    const window: Promise<AppendResult>[] = [];
    let fence: LogFence = { position: 0 };
    for (let n = 1; n <= 20; n += 1) {
      window.push(log.append(batchOf(n), fence));
      fence = fenceAfter(fence, batchOf(n));
    }
    expect((await Promise.all(window)).map((result) => result.position)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 1),
    );
    // A second writer read the same tail (20) and wins the race for position 21: the first
    // writer's next window is refused whole, though its second append expects position 21.
    const tail = await log.tail();
    expect(await log.append(batchOf(100), { position: tail?.position ?? -1 })).toEqual({
      position: 21,
      duplicate: false,
    });
    const stale: Promise<AppendResult>[] = [];
    fence = { position: 20 };
    for (const n of [21, 22, 23]) {
      stale.push(log.append(batchOf(n), fence));
      fence = fenceAfter(fence, batchOf(n));
    }
    const outcomes = await Promise.allSettled(stale);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await log.tail()).toEqual({ position: 21, firstSequence: 991, lastSequence: 1000 });
  });

  it('reports a position dropped by retention as ERR_LOG_TRUNCATED', async () => {
    const log = await fresh({ retainBatches: 2 });
    await appendRange(log, 1, 4);
    expect((await log.tail())?.position).toBe(4);
    const reader = log.read(1);
    await expect(withTimeout(reader.next(), WAIT_MS, 'the refusal')).rejects.toMatchObject({
      code: ErrorCode.LogTruncated,
    });
    // A retained position reads as ever.
    const retained = log.read(3);
    expect((await take(retained, 2)).map((batch) => batch.position)).toEqual([3, 4]);
    await retained.close();
  });

  it('ends a waiting next() with undefined on close() and on abort', async () => {
    const log = await fresh();
    const reader = log.read(1);
    const waiting = reader.next();
    await reader.close();
    expect(await withTimeout(waiting, WAIT_MS, 'the closed reader')).toBeUndefined();
    expect(await reader.next()).toBeUndefined();

    const controller = new AbortController();
    const aborted = log.read(1, { signal: controller.signal });
    const pending = aborted.next();
    controller.abort();
    expect(await withTimeout(pending, WAIT_MS, 'the aborted reader')).toBeUndefined();

    // for await … break closes the reader too.
    await appendRange(log, 1, 2);
    const seen: number[] = [];
    for await (const batch of log.read(1)) {
      seen.push(batch.position);
      if (batch.position === 2) break;
    }
    expect(seen).toEqual([1, 2]);
  });

  it('refuses an invalid batch or position before touching the log', async () => {
    const log = await fresh();
    await expect(
      log.append({ firstSequence: 2, lastSequence: 1, lines: ['2|B\n'] }, { position: 0 }),
    ).rejects.toMatchObject({ code: ErrorCode.LogBadBatch });
    expect(() => log.read(0)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
    expect(await log.tail()).toBeUndefined();
  });
}

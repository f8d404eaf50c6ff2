/**
 * `MemoryEventLog` beyond the shared contract (event-log-contract.test.ts): its retention
 * bounds (count and bytes, the last batch always kept), the dedupe window that is its
 * retention, its own option checks, and use after close.
 */
import { Buffer } from 'node:buffer';
import { describe, expect, it } from '@jest/globals';
import { bodyOf, encodedSize } from '../../lib/cluster/batch-codec.js';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import { ErrorCode } from '../../lib/errors.js';
import { appendRange, batchOf, take } from '../helpers/event-log-contract.js';

describe('MemoryEventLog', () => {
  it('keeps at most retainBatches, dropping the oldest, over many appends', async () => {
    const log = new MemoryEventLog({ retainBatches: 3 });
    await appendRange(log, 1, 5_000);
    expect(log.firstPosition).toBe(4_998);
    const reader = log.read(4_998);
    expect((await take(reader, 3)).map((batch) => batch.position)).toEqual([4_998, 4_999, 5_000]);
    await reader.close();
    await log.close();
  });

  it('keeps at most retainBytes of encoded batches, but always the last batch', async () => {
    const log = new MemoryEventLog({
      retainBytes: encodedSize(batchOf(3)) + encodedSize(batchOf(4)),
    });
    await appendRange(log, 1, 4);
    expect(log.firstPosition).toBe(3);
    const tiny = new MemoryEventLog({ retainBytes: 1 });
    await appendRange(tiny, 1, 2);
    expect(tiny.firstPosition).toBe(2);
    expect(await tiny.tail()).toEqual({ position: 2, firstSequence: 11, lastSequence: 20 });
  });

  it('forgets the message id of a dropped batch: its dedupe window is what it retains', async () => {
    const log = new MemoryEventLog({ retainBatches: 1 });
    await appendRange(log, 1, 2);
    // Batch 1 was dropped: appended again, it is new (and must pass the fence).
    await expect(log.append(batchOf(1), { position: 0 })).rejects.toMatchObject({
      code: ErrorCode.LogFenced,
    });
    expect(await log.append(batchOf(2), { position: 0 })).toEqual({
      position: 2,
      duplicate: true,
    });
  });

  it('copies what it is given', async () => {
    const log = new MemoryEventLog();
    const lines = ['1|B\n'];
    await log.append({ firstSequence: 1, lastSequence: 1, lines }, { position: 0 });
    lines[0] = '2|B\n';
    expect((await take(log.read(1), 1))[0]?.lines).toEqual(['1|B\n']);
  });

  it('reads a batch back as from JetStream: its lines as bytes of its payload', async () => {
    const log = new MemoryEventLog();
    await log.append(
      { firstSequence: 1, lastSequence: 2, lines: ['1|B\n', '2|B\n'] },
      { position: 0 },
    );
    const [batch] = await take(log.read(1), 1);
    if (batch === undefined) throw new Error('no batch at position 1');
    const body = bodyOf(batch);
    expect(Buffer.from(body.bytes).toString('latin1')).toBe('FMB1 1 2 2\n1|B\n2|B\n');
    expect(body.start).toBe('FMB1 1 2 2\n'.length);
    expect([...body.ends]).toEqual([15, 19]);
  });

  it('refuses bounds that are not positive integers', () => {
    expect(() => new MemoryEventLog({ retainBatches: 0 })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
    expect(() => new MemoryEventLog({ retainBytes: 1.5 })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
  });

  it('is unusable after close(), which ends its readers', async () => {
    const log = new MemoryEventLog();
    const waiting = log.read(1).next();
    await log.close();
    expect(await waiting).toBeUndefined();
    await expect(log.tail()).rejects.toMatchObject({ code: ErrorCode.InvalidState });
    await expect(log.append(batchOf(1), { position: 0 })).rejects.toMatchObject({
      code: ErrorCode.InvalidState,
    });
    expect(() => log.read(1)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidState }));
    await log.close();
  });
});

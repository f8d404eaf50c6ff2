import { describe, expect, it } from '@jest/globals';
import { FAST_RANGE_US, LatencyRecorder, WRITE_TIMES } from '../../lib/simulate/latency.js';

// HDR histogram with 3 significant digits: a value is known within 0.1%.
const within = (value: number, expected: number): void => {
  expect(Math.abs(value - expected)).toBeLessThanOrEqual(expected * 0.001 + 0.001);
};

describe('LatencyRecorder', () => {
  it('has no summary before anything is recorded', () => {
    expect(new LatencyRecorder().summary()).toBeUndefined();
  });

  it('measures from the write of the batch to the read, in ms', () => {
    const recorder = new LatencyRecorder();
    recorder.startRecording(0, 0);
    // Batches 0..999 written 1 ms apart, each read 1..1000 ms after its write: latency
    // i + 1 ms for batch i, one notification each.
    for (let batch = 0; batch < 1_000; batch++) recorder.wrote(batch);
    for (let batch = 0; batch < 1_000; batch++) recorder.record(batch, batch + batch + 1, 1);
    const summary = recorder.summary();
    expect(recorder.count).toBe(1_000);
    within(summary?.p50 ?? 0, 500);
    within(summary?.p90 ?? 0, 900);
    within(summary?.p99 ?? 0, 990);
    within(summary?.p999 ?? 0, 999);
    within(summary?.max ?? 0, 1_000);
  });

  it("adds another recorder's latencies, fast range and histogram alike", () => {
    // Latencies 1..1000 ms split over two recorders (odd and even), as two workers would.
    const parts = [new LatencyRecorder(), new LatencyRecorder()];
    for (const [index, part] of parts.entries()) {
      part.startRecording(0, 0);
      for (let batch = 0; batch < 1_000; batch++) part.wrote(batch);
      for (let batch = index; batch < 1_000; batch += 2) part.record(batch, batch + batch + 1, 1);
    }
    const merged = new LatencyRecorder();
    expect(merged.encoded()).toBeUndefined();
    for (const part of parts)
      merged.add(part.encoded() as NonNullable<ReturnType<LatencyRecorder['encoded']>>);
    const summary = merged.summary();
    expect(merged.count).toBe(1_000);
    within(summary?.p50 ?? 0, 500);
    within(summary?.p99 ?? 0, 990);
    within(summary?.max ?? 0, 1_000);
  });

  it('finds the batch of a sequence number from the numbers each batch was marked at', () => {
    const recorder = new LatencyRecorder();
    expect(recorder.batchOf(1)).toBe(-1);
    expect(recorder.endOf(-1)).toBe(Number.POSITIVE_INFINITY);
    // Batch 0: events 1..10; batch 1: nothing (an empty write); batch 2: 11..; batch 2 is
    // marked twice (two generator batches in one write).
    recorder.mark(1);
    recorder.wrote(0);
    recorder.wrote(1);
    recorder.mark(11);
    recorder.mark(15);
    expect(recorder.batchOf(1)).toBe(0);
    expect(recorder.batchOf(10)).toBe(0);
    expect(recorder.endOf(0)).toBe(11);
    expect(recorder.batchOf(11)).toBe(2);
    expect(recorder.batchOf(15)).toBe(2);
    expect(recorder.batchOf(1_000)).toBe(2);
    expect(recorder.endOf(2)).toBe(Number.POSITIVE_INFINITY);
  });

  it('forgets the sequence numbers of batches more than WRITE_TIMES writes ago', () => {
    const recorder = new LatencyRecorder();
    for (let batch = 0; batch <= WRITE_TIMES; batch++) {
      recorder.mark(1 + batch * 2);
      recorder.wrote(batch);
    }
    // Batch b holds 1 + 2b and 2 + 2b; batch 0 has left the ring.
    expect(recorder.batchOf(2)).toBe(-1);
    expect(recorder.endOf(-1)).toBe(3);
    expect(recorder.batchOf(3)).toBe(1);
    expect(recorder.batchOf(2 + 2 * WRITE_TIMES)).toBe(WRITE_TIMES);
  });

  it('weighs a run of lines by its count, to the microsecond', () => {
    const recorder = new LatencyRecorder();
    recorder.startRecording(0, 0);
    recorder.wrote(10);
    recorder.wrote(20);
    recorder.record(0, 10.25, 999);
    recorder.record(1, 25, 1);
    const summary = recorder.summary();
    within(summary?.p50 ?? 0, 0.25);
    within(summary?.p99 ?? 0, 0.25);
    within(summary?.p999 ?? 0, 0.25);
    within(summary?.max ?? 0, 5);
  });

  it('skips batches before startRecording(), not written yet, or gone from the ring', () => {
    const recorder = new LatencyRecorder();
    recorder.wrote(0); // Warm-up batch 0.
    recorder.startRecording(0, 0);
    recorder.record(0, 5, 1);
    recorder.record(1, 5, 1); // Batch 1 was not written.
    expect(recorder.count).toBe(0);
    for (let batch = 1; batch <= WRITE_TIMES + 1; batch++) recorder.wrote(batch);
    recorder.record(1, WRITE_TIMES + 10, 1); // Overwritten in the ring.
    expect(recorder.count).toBe(0);
    recorder.record(2, 3, 1);
    expect(recorder.count).toBe(1);
    within(recorder.summary()?.max ?? 0, 1);
  });

  it('skips the batches written within skipMs of startRecording()', () => {
    const recorder = new LatencyRecorder();
    recorder.startRecording(100, 50);
    recorder.wrote(120); // Batch 0, inside the skip.
    recorder.wrote(149.9); // Batch 1, inside the skip.
    recorder.wrote(150); // Batch 2, the first recorded.
    recorder.wrote(160); // Batch 3.
    recorder.record(0, 200, 1);
    recorder.record(1, 200, 1);
    expect(recorder.count).toBe(0);
    recorder.record(2, 151, 3);
    recorder.record(3, 162, 1);
    expect(recorder.count).toBe(4);
    within(recorder.summary()?.p50 ?? 0, 1);
    within(recorder.summary()?.max ?? 0, 2);
  });

  it('has no summary when the whole run fell inside the skip', () => {
    const recorder = new LatencyRecorder();
    recorder.startRecording(0, 1_000);
    recorder.wrote(10);
    recorder.record(0, 12, 5);
    expect(recorder.summary()).toBeUndefined();
  });

  it('gives the same percentiles on both sides of the fast range, and twice in a row', () => {
    const recorder = new LatencyRecorder();
    recorder.startRecording(0, 0);
    recorder.wrote(0);
    const fastMs = (FAST_RANGE_US - 1) / 1000;
    const slowMs = (FAST_RANGE_US * 4) / 1000;
    recorder.record(0, fastMs, 98);
    recorder.record(0, slowMs, 2);
    const first = recorder.summary();
    within(first?.p50 ?? 0, fastMs);
    within(first?.p90 ?? 0, fastMs);
    within(first?.p99 ?? 0, slowMs);
    within(first?.max ?? 0, slowMs);
    expect(recorder.summary()).toEqual(first);
  });
});

// The reference model is the oracle of the property tests, so it gets its own hand-checked cases.
import { describe, expect, it } from '@jest/globals';
import { connectOp, disconnectOp, expectedDeliveries, type ModelOp } from './model.js';
import {
  badBodyLines,
  generateEventLines,
  generateOpStream,
  injectFaults,
  LINES_WITHOUT_SEQUENCE,
  mulberry32,
  shuffleInBatches,
} from './streams.js';

const line = (text: string): ModelOp => ({ kind: 'line', line: text });

describe('expectedDeliveries (reference model)', () => {
  it('notifies as the docs/protocol.md §3 table says, in sequence order', () => {
    const received = expectedDeliveries([
      connectOp(1, 50),
      connectOp(2, 60),
      connectOp(3, 7),
      line('2|S|50\n'),
      line('1|F|60|50\n'),
      line('3|P|7|50\r\n'),
      line('4|U|60|50\n'),
      line('5|S|50\n'),
      line('6|B\n'),
    ]);
    expect(received.get(1)).toEqual(['1|F|60|50\n', '3|P|7|50\r\n', '6|B\n']);
    expect(received.get(2)).toEqual(['2|S|50\n', '6|B\n']);
    expect(received.get(3)).toEqual(['6|B\n']);
  });

  it('lets the first arrival win, drops stale and unnumbered lines, no-ops bad bodies', () => {
    const received = expectedDeliveries([
      connectOp(1, 9),
      line('2|P|1|9\n'),
      line('2|B\n'),
      line('1|X\n'),
      line('1|B\n'),
      line('abc|B\n'),
      line('3|B'),
    ]);
    expect(received.get(1)).toEqual(['2|P|1|9\n', '3|B\n']);
  });

  it('lets a valid line replace an invalid one that still waits, never one already applied', () => {
    const received = expectedDeliveries([
      connectOp(1, 9),
      line('3|B|1\n'), // invalid, waits for 1 and 2
      line('3|P|1|9\n'), // replaces it
      line('3|B\n'), // a duplicate of a valid waiting line
      line('4|P|1|9\n'), // valid, waits
      line('4|S\n'), // invalid: a duplicate
      line('5|X\n'), // invalid, waits
      line('5|F\n'), // invalid: a duplicate, the first invalid line holds 5
      line('1|X\n'), // invalid, applied at once
      line('1|P|1|9\n'), // stale
      line('2|B\n'),
      line('5|P|1|9\n'), // stale: 5 was applied (as a no-op) with 2
    ]);
    expect(received.get(1)).toEqual(['2|B\n', '3|P|1|9\n', '4|P|1|9\n']);
  });

  it('starts at the configured number and stops delivering after a disconnect', () => {
    const received = expectedDeliveries(
      [connectOp(1, 5), line('1|B\n'), line('10|B\n'), disconnectOp(1), line('11|B\n')],
      { startSequence: 10 },
    );
    expect(received.get(1)).toEqual(['10|B\n']);
  });
});

describe('expectedDeliveries: resume-aware connections', () => {
  it('opens them with the epoch line, naming the number their notifications start after', () => {
    const received = expectedDeliveries(
      [
        { kind: 'aware', connection: 1, user: 5 }, // nothing applied: startSequence - 1
        line('10|B\n'),
        line('11|P|1|5\n'),
        disconnectOp(1),
        { kind: 'aware', connection: 2, user: 5 },
        line('12|B\n'),
        { kind: 'resume', connection: 3, user: 5, after: 10, epoch: 'e' }, // replayed
        { kind: 'resume', connection: 4, user: 5, after: 10, epoch: 'f' }, // another epoch
        { kind: 'resume', connection: 5, user: 5, after: 13, epoch: 'e' }, // ahead
        line('13|B\n'),
      ],
      { startSequence: 10, epoch: 'e' },
    );
    expect(received.get(1)).toEqual(['!EPOCH|e|9\n', '10|B\n', '11|P|1|5\n']);
    expect(received.get(2)).toEqual(['!EPOCH|e|11\n', '12|B\n', '13|B\n']);
    expect(received.get(3)).toEqual(['!EPOCH|e|10\n', '11|P|1|5\n', '12|B\n', '13|B\n']);
    expect(received.get(4)).toEqual(['!EPOCH|e|12\n', '13|B\n']);
    expect(received.get(5)).toEqual(['!EPOCH|e|12\n', '13|B\n']);
  });
});

describe('stream helpers', () => {
  it('generates the same valid lines for the same seed, numbered from start', () => {
    const lines = generateEventLines({ count: 500, users: 7, seed: 42, start: 3 });
    expect(generateEventLines({ count: 500, users: 7, seed: 42, start: 3 })).toEqual(lines);
    lines.forEach((text, index) => {
      expect(text).toMatch(new RegExp(`^${index + 3}\\|(B|S\\|[1-7]|[FUP]\\|[1-7]\\|[1-7])\\n$`));
    });
  });

  it('shuffles only within batches', () => {
    const items = Array.from({ length: 1000 }, (_, index) => index);
    const shuffled = shuffleInBatches(items, 8, mulberry32(1));
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
    expect(shuffled).not.toEqual(items);
    shuffled.forEach((value, index) => {
      expect(Math.abs(value - index)).toBeLessThan(8);
    });
  });

  it('injects every kind of fault: unnumbered lines, CRLF, bad bodies', () => {
    const valid = generateEventLines({ count: 2000, users: 5, seed: 7 });
    const faulted = injectFaults(valid, { rng: mulberry32(3), rate: 0.5, users: 5 });
    expect(faulted.length).toBeGreaterThan(valid.length);
    expect(faulted.some((text) => LINES_WITHOUT_SEQUENCE.includes(text))).toBe(true);
    expect(faulted.some((text) => text.endsWith('\r\n'))).toBe(true);
    expect(faulted.some((text) => badBodyLines(Number(text.split('|')[0])).includes(text))).toBe(
      true,
    );
  });

  it('builds op streams whose disconnects close open connections only', () => {
    const ops = generateOpStream({ seed: 5, events: 3000, users: 10, churnRate: 0.2 });
    const open = new Set<number>();
    for (const op of ops) {
      if (op.kind === 'connect') {
        expect(open.has(op.connection)).toBe(false);
        open.add(op.connection);
      } else if (op.kind === 'disconnect') {
        expect(open.delete(op.connection)).toBe(true);
      }
    }
    expect(ops.filter((op) => op.kind === 'line')).toHaveLength(3000);
  });
});

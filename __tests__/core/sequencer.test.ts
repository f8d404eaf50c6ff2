import { describe, expect, it } from '@jest/globals';
import { MAX_ID } from '../../lib/core/constants.js';
import { Sequencer } from '../../lib/core/sequencer.js';
import { ErrorCode, MazeError, type Problem } from '../../lib/errors.js';

interface Item {
  sequence: number;
  tag: string;
}

const item = (sequence: number, tag = `#${sequence}`): Item => ({ sequence, tag });

/** Offers each item in turn, draining after each as the usage contract says. */
function feed<T extends Item>(sequencer: Sequencer<T>, items: readonly T[]) {
  const released: T[] = [];
  const problems: Problem[] = [];
  for (const offered of items) {
    problems.push(...sequencer.offer(offered));
    for (let next = sequencer.next(); next !== undefined; next = sequencer.next()) {
      released.push(next);
    }
  }
  return { released, problems };
}

const numbers = (items: readonly Item[]) => items.map((released) => released.sequence);

describe('Sequencer ordering', () => {
  it('releases in-order items at once, starting at 1 by default', () => {
    const sequencer = new Sequencer<Item>();
    const { released, problems } = feed(sequencer, [item(1), item(2), item(3)]);
    expect(numbers(released)).toEqual([1, 2, 3]);
    expect(problems).toEqual([]);
    expect(sequencer.nextSequence).toBe(4);
    expect(sequencer.pending).toBe(0);
  });

  it('holds early items until the missing number arrives', () => {
    const sequencer = new Sequencer<Item>();
    expect(numbers(feed(sequencer, [item(3), item(2)]).released)).toEqual([]);
    expect(sequencer.pending).toBe(2);
    expect(sequencer.next()).toBeUndefined();
    expect(numbers(feed(sequencer, [item(1)]).released)).toEqual([1, 2, 3]);
    expect(sequencer.pending).toBe(0);
  });

  it('starts at the configured number', () => {
    const sequencer = new Sequencer<Item>({ startSequence: 100 });
    const { released, problems } = feed(sequencer, [item(101), item(99), item(100)]);
    expect(numbers(released)).toEqual([100, 101]);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.EventStale]);
  });

  it('orders items far beyond the ring window as well as near ones', () => {
    const sequencer = new Sequencer<Item>({ capacity: 10_000 });
    const order = [5000, 3, 4999, 2, 1500, 1];
    const { released } = feed(
      sequencer,
      order.map((sequence) => item(sequence)),
    );
    expect(numbers(released)).toEqual([1, 2, 3]);
    // 4..5000 in reverse: 5000, 4999 and 1500 are already waiting, so they are duplicates.
    const rest = Array.from({ length: 4997 }, (_, index) => item(index + 4));
    const after = feed(sequencer, rest.reverse());
    expect(numbers(after.released)).toEqual(Array.from({ length: 4997 }, (_, index) => index + 4));
    expect(after.problems.map((problem) => problem.context.sequence)).toEqual([5000, 4999, 1500]);
    expect(sequencer.pending).toBe(0);
  });

  it('handles numbers across 2^32 and up to MAX_SAFE_INTEGER', () => {
    const around = new Sequencer<Item>({ startSequence: 2 ** 32 - 2 });
    const crossing = [2 ** 32 + 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 - 2];
    expect(
      numbers(
        feed(
          around,
          crossing.map((sequence) => item(sequence)),
        ).released,
      ),
    ).toEqual([2 ** 32 - 2, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1]);

    const top = new Sequencer<Item>({ startSequence: MAX_ID - 2 });
    const last = feed(top, [item(MAX_ID), item(MAX_ID - 1), item(MAX_ID - 2)]);
    expect(numbers(last.released)).toEqual([MAX_ID - 2, MAX_ID - 1, MAX_ID]);
    expect(top.offer(item(MAX_ID))[0]?.code).toBe(ErrorCode.EventStale);
  });
});

describe('Sequencer forEachPending', () => {
  it('visits every waiting item, in the ring and far ahead, and none released', () => {
    const sequencer = new Sequencer<Item>({ capacity: 100_000 });
    feed(sequencer, [item(3), item(2), item(5_000), item(1)]);
    const visited: number[] = [];
    sequencer.forEachPending((waiting) => visited.push(waiting.sequence));
    expect(visited).toEqual([5_000]);
    feed(sequencer, [item(7), item(9_000)]);
    visited.length = 0;
    sequencer.forEachPending((waiting) => visited.push(waiting.sequence));
    expect(visited.sort((a, b) => a - b)).toEqual([7, 5_000, 9_000]);
  });

  it('visits the items a skip made ready until next() hands them out', () => {
    const sequencer = new Sequencer<Item>({ capacity: 1 });
    expect(sequencer.offer(item(3))).toEqual([]);
    expect(sequencer.offer(item(4))[0]?.code).toBe(ErrorCode.SequenceGap);
    const visited: number[] = [];
    sequencer.forEachPending((pending) => visited.push(pending.sequence));
    expect(visited).toEqual([3, 4]);
    expect(sequencer.next()?.sequence).toBe(3);
    visited.length = 0;
    sequencer.forEachPending((pending) => visited.push(pending.sequence));
    expect(visited).toEqual([4]);
  });
});

describe('Sequencer advanceTo (numbers consumed elsewhere)', () => {
  it('moves the next number up without counting a skip, and never down', () => {
    const sequencer = new Sequencer<Item>();
    sequencer.advanceTo(10);
    sequencer.advanceTo(4);
    expect(sequencer.nextSequence).toBe(10);
    const { released, problems } = feed(sequencer, [item(9), item(10)]);
    expect(numbers(released)).toEqual([10]);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.EventStale]);
    expect(sequencer.skipped).toBe(0);
  });

  it('refuses while items wait, so nothing waiting is passed over', () => {
    const sequencer = new Sequencer<Item>();
    feed(sequencer, [item(3)]);
    expect(() => sequencer.advanceTo(5)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidState }),
    );
    expect(sequencer.nextSequence).toBe(1);
  });
});

describe('Sequencer discards', () => {
  it('reports a duplicate of a waiting number and keeps the first arrival', () => {
    const sequencer = new Sequencer<Item>();
    const first = feed(sequencer, [item(2, 'first'), item(2, 'second')]);
    expect(first.problems).toEqual([
      expect.objectContaining({ code: ErrorCode.EventDuplicate, context: { sequence: 2 } }),
    ]);
    expect(feed(sequencer, [item(1)]).released.map((released) => released.tag)).toEqual([
      '#1',
      'first',
    ]);
  });

  it('reports a duplicate of a far-ahead number, also once the window has reached it', () => {
    const sequencer = new Sequencer<Item>({ capacity: 3 });
    feed(sequencer, [item(9, 'first')]);
    expect(sequencer.offer(item(9, 'second'))[0]?.code).toBe(ErrorCode.EventDuplicate);
    feed(sequencer, [item(1), item(2), item(3), item(4), item(5), item(6)]);
    expect(sequencer.nextSequence).toBe(7);
    expect(sequencer.offer(item(9, 'third'))[0]?.code).toBe(ErrorCode.EventDuplicate);
    const { released } = feed(sequencer, [item(7), item(8)]);
    expect(released.map((released) => released.tag)).toEqual(['#7', '#8', 'first']);
  });

  it('reports a stale number (already released) and releases nothing for it', () => {
    const sequencer = new Sequencer<Item>();
    feed(sequencer, [item(1), item(2)]);
    const { released, problems } = feed(sequencer, [item(1, 'late')]);
    expect(released).toEqual([]);
    expect(problems).toEqual([
      expect.objectContaining({ code: ErrorCode.EventStale, context: { sequence: 1 } }),
    ]);
    expect(sequencer.pending).toBe(0);
  });
});

describe('Sequencer replaces (a later arrival taking a waiting number)', () => {
  // Items tagged `placeholder…` give way to any other arrival with their number.
  interface Sized extends Item {
    size: number;
  }
  const sized = (sequence: number, tag: string, size: number): Sized => ({ sequence, tag, size });
  const withReplaces = (options: { capacity?: number; capacityBytes?: number } = {}) =>
    new Sequencer<Sized>({
      ...options,
      sizeOf: (waiting) => waiting.size,
      replaces: (waiting, arrival) =>
        waiting.tag.startsWith('placeholder') && !arrival.tag.startsWith('placeholder'),
    });
  const tags = (items: readonly Item[]) => items.map((released) => released.tag);

  it('lets an arrival replace a waiting item in the ring, unreported, and releases it in its place', () => {
    const sequencer = withReplaces();
    const { problems } = feed(sequencer, [sized(3, 'placeholder', 50), sized(3, 'real', 7)]);
    expect(problems).toEqual([]);
    expect(sequencer).toMatchObject({ pending: 1, pendingBytes: 7, replaced: 1 });
    expect(tags(feed(sequencer, [sized(1, '#1', 0), sized(2, '#2', 0)]).released)).toEqual([
      '#1',
      '#2',
      'real',
    ]);
    expect(sequencer).toMatchObject({ pending: 0, pendingBytes: 0, nextSequence: 4 });
  });

  it('lets an arrival replace a far-ahead item, which keeps its place in the order', () => {
    const sequencer = withReplaces({ capacity: 3 });
    feed(sequencer, [sized(9, 'placeholder', 5), sized(8, '#8', 1)]);
    expect(feed(sequencer, [sized(9, 'real', 2)]).problems).toEqual([]);
    expect(sequencer).toMatchObject({ pending: 2, pendingBytes: 3, replaced: 1 });
    const { released } = feed(
      sequencer,
      [1, 2, 3, 4, 5, 6, 7].map((n) => sized(n, `#${n}`, 0)),
    );
    expect(tags(released).slice(-3)).toEqual(['#7', '#8', 'real']);
  });

  it('keeps the waiting item and reports a duplicate when replaces says no', () => {
    const sequencer = withReplaces();
    const twice = feed(sequencer, [
      sized(2, 'real', 1),
      sized(2, 'placeholder', 1),
      sized(3, 'placeholder', 1),
      sized(3, 'placeholder again', 1),
    ]);
    expect(twice.problems.map((problem) => [problem.code, problem.context.sequence])).toEqual([
      [ErrorCode.EventDuplicate, 2],
      [ErrorCode.EventDuplicate, 3],
    ]);
    expect(sequencer).toMatchObject({ pending: 2, pendingBytes: 2, replaced: 0 });
    expect(tags(feed(sequencer, [sized(1, '#1', 0)]).released)).toEqual([
      '#1',
      'real',
      'placeholder',
    ]);
  });

  it('never asks about a number already released: that is stale', () => {
    const sequencer = withReplaces();
    feed(sequencer, [sized(1, 'placeholder', 1)]);
    expect(sequencer.offer(sized(1, 'real', 1))[0]?.code).toBe(ErrorCode.EventStale);
    expect(sequencer.replaced).toBe(0);
  });

  it('does not count a replacement against the count bound', () => {
    const sequencer = withReplaces({ capacity: 2 });
    feed(sequencer, [sized(2, 'placeholder', 1), sized(3, '#3', 1)]);
    expect(feed(sequencer, [sized(2, 'real', 1)]).problems).toEqual([]);
    expect(sequencer).toMatchObject({ pending: 2, skipped: 0, nextSequence: 1 });
  });

  it('holds a larger replacement up to the byte bound and skips the gap one byte over it', () => {
    const atBound = withReplaces({ capacityBytes: 100 });
    feed(atBound, [sized(2, 'placeholder', 10), sized(3, '#3', 40)]);
    expect(feed(atBound, [sized(2, 'real', 60)]).problems).toEqual([]);
    expect(atBound).toMatchObject({ pending: 2, pendingBytes: 100, skipped: 0 });

    const over = withReplaces({ capacityBytes: 100 });
    feed(over, [sized(2, 'placeholder', 10), sized(3, '#3', 40)]);
    const { released, problems } = feed(over, [sized(2, 'real', 61)]);
    expect(problems.map((problem) => [problem.code, problem.context])).toEqual([
      [ErrorCode.SequenceGap, { sequence: 2, missingFrom: 1, missingTo: 1 }],
    ]);
    expect(tags(released)).toEqual(['real', '#3']);
    expect(over).toMatchObject({ pending: 0, pendingBytes: 0, skipped: 1, nextSequence: 4 });
  });

  it('reset forgets the replaced count', () => {
    const sequencer = withReplaces();
    feed(sequencer, [sized(2, 'placeholder', 1), sized(2, 'real', 1)]);
    sequencer.reset();
    expect(sequencer).toMatchObject({ replaced: 0, pending: 0, pendingBytes: 0 });
  });
});

describe('Sequencer overflow (gap skip)', () => {
  it('skips a single missing number when one more item arrives than the capacity', () => {
    const sequencer = new Sequencer<Item>({ capacity: 3 });
    const { released, problems } = feed(sequencer, [item(2), item(3), item(4), item(5)]);
    expect(problems).toEqual([
      {
        code: ErrorCode.SequenceGap,
        message: expect.stringContaining('event 1;'),
        context: { sequence: 2, missingFrom: 1, missingTo: 1 },
      },
    ]);
    expect(numbers(released)).toEqual([2, 3, 4, 5]);
    expect(sequencer.skipped).toBe(1);
    expect(sequencer.nextSequence).toBe(6);
  });

  it('skips when every waiting item is near (no far-ahead item)', () => {
    const sequencer = new Sequencer<Item>({ capacity: 2 });
    const { released, problems } = feed(sequencer, [item(3), item(2), item(4)]);
    expect(problems[0]?.context).toEqual({ sequence: 2, missingFrom: 1, missingTo: 1 });
    expect(numbers(released)).toEqual([2, 3, 4]);
  });

  it('names a range of missing numbers and counts each of them', () => {
    const sequencer = new Sequencer<Item>({ capacity: 2 });
    const { released, problems } = feed(sequencer, [item(5), item(8), item(6)]);
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.SequenceGap,
        message: expect.stringContaining('1..4'),
        context: { sequence: 5, missingFrom: 1, missingTo: 4 },
      }),
    ]);
    expect(numbers(released)).toEqual([5, 6]);
    expect(sequencer.skipped).toBe(4);
    expect(sequencer.pending).toBe(1);
    expect(sequencer.offer(item(3))[0]?.code).toBe(ErrorCode.EventStale);
  });

  it('resumes at a near item when far-ahead items are larger', () => {
    const sequencer = new Sequencer<Item>({ capacity: 3 });
    const { released, problems } = feed(sequencer, [item(3), item(20), item(30), item(25)]);
    expect(problems[0]?.context).toEqual({ sequence: 3, missingFrom: 1, missingTo: 2 });
    expect(numbers(released)).toEqual([3]);
    expect(sequencer.pending).toBe(3);
  });

  it('resumes at a far-ahead item when it is smaller than every near item', () => {
    const sequencer = new Sequencer<Item>({ capacity: 3 });
    // 8 is far ahead when it arrives; by the time 9 and 10 come, the window has caught up.
    feed(sequencer, [item(8), item(1), item(2), item(3), item(4), item(5), item(6)]);
    const { released, problems } = feed(sequencer, [item(10), item(9), item(11)]);
    expect(problems[0]?.context).toEqual({ sequence: 8, missingFrom: 7, missingTo: 7 });
    expect(numbers(released)).toEqual([8, 9, 10, 11]);
    expect(sequencer.skipped).toBe(1);
  });

  it('never keeps more than capacity items waiting after a drain', () => {
    const sequencer = new Sequencer<Item>({ capacity: 5 });
    for (let sequence = 2; sequence < 2000; sequence += 3) {
      feed(sequencer, [item(sequence)]);
      expect(sequencer.pending).toBeLessThanOrEqual(5);
    }
  });
});

describe('Sequencer overflow by bytes', () => {
  interface Sized extends Item {
    size: number;
  }
  const sized = (sequence: number, size: number): Sized => ({
    sequence,
    tag: `#${sequence}`,
    size,
  });
  const bySize = (capacityBytes: number, capacity?: number) =>
    new Sequencer<Sized>({ capacity, capacityBytes, sizeOf: (waiting) => waiting.size });

  it('holds items exactly at the byte bound and skips the gap one byte over it', () => {
    const sequencer = bySize(100);
    const atBound = feed(sequencer, [sized(2, 40), sized(3, 60)]);
    expect(atBound.problems).toEqual([]);
    expect(sequencer.pendingBytes).toBe(100);
    const { released, problems } = feed(sequencer, [sized(4, 1)]);
    expect(problems).toEqual([
      {
        code: ErrorCode.SequenceGap,
        message: expect.stringContaining('(100 bytes) while waiting for event 1;'),
        context: { sequence: 2, missingFrom: 1, missingTo: 1 },
      },
    ]);
    expect(numbers(released)).toEqual([2, 3, 4]);
    expect(sequencer).toMatchObject({ pending: 0, pendingBytes: 0, skipped: 1, nextSequence: 5 });
  });

  it('says which bound overflowed', () => {
    const byCount = feed(bySize(1_000, 2), [sized(2, 1), sized(3, 1), sized(4, 1)]);
    expect(byCount.problems[0]?.message).toContain('(2 events)');
    const byBytes = feed(bySize(2, 1_000), [sized(2, 1), sized(3, 1), sized(4, 1)]);
    expect(byBytes.problems[0]?.message).toContain('(2 bytes)');
  });

  it('skips to a far-ahead item when bytes overflow', () => {
    const sequencer = bySize(4_096);
    const { released, problems } = feed(sequencer, [sized(5_000, 4_000), sized(9_000, 4_000)]);
    expect(problems.map((problem) => problem.context)).toEqual([
      { sequence: 5_000, missingFrom: 1, missingTo: 4_999 },
    ]);
    expect(numbers(released)).toEqual([5_000]);
    expect(sequencer).toMatchObject({ pending: 1, pendingBytes: 4_000, nextSequence: 5_001 });
  });

  it('skips as many gaps as it takes when one arrival is larger than the run a skip releases', () => {
    const sequencer = bySize(10);
    feed(sequencer, [sized(3, 1), sized(5, 1), sized(7, 1)]);
    const { released, problems } = feed(sequencer, [sized(9, 10)]);
    expect(problems.map((problem) => problem.context)).toEqual([
      { sequence: 3, missingFrom: 1, missingTo: 2 },
      { sequence: 5, missingFrom: 4, missingTo: 4 },
      { sequence: 7, missingFrom: 6, missingTo: 6 },
    ]);
    expect(numbers(released)).toEqual([3, 5, 7]);
    expect(sequencer).toMatchObject({ pending: 1, pendingBytes: 10, skipped: 4, nextSequence: 8 });
  });

  it('is within its bounds as soon as offer() returns, and next() then hands out the released run', () => {
    const sequencer = bySize(10);
    sequencer.offer(sized(3, 6));
    sequencer.offer(sized(4, 1));
    expect(sequencer.offer(sized(6, 6))).toHaveLength(1);
    // 3 and 4 are released but not taken yet: they count until next() hands them out.
    expect(sequencer).toMatchObject({ nextSequence: 3, pending: 3, pendingBytes: 13 });
    expect(sequencer.next()?.sequence).toBe(3);
    expect(sequencer.next()?.sequence).toBe(4);
    expect(sequencer.next()).toBeUndefined();
    expect(sequencer).toMatchObject({ nextSequence: 5, pending: 1, pendingBytes: 6 });
  });

  it('releases an item larger than the whole byte bound (by skipping to it if need be)', () => {
    const sequencer = bySize(10);
    expect(numbers(feed(sequencer, [sized(1, 50)]).released)).toEqual([1]);
    const { released, problems } = feed(sequencer, [sized(3, 50)]);
    expect(problems.map((problem) => problem.context)).toEqual([
      { sequence: 3, missingFrom: 2, missingTo: 2 },
    ]);
    expect(numbers(released)).toEqual([3]);
    expect(sequencer.pendingBytes).toBe(0);
  });

  it('never keeps more than the byte bound waiting after a drain, over a long stream', () => {
    const sequencer = bySize(1_000);
    for (let sequence = 2; sequence < 20_000; sequence += 2) {
      feed(sequencer, [sized(sequence, 1 + (sequence % 97))]);
      expect(sequencer.pendingBytes).toBeLessThanOrEqual(1_000);
    }
  });

  it('counts no bytes without a sizeOf, and reset forgets the bytes', () => {
    const plain = new Sequencer<Item>({ capacityBytes: 1 });
    feed(plain, [item(2), item(3)]);
    expect(plain).toMatchObject({ pending: 2, pendingBytes: 0, skipped: 0 });
    const sequencer = bySize(100);
    feed(sequencer, [sized(2, 40)]);
    sequencer.reset();
    expect(sequencer).toMatchObject({ pending: 0, pendingBytes: 0 });
  });
});

describe('Sequencer reset and options', () => {
  it('reset forgets pending items, the position and the skipped count', () => {
    const sequencer = new Sequencer<Item>({ startSequence: 10, capacity: 1 });
    feed(sequencer, [item(10), item(12), item(13)]);
    expect(sequencer.skipped).toBe(1);
    sequencer.reset();
    expect(sequencer.nextSequence).toBe(10);
    expect(sequencer.pending).toBe(0);
    expect(sequencer.skipped).toBe(0);
    expect(numbers(feed(sequencer, [item(11), item(10)]).released)).toEqual([10, 11]);
  });

  it.each([
    ['startSequence', { startSequence: 0 }],
    ['startSequence', { startSequence: -1 }],
    ['startSequence', { startSequence: 1.5 }],
    ['startSequence', { startSequence: Number.NaN }],
    ['startSequence', { startSequence: MAX_ID + 1 }],
    ['capacity', { capacity: 0 }],
    ['capacity', { capacity: Number.POSITIVE_INFINITY }],
    ['capacityBytes', { capacityBytes: 0 }],
    ['capacityBytes', { capacityBytes: 2.5 }],
  ])('rejects an invalid %s: %j', (name, options) => {
    const construct = () => new Sequencer<Item>(options);
    expect(construct).toThrow(MazeError);
    expect(construct).toThrow(expect.objectContaining({ code: ErrorCode.InvalidOption }));
    expect(construct).toThrow(name);
  });
});

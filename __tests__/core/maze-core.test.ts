import { Buffer } from 'node:buffer';
import { describe, expect, it } from '@jest/globals';
import { MAX_ID } from '../../lib/core/constants.js';
import { lineOf } from '../../lib/core/events.js';
import { type CoreStats, MazeCore, type PushResult } from '../../lib/core/maze-core.js';
import { ErrorCode, MazeError } from '../../lib/errors.js';

/** What each user received, as `user: [lines]`, from one or more push results. */
function received(...results: readonly PushResult[]): Record<number, string[]> {
  const byUser: Record<number, string[]> = {};
  for (const { deliveries } of results) {
    for (const { event, recipients } of deliveries) {
      for (const user of recipients) {
        byUser[user] = [...(byUser[user] ?? []), lineOf(event)];
      }
    }
  }
  return byUser;
}

const codes = (result: PushResult) => result.problems.map((problem) => problem.code);

function coreWith(users: readonly number[], options = {}): MazeCore {
  const core = new MazeCore(options);
  for (const user of users) core.connect(user);
  return core;
}

describe('MazeCore: docs/protocol.md §3 notifications', () => {
  it('notifies each event type as the table says', () => {
    const core = coreWith([12, 32, 50, 56, 60]);
    const results = [
      '1|F|60|50\n',
      '2|U|12|9\n',
      '3|B\n',
      '4|P|32|56\n',
      '5|F|12|32\n',
      '6|S|32\n',
    ].map((line) => core.push(line));
    expect(received(...results)).toEqual({
      12: ['3|B\n', '6|S|32\n'],
      32: ['3|B\n', '5|F|12|32\n'],
      50: ['1|F|60|50\n', '3|B\n'],
      56: ['3|B\n', '4|P|32|56\n'],
      60: ['3|B\n'],
    });
  });

  it('leaves out events that notify nobody and users without a connection', () => {
    const core = coreWith([1]);
    expect(core.push('1|U|1|2\n').deliveries).toEqual([]);
    expect(core.push('2|P|1|2\n').deliveries).toEqual([]);
    expect(core.push('3|F|2|7\n').deliveries).toEqual([]);
    expect(core.stats().eventsApplied).toBe(3);
  });

  it('keeps the follow graph while users are offline', () => {
    const core = new MazeCore();
    core.push('1|F|2|3\n');
    core.connect(2);
    expect(received(core.push('2|S|3\n'))).toEqual({ 2: ['2|S|3\n'] });
  });

  it('stops notifying after an unfollow, even of an edge followed twice', () => {
    const core = coreWith([2]);
    const results = ['1|F|2|3\n', '2|F|2|3\n', '3|S|3\n', '4|U|2|3\n', '5|S|3\n'].map((line) =>
      core.push(line),
    );
    expect(received(...results)).toEqual({ 2: ['3|S|3\n'] });
    expect(core.graph.edgeCount).toBe(0);
  });

  it('hands out its follow graph to read, not to change', () => {
    const core = coreWith([2]);
    core.push('1|F|2|3\n');
    // Typechecked: status updates keep recipients that only events may change.
    // @ts-expect-error the graph is read-only through the core
    const follow: unknown = core.graph.follow;
    expect(typeof follow).toBe('function');
    expect(core.graph.isFollowing(2, 3)).toBe(true);
  });

  it('notifies a self-follower of its own status update', () => {
    const core = coreWith([4]);
    expect(received(core.push('1|F|4|4\n'), core.push('2|S|4\n'))).toEqual({
      4: ['1|F|4|4\n', '2|S|4\n'],
    });
  });

  it('delivers lines byte for byte: LF and CRLF kept, a missing terminator becomes LF', () => {
    const core = coreWith([1]);
    const results = ['1|B\r\n', '2|P|3|1\n', '3|B'].map((line) => core.push(line));
    expect(received(...results)).toEqual({ 1: ['1|B\r\n', '2|P|3|1\n', '3|B\n'] });
  });

  it('delivers a long waiting line pushed from a Buffer intact after the Buffer is reused', () => {
    const core = coreWith([7]);
    // Over 128 bytes, so it waits in an array of its own; leading zeros keep it valid.
    const long = `2|P|${'0'.repeat(130)}1|7\n`;
    const chunk = Buffer.from(long, 'latin1');
    expect(core.push(chunk, 0, chunk.length).deliveries).toEqual([]);
    chunk.fill(0x21);
    const { deliveries } = core.push(Buffer.from('1|B\n', 'latin1'), 0, 4);
    expect(deliveries.map(({ event }) => lineOf(event))).toEqual(['1|B\n', long]);
    expect(deliveries[1]?.event.bytes.buffer).not.toBe(chunk.buffer);
  });

  it('handles user ids and sequence numbers at MAX_SAFE_INTEGER', () => {
    const core = coreWith([MAX_ID], { startSequence: MAX_ID - 1 });
    const line = `${MAX_ID}|P|1|${MAX_ID}\n`;
    expect(core.push(line).deliveries).toEqual([]);
    expect(received(core.push(`${MAX_ID - 1}|F|${MAX_ID}|${MAX_ID}\n`))).toEqual({
      [MAX_ID]: [`${MAX_ID - 1}|F|${MAX_ID}|${MAX_ID}\n`, line],
    });
  });
});

describe('MazeCore: connections', () => {
  it('lists a user with several connections once, until its last connection goes', () => {
    const core = coreWith([7, 7]);
    expect(core.push('1|B\n').deliveries[0]?.recipients).toEqual([7]);
    core.disconnect(7);
    expect(core.push('2|B\n').deliveries[0]?.recipients).toEqual([7]);
    expect(core.stats().usersConnected).toBe(1);
    core.disconnect(7);
    expect(core.push('3|B\n').deliveries).toEqual([]);
    expect(core.connectedUsers.has(7)).toBe(false);
  });

  it('throws ERR_INVALID_STATE when disconnecting a user without a connection', () => {
    const core = coreWith([1]);
    core.disconnect(1);
    for (const user of [1, 2]) {
      expect(() => core.disconnect(user)).toThrow(MazeError);
      expect(() => core.disconnect(user)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidState }),
      );
    }
  });

  it('computes recipients when an event is applied, not when it arrives', () => {
    const core = coreWith([1]);
    const early = core.push('2|B\n');
    core.connect(2);
    core.disconnect(1);
    expect(received(early, core.push('1|B\n'))).toEqual({ 2: ['1|B\n', '2|B\n'] });
  });
});

describe('MazeCore: docs/protocol.md §4 ordering', () => {
  it('applies events strictly in sequence order, several per push when a gap fills', () => {
    const core = coreWith([1]);
    const early = ['3|B\n', '2|P|5|1\n'].map((line) => core.push(line));
    expect(received(...early)).toEqual({});
    const filling = core.push('1|F|5|1\n');
    expect(filling.deliveries.map(({ event }) => event.sequence)).toEqual([1, 2, 3]);
  });

  it('starts at the configured number and treats lower numbers as stale', () => {
    const core = coreWith([1], { startSequence: 10 });
    const stale = core.push('9|B\n');
    expect(codes(stale)).toEqual([ErrorCode.EventStale]);
    expect(received(stale, core.push('10|B\n'))).toEqual({ 1: ['10|B\n'] });
  });

  it('applies an invalid body as a no-op that consumes its number', () => {
    const core = coreWith([1]);
    expect(core.push('2|B\n').deliveries).toEqual([]);
    const noop = core.push('1|X|1|2\n');
    expect(noop.problems).toEqual([
      expect.objectContaining({ code: ErrorCode.EventBadBody, context: expect.anything() }),
    ]);
    expect(noop.problems[0]?.context.sequence).toBe(1);
    expect(received(noop)).toEqual({ 1: ['2|B\n'] });
    expect(core.stats()).toMatchObject({ eventsNoop: 1, eventsApplied: 1, nextSequence: 3 });
  });

  it('discards a line without a sequence number without consuming anything', () => {
    const core = coreWith([1]);
    const discarded = core.push('x|B\n');
    expect(codes(discarded)).toEqual([ErrorCode.EventBadSequence]);
    expect(discarded.deliveries).toEqual([]);
    expect(received(core.push('1|B\n'))).toEqual({ 1: ['1|B\n'] });
  });

  it('keeps the first arrival of a number and reports later ones', () => {
    const core = coreWith([1, 9]);
    expect(codes(core.push('2|P|1|9\n'))).toEqual([]);
    expect(codes(core.push('2|B\n'))).toEqual([ErrorCode.EventDuplicate]);
    expect(received(core.push('1|P|9|1\n'))).toEqual({ 1: ['1|P|9|1\n'], 9: ['2|P|1|9\n'] });
    expect(codes(core.push('2|B\n'))).toEqual([ErrorCode.EventStale]);
  });

  it('counts the lines that parse as events, duplicate and stale ones too, in wellFormedLines', () => {
    const core = new MazeCore();
    for (const line of ['\n', '\r\n', 'x|B\n', '|B\n', '3|Q\n', '1|F|1\n', '2|B\n']) {
      core.push(line);
    }
    expect(core.wellFormedLines).toBe(1);
    // A duplicate of the waiting 2, then 1 (applied with 2), then 1 again, stale.
    for (const line of ['2|B\n', '1|B\n', '1|B\n']) core.push(line);
    expect(core.wellFormedLines).toBe(4);
    expect(core.applyInOrder('9|B\n').deliveries).toEqual([]);
    expect(core.wellFormedLines).toBe(5);
    core.reset();
    expect(core.wellFormedLines).toBe(5);
  });

  it('skips missing numbers when the buffer overflows, reports them and goes on', () => {
    const core = coreWith([1], { reorderCapacity: 2 });
    core.push('4|B\n');
    core.push('3|P|2|1\n');
    const overflow = core.push('6|B\n');
    expect(overflow.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.SequenceGap,
        context: { sequence: 3, missingFrom: 1, missingTo: 2 },
      }),
    ]);
    expect(received(overflow)).toEqual({ 1: ['3|P|2|1\n', '4|B\n'] });
    expect(core.stats()).toMatchObject({ sequencesSkipped: 2, pending: 1, nextSequence: 5 });
    expect(received(core.push('5|B\n'))).toEqual({ 1: ['5|B\n', '6|B\n'] });
  });

  it('reports both an invalid body and the overflow it caused', () => {
    const core = coreWith([1], { reorderCapacity: 1 });
    core.push('3|B\n');
    const result = core.push('4|Z\n');
    expect(codes(result)).toEqual([ErrorCode.EventBadBody, ErrorCode.SequenceGap]);
    expect(received(result)).toEqual({ 1: ['3|B\n'] });
    expect(core.stats()).toMatchObject({ eventsNoop: 1, sequencesSkipped: 2, nextSequence: 5 });
  });
});

describe('MazeCore: lines given as bytes', () => {
  it('copies a waiting line: the caller may reuse its bytes, and no view of them is kept', () => {
    const core = new MazeCore();
    core.connect(3);
    // One buffer of exactly one record, reused for every record, as an embedder reading
    // fixed-size records would.
    const record = new TextEncoder().encode('000002|P|0001|3\n');
    expect(core.push(record).deliveries).toEqual([]);
    record.fill(0x41);
    // A line cut from a large chunk.
    const chunk = new Uint8Array(64 * 1024);
    const line = new TextEncoder().encode('3|P|0001|3\n');
    chunk.set(line, 100);
    expect(core.push(chunk, 100, 100 + line.length).deliveries).toEqual([]);
    const released = core.push('1|P|0003|3\n');
    expect(released.deliveries.map(({ event }) => lineOf(event))).toEqual([
      '1|P|0003|3\n',
      '000002|P|0001|3\n',
      '3|P|0001|3\n',
    ]);
    // Its copy lies in the reorder buffer's own store, not in the caller's chunk.
    const kept = released.deliveries[2]?.event;
    expect(kept?.bytes.buffer).not.toBe(chunk.buffer);
    expect(kept?.bytes.buffer).not.toBe(record.buffer);
    expect((kept?.end ?? 0) - (kept?.start ?? 0)).toBe(line.length);
  });

  it('delivers a line released at once as a range of the bytes given, without a copy', () => {
    const core = new MazeCore();
    core.connect(3);
    const chunk = new TextEncoder().encode('xx1|P|7|3\nyy');
    const { deliveries } = core.push(chunk, 2, 10);
    expect(deliveries.map(({ event }) => [event.bytes, event.start, event.end])).toEqual([
      [chunk, 2, 10],
    ]);
  });
});

describe('MazeCore: valid beats invalid while waiting (docs/protocol.md §4)', () => {
  // User 5 follows 2 at number 1; numbers 2..7 notify nobody but a broadcast's recipients.
  const before = ['1|F|5|2\n', '2|U|9|9\n', '3|U|9|9\n', '4|U|9|9\n', '5|U|9|9\n', '6|U|9|9\n'];
  const fillGap = (core: MazeCore) => [...before, '7|U|9|9\n'].reverse().map((l) => core.push(l));

  it.each([
    ['the invalid line first', ['8|S|32|1\n', '8|S|2\n']],
    ['the valid line first', ['8|S|2\n', '8|S|32|1\n']],
  ])('delivers the valid status update whatever arrives first (%s)', (_, lines) => {
    const core = coreWith([5]);
    const [first, second] = lines.map((line) => core.push(line)) as [PushResult, PushResult];
    const invalidFirst = lines[0] === '8|S|32|1\n';
    expect(codes(first)).toEqual(invalidFirst ? [ErrorCode.EventBadBody] : []);
    expect(codes(second)).toEqual(invalidFirst ? [] : [ErrorCode.EventDuplicate]);
    expect(received(...fillGap(core))).toEqual({ 5: ['8|S|2\n'] });
    expect(core.stats()).toMatchObject({
      eventsReceived: 9,
      eventsApplied: 8,
      eventsNoop: 0,
      eventsDiscarded: 1,
      pending: 0,
      nextSequence: 9,
    });
  });

  it('keeps the first of two invalid lines as the no-op and reports the second as a duplicate', () => {
    const core = coreWith([5]);
    expect(codes(core.push('8|S|32|1\n'))).toEqual([ErrorCode.EventBadBody]);
    expect(codes(core.push('8|X\n'))).toEqual([ErrorCode.EventDuplicate]);
    expect(received(...fillGap(core))).toEqual({});
    expect(core.stats()).toMatchObject({ eventsApplied: 7, eventsNoop: 1, eventsDiscarded: 1 });
  });

  it('keeps the first valid line against a later valid one and a later invalid one', () => {
    const core = coreWith([5]);
    core.push('8|S|2\n');
    expect(codes(core.push('8|B\n'))).toEqual([ErrorCode.EventDuplicate]);
    expect(codes(core.push('8|S|32|1\n'))).toEqual([ErrorCode.EventDuplicate]);
    expect(received(...fillGap(core))).toEqual({ 5: ['8|S|2\n'] });
  });

  it('applies an invalid line that is next at once: a valid line with its number is then stale', () => {
    const core = coreWith([5]);
    for (const line of before) core.push(line);
    core.push('7|U|9|9\n');
    expect(codes(core.push('8|S|32|1\n'))).toEqual([ErrorCode.EventBadBody]);
    const late = core.push('8|S|2\n');
    expect(codes(late)).toEqual([ErrorCode.EventStale]);
    expect(received(late)).toEqual({});
    expect(core.stats()).toMatchObject({ eventsNoop: 1, eventsDiscarded: 1, nextSequence: 9 });
  });

  it('applies the replacement as soon as the gap before it fills, and what waits behind it', () => {
    const core = coreWith([5]);
    core.push('9|S|2\n');
    core.push('8|S|32|1\n');
    core.push('8|S|2\n');
    expect(received(...fillGap(core))).toEqual({ 5: ['8|S|2\n', '9|S|2\n'] });
  });

  it("accounts the replacement exactly: its bytes instead of the report's, the same count", () => {
    const core = coreWith([5]);
    core.push('9|B\n');
    core.push('8|S|32|1\n');
    const withPlaceholder = core.stats();
    expect(withPlaceholder.pending).toBe(2);
    expect(withPlaceholder.pendingBytes).toBeGreaterThan('9|B\n'.length + '8|S|32|1\n'.length);
    core.push('8|S|2\n');
    expect(core.stats()).toMatchObject({
      pending: 2,
      pendingBytes: '9|B\n'.length + '8|S|2\n'.length,
      eventsDiscarded: 1,
    });
    core.reset();
    expect(core.stats()).toMatchObject({ pending: 0, pendingBytes: 0, eventsDiscarded: 3 });
  });

  it('replaces at the count bound without skipping, since the count stays the same', () => {
    const core = coreWith([5], { reorderCapacity: 2 });
    core.push('9|B\n');
    core.push('8|S|32|1\n');
    expect(codes(core.push('8|S|2\n'))).toEqual([]);
    expect(core.stats()).toMatchObject({ pending: 2, sequencesSkipped: 0 });
  });

  it('skips the gap when a longer replacement takes the bytes over their bound, and applies it at once', () => {
    const core = coreWith([5]);
    core.push('1|F|5|2\n');
    core.push('8|S|32|1\n');
    const placeholderBytes = core.stats().pendingBytes;
    const padded = `${'0'.repeat(placeholderBytes)}8|S|2\n`;
    const bounded = coreWith([5], { reorderBytes: padded.length - 1 });
    bounded.push('1|F|5|2\n');
    bounded.push('8|S|32|1\n');
    const result = bounded.push(padded);
    expect(result.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.SequenceGap,
        context: { sequence: 8, missingFrom: 2, missingTo: 7 },
      }),
    ]);
    expect(received(result)).toEqual({ 5: [padded] });
    expect(bounded.stats()).toMatchObject({ pending: 0, pendingBytes: 0, nextSequence: 9 });
  });
});

describe('MazeCore: lines already in order (the gateway, docs/protocol.md §11)', () => {
  it('applies each line at once, whatever numbers were consumed before it elsewhere', () => {
    const core = coreWith([1], { startSequence: 5 });
    const results = ['5|F|1|2\n', '9|B\n', '10|P|3|1\r\n', '1000|S|2\n'].map((line) =>
      core.applyInOrder(line),
    );
    expect(results.every((result) => result.problems.length === 0)).toBe(true);
    expect(received(...results)).toEqual({ 1: ['9|B\n', '10|P|3|1\r\n', '1000|S|2\n'] });
    expect(core.stats()).toMatchObject({
      eventsApplied: 4,
      sequencesSkipped: 0,
      pending: 0,
      nextSequence: 1001,
    });
  });

  it('discards a number at or below the last one and a line without a number, as push() does', () => {
    const core = coreWith([1]);
    core.applyInOrder('7|B\n');
    const repeated = core.applyInOrder('7|B\n');
    const older = core.applyInOrder('3|B\n');
    const unnumbered = core.applyInOrder('x|B\n');
    expect([codes(repeated), codes(older), codes(unnumbered)]).toEqual([
      [ErrorCode.EventStale],
      [ErrorCode.EventStale],
      [ErrorCode.EventBadSequence],
    ]);
    expect(received(repeated, older, unnumbered)).toEqual({});
    expect(core.stats()).toMatchObject({ eventsReceived: 4, eventsApplied: 1, eventsDiscarded: 3 });
  });

  it('reports an invalid body and lets it hold its number', () => {
    const core = coreWith([1]);
    const invalid = core.applyInOrder('4|X\n');
    expect(codes(invalid)).toEqual([ErrorCode.EventBadBody]);
    expect(codes(core.applyInOrder('4|B\n'))).toEqual([ErrorCode.EventStale]);
    expect(received(core.applyInOrder('5|B\n'))).toEqual({ 1: ['5|B\n'] });
    expect(core.stats()).toMatchObject({ eventsNoop: 1, eventsApplied: 1 });
  });
});

describe('MazeCore: docs/protocol.md §10 follow graph bound', () => {
  it('reports a follow beyond maxFollowEdges and applies it as a no-op', () => {
    const core = coreWith([7, 8], { maxFollowEdges: 1 });
    expect(received(core.push('1|F|1|7\n'))).toEqual({ 7: ['1|F|1|7\n'] });
    const refused = core.push('2|F|2|8\n');
    expect(refused.deliveries).toEqual([]);
    expect(refused.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.FollowLimit,
        context: { sequence: 2, line: '2|F|2|8' },
      }),
    ]);
    // The number is consumed: the next event is applied, and 2 never followed 8.
    expect(received(core.push('3|S|2\n'), core.push('4|F|1|7\n'))).toEqual({
      7: ['4|F|1|7\n'],
    });
    expect(core.stats()).toMatchObject({
      followsRefused: 1,
      eventsNoop: 1,
      eventsApplied: 3,
      followEdges: 1,
      nextSequence: 5,
    });
  });

  it('reports a refusal met while releasing waiting events with that push', () => {
    const core = coreWith([8], { maxFollowEdges: 1 });
    core.push('3|F|3|8\n');
    core.push('2|F|2|8\n');
    const result = core.push('1|F|1|8\n');
    expect(received(result)).toEqual({ 8: ['1|F|1|8\n'] });
    expect(result.problems.map((problem) => problem.context.sequence)).toEqual([2, 3]);
    expect(codes(result)).toEqual([ErrorCode.FollowLimit, ErrorCode.FollowLimit]);
  });
});

describe('MazeCore: stats and reset', () => {
  it('counts every line once by its fate', () => {
    const core = coreWith([1, 2, 2], { reorderCapacity: 2, resumeBytes: 1024 * 1024 });
    core.push('1|F|1|2\n'); // applied
    core.push('2|X\n'); // no-op
    core.push('nope\n'); // discarded: no number
    core.push('1|B\n'); // discarded: stale
    core.push('5|B\n'); // waits
    core.push('5|B\n'); // discarded: duplicate
    core.push('6|B\n'); // waits
    const expected: CoreStats = {
      eventsReceived: 7,
      eventsApplied: 1,
      eventsNoop: 1,
      followsRefused: 0,
      eventsDiscarded: 3,
      sequencesSkipped: 0,
      pending: 2,
      pendingBytes: '5|B\n'.length + '6|B\n'.length,
      nextSequence: 3,
      usersConnected: 2,
      followEdges: 1,
      resumeHistoryEvents: 1,
      resumeHistoryBytes: core.stats().resumeHistoryBytes,
      resumableAfter: 0,
    };
    expect(core.stats()).toEqual(expected);
    core.push('7|B\n'); // overflow: 3 and 4 skipped, 5..7 applied
    expect(core.stats()).toEqual({
      ...expected,
      eventsReceived: 8,
      eventsApplied: 4,
      sequencesSkipped: 2,
      pending: 0,
      pendingBytes: 0,
      nextSequence: 8,
      resumeHistoryEvents: 4,
    });
  });

  it('reset forgets the graph and the stream position, keeps connections and counters, and counts what waited as discarded', () => {
    const core = coreWith([1], { startSequence: 5, reorderCapacity: 1 });
    core.push('5|F|1|2\n');
    core.push('7|B\n');
    core.push('8|B\n'); // overflow: 6 skipped
    core.push('10|B\n'); // waits
    core.reset();
    expect(core.stats()).toEqual({
      eventsReceived: 4,
      eventsApplied: 3,
      eventsNoop: 0,
      followsRefused: 0,
      eventsDiscarded: 1,
      sequencesSkipped: 1,
      pending: 0,
      pendingBytes: 0,
      nextSequence: 5,
      usersConnected: 1,
      followEdges: 0,
      resumeHistoryEvents: 0,
      resumeHistoryBytes: expect.any(Number),
      resumableAfter: 4,
    });
    expect(received(core.push('5|B\n'), core.push('6|S|2\n'))).toEqual({ 1: ['5|B\n'] });
  });

  it('bounds waiting lines by their bytes too; an invalid body counts its report', () => {
    const core = coreWith([1], { reorderBytes: 200 });
    const padded = `${'0'.repeat(40)}2|B\n`;
    core.push(padded);
    const invalid = core.push('3|X\n');
    const report = invalid.problems[0];
    const reportBytes = (report?.message.length ?? 0) + (report?.context.line?.length ?? 0);
    expect(core.stats()).toMatchObject({ pending: 2, pendingBytes: padded.length + reportBytes });
    // One more padded line goes over 200 bytes: 1 is skipped, 2..4 are applied.
    const over = core.push(`${'0'.repeat(100)}4|B\n`);
    expect(over.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.SequenceGap,
        message: expect.stringContaining('(200 bytes)'),
        context: { sequence: 2, missingFrom: 1, missingTo: 1 },
      }),
    ]);
    expect(over.deliveries.map((delivery) => delivery.event.sequence)).toEqual([2, 4]);
    expect(core.stats()).toMatchObject({ pending: 0, pendingBytes: 0, eventsNoop: 1 });
  });

  it.each([
    { startSequence: 0 },
    { startSequence: 2.5 },
    { startSequence: MAX_ID + 1 },
    { reorderCapacity: 0 },
    { reorderCapacity: -5 },
    { reorderBytes: 0 },
    { maxFollowEdges: 0 },
    { maxFollowEdges: 2 ** 40 },
  ])('throws ERR_INVALID_OPTION for %j', (options) => {
    expect(() => new MazeCore(options)).toThrow(
      expect.objectContaining({ name: 'MazeError', code: ErrorCode.InvalidOption }),
    );
  });
});

describe('MazeCore: the delimiter option', () => {
  it('parses with it and delivers each line byte for byte as read', () => {
    const core = coreWith([12, 32, 50, 56, 60], { delimiter: ';' });
    const results = [
      '1;F;60;50\n',
      '2;U;12;9\n',
      '3;B\n',
      '4;P;32;56\n',
      '5;F;12;32\r\n',
      '6;S;32\n',
    ].map((line) => core.push(line));
    expect(received(...results)).toEqual({
      12: ['3;B\n', '6;S;32\n'],
      32: ['3;B\n', '5;F;12;32\r\n'],
      50: ['1;F;60;50\n', '3;B\n'],
      56: ['3;B\n', '4;P;32;56\n'],
      60: ['3;B\n'],
    });
    expect(core.stats().followEdges).toBe(2);
  });

  it('takes a byte above 0x7F given as its latin1 character', () => {
    const core = coreWith([2], { delimiter: '\xa7' });
    expect(received(core.push('1\xa7F\xa71\xa72\n'))).toEqual({ 2: ['1\xa7F\xa71\xa72\n'] });
  });

  it('applies lines in order with it (the gateway)', () => {
    const core = coreWith([2], { delimiter: ',' });
    expect(received(core.applyInOrder('4,F,1,2\n'))).toEqual({ 2: ['4,F,1,2\n'] });
  });

  it('treats `|` lines as having no sequence number under another delimiter', () => {
    const core = coreWith([2], { delimiter: ';' });
    expect(codes(core.push('1|F|1|2\n'))).toEqual([ErrorCode.EventBadSequence]);
    expect(core.stats()).toMatchObject({ eventsDiscarded: 1, eventsApplied: 0 });
  });

  it.each([
    ['a digit', '7'],
    ['CR', '\r'],
    ['LF', '\n'],
    ['an event type letter', 'B'],
    ['empty', ''],
    ['two characters', ';;'],
    ['a character code of 256', '\u0100'],
    ['not a string', 59],
  ])('throws ERR_INVALID_OPTION naming delimiter for %s', (_, delimiter) => {
    expect(() => new MazeCore({ delimiter } as never)).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOption,
        message: expect.stringMatching(/^delimiter must be one character/),
      }),
    );
  });
});

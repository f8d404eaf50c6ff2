/**
 * Graph snapshots (lib/core/graph-snapshot.ts) and `MazeCore.restore()`: any graph comes back
 * edge for edge (lists, bitsets, ids up to MAX_ID), the decoder refuses every malformed
 * snapshot as a whole, and a restored core behaves as the one it was taken from.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_ID } from '../../lib/core/constants.js';
import { FollowGraph } from '../../lib/core/follow-graph.js';
import { decodeGraphSnapshot, encodeGraphSnapshot } from '../../lib/core/graph-snapshot.js';
import { MazeCore } from '../../lib/core/maze-core.js';
import { ErrorCode } from '../../lib/errors.js';
import { decoded, edgesOf } from '../helpers/graphs.js';

function restored(bytes: Uint8Array, maxFollowEdges?: number): MazeCore {
  const core = new MazeCore({ maxFollowEdges });
  core.restore(decoded(bytes));
  return core;
}

/** Bytes with the header replaced. */
function withHeader(bytes: Uint8Array, header: string): Uint8Array {
  const body = bytes.subarray(bytes.indexOf(0x0a) + 1);
  const head = new TextEncoder().encode(header);
  const result = new Uint8Array(head.length + body.length);
  result.set(head);
  result.set(body, head.length);
  return result;
}

const POINT = { position: 42, lastSequence: 4_200 };

describe('graph snapshots', () => {
  it('bring back every edge of any graph, and the point they stand at', () => {
    const user = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: MAX_ID }),
      fc.constant(MAX_ID),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), user, user), { maxLength: 300 }),
        (operations) => {
          const graph = new FollowGraph();
          for (const [follow, from, to] of operations) {
            if (follow) graph.follow(from, to);
            else graph.unfollow(from, to);
          }
          const snapshot = decoded(encodeGraphSnapshot(graph, POINT));
          expect(snapshot).toMatchObject({ ...POINT, edges: graph.edgeCount });
          const core = new MazeCore();
          core.restore(snapshot);
          expect(edgesOf(core.graph)).toEqual(edgesOf(graph));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('bring back a followee whose many small-id followers sit in a bitset', () => {
    const graph = new FollowGraph();
    for (let follower = 0; follower < 5_000; follower++) graph.follow(follower, 7);
    graph.follow(2 ** 40, 7);
    const core = restored(encodeGraphSnapshot(graph, POINT));
    expect(core.graph.followersOf(7).size).toBe(5_001);
    expect(edgesOf(core.graph)).toEqual(edgesOf(graph));
  });

  it('cost 8 bytes an edge and 16 a followee, after the header', () => {
    const graph = new FollowGraph();
    for (let follower = 1; follower <= 10; follower++) graph.follow(follower, 1);
    graph.follow(1, 2);
    const bytes = encodeGraphSnapshot(graph, POINT);
    const header = 'FMS1 42 4200 2 11 8388608\n';
    expect(new TextDecoder().decode(bytes.subarray(0, header.length))).toBe(header);
    expect(bytes.length).toBe(header.length + 8 * 11 + 16 * 2);
  });

  it.each([
    ['no header', (bytes: Uint8Array) => bytes.subarray(5), /no "FMS<version> …" header/],
    [
      'another version',
      (bytes: Uint8Array) => withHeader(bytes, 'FMS2 42 4200 2 11 8388608\n'),
      /version 2/,
    ],
    [
      'a non-canonical number',
      (bytes: Uint8Array) => withHeader(bytes, 'FMS1 042 4200 2 11 8388608\n'),
      /out of range/,
    ],
    ['a short body', (bytes: Uint8Array) => bytes.subarray(0, bytes.length - 8), /body of/],
    [
      'more edges than the body',
      (bytes: Uint8Array) => withHeader(bytes, 'FMS1 42 4200 2 12 8388608\n'),
      /body of/,
    ],
  ])('refuse %s', (_, damage, reason) => {
    const graph = new FollowGraph();
    for (let follower = 1; follower <= 10; follower++) graph.follow(follower, 1);
    graph.follow(1, 2);
    const result = decodeGraphSnapshot(damage(encodeGraphSnapshot(graph, POINT)));
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });

  it.each([
    ['a fractional id', 2.5, /invalid id/],
    ['a negative id', -1, /invalid id/],
    ['an id beyond MAX_ID', 2 ** 53, /invalid id/],
  ])('refuse %s anywhere in the body', (_, id, reason) => {
    const graph = new FollowGraph();
    graph.follow(3, 4);
    const bytes = encodeGraphSnapshot(graph, POINT);
    // The followee's id at 0, its count at 8, its follower's id at 16.
    for (const at of [0, 16]) {
      const copy = bytes.slice();
      new DataView(copy.buffer, bytes.indexOf(0x0a) + 1).setFloat64(at, id, true);
      const result = decodeGraphSnapshot(copy);
      expect(result.ok ? '' : result.reason).toMatch(reason);
    }
  });

  it('refuse follower counts that do not add up', () => {
    const graph = new FollowGraph();
    graph.follow(3, 4);
    graph.follow(5, 6);
    const bytes = encodeGraphSnapshot(graph, POINT);
    for (const count of [0, 2, 1.5]) {
      const copy = bytes.slice();
      new DataView(copy.buffer, copy.indexOf(0x0a) + 1).setFloat64(8, count, true);
      expect(decodeGraphSnapshot(copy).ok).toBe(false);
    }
  });
});

describe('MazeCore.restore', () => {
  it('continues where the snapshot stands: follows kept, older numbers stale', () => {
    const source = new MazeCore();
    source.push('1|F|7|8\n');
    source.push('2|F|9|8\n');
    source.push('3|U|9|8\n');
    const core = restored(encodeGraphSnapshot(source.graph, { position: 1, lastSequence: 3 }));
    core.connect(7);
    core.connect(9);
    expect(core.applyInOrder('3|S|8\n').problems.map((problem) => problem.code)).toEqual([
      ErrorCode.EventStale,
    ]);
    const update = core.applyInOrder('4|S|8\n');
    expect(update.deliveries.map(({ recipients }) => recipients)).toEqual([[7]]);
    expect(core.stats()).toMatchObject({ followEdges: 1, nextSequence: 5 });
  });

  it('refuses a core that has taken a line, and a snapshot taken with another bound', () => {
    const graph = new FollowGraph({ maxEdges: 2 });
    graph.follow(1, 2);
    graph.follow(3, 2);
    // Refused at this bound: a core with a larger one would have kept it.
    expect(graph.follow(4, 2)).toBe('refused');
    const bytes = encodeGraphSnapshot(graph, POINT);
    const used = new MazeCore({ maxFollowEdges: 2 });
    used.push('1|B\n');
    expect(() => used.restore(decoded(bytes))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidState }),
    );
    for (const bound of [1, 3, 8_388_608]) {
      const other = new MazeCore({ maxFollowEdges: bound });
      expect(() => other.restore(decoded(bytes))).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOption }),
      );
      expect(other.stats().followEdges).toBe(0);
    }
    expect(restored(bytes, 2).stats().followEdges).toBe(2);
  });
});

import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ConnectedUsers } from '../../lib/core/connected-users.js';
import { FollowGraph, FollowOutcome } from '../../lib/core/follow-graph.js';
import { CORE_OPTIONS } from '../../lib/core/options.js';
import { ErrorCode } from '../../lib/errors.js';
import { mulberry32, randomInt } from '../helpers/streams.js';

describe('FollowGraph', () => {
  it('records who follows whom, one direction only', () => {
    const graph = new FollowGraph();
    graph.follow(60, 50);
    expect(graph.isFollowing(60, 50)).toBe(true);
    expect(graph.isFollowing(50, 60)).toBe(false);
    expect([...graph.followersOf(50)]).toEqual([60]);
    expect([...graph.followersOf(60)]).toEqual([]);
    expect(graph.edgeCount).toBe(1);
  });

  it('is a set: following twice then unfollowing once leaves no edge', () => {
    const graph = new FollowGraph();
    graph.follow(1, 2);
    graph.follow(1, 2);
    expect(graph.edgeCount).toBe(1);
    graph.unfollow(1, 2);
    expect(graph.isFollowing(1, 2)).toBe(false);
    expect(graph.followersOf(2).size).toBe(0);
    expect(graph.edgeCount).toBe(0);
  });

  it('ignores an unfollow without a matching follow', () => {
    const graph = new FollowGraph();
    graph.unfollow(1, 2);
    graph.follow(3, 2);
    graph.unfollow(1, 2);
    expect(graph.edgeCount).toBe(1);
    expect([...graph.followersOf(2)]).toEqual([3]);
  });

  it('allows a user to follow itself', () => {
    const graph = new FollowGraph();
    graph.follow(7, 7);
    expect(graph.isFollowing(7, 7)).toBe(true);
    expect([...graph.followersOf(7)]).toEqual([7]);
  });

  it('keeps many followers per user and counts every edge', () => {
    const graph = new FollowGraph();
    for (let follower = 1; follower <= 100; follower++) graph.follow(follower, 0);
    for (let follower = 1; follower <= 100; follower += 2) graph.unfollow(follower, 0);
    expect(graph.edgeCount).toBe(50);
    expect([...graph.followersOf(0)].every((follower) => follower % 2 === 0)).toBe(true);
  });

  it('clear removes every edge', () => {
    const graph = new FollowGraph();
    graph.follow(1, 2);
    graph.follow(3, 4);
    graph.clear();
    expect(graph.edgeCount).toBe(0);
    expect(graph.isFollowing(1, 2)).toBe(false);
    expect(graph.followersOf(4).size).toBe(0);
  });
});

const sorted = (users: Iterable<number>) => [...users].sort((a, b) => a - b);
const SMALL_EDGE = 2 ** 24 - 1; // MAX_DENSE_ID: the largest id a bitset holds

describe('FollowGraph ids and bound', () => {
  it('takes every id, 0 and 2^53 - 1 included, on both sides', () => {
    const graph = new FollowGraph();
    const ids = [0, 1, SMALL_EDGE, 2 ** 24, 2 ** 32, Number.MAX_SAFE_INTEGER];
    for (const follower of ids) for (const followee of ids) graph.follow(follower, followee);
    expect(graph.edgeCount).toBe(ids.length ** 2);
    for (const followee of ids) expect(sorted(graph.followersOf(followee))).toEqual(sorted(ids));
    expect(graph.isFollowing(0, Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(graph.unfollow(0, 0)).toBe(true);
    expect(graph.isFollowing(0, 0)).toBe(false);
  });

  it('tells apart followers above 2^32 whose low 32 bits are the same', () => {
    const graph = new FollowGraph();
    for (let high = 1; high <= 500; high++) graph.follow(high * 2 ** 32 + 9, 1);
    expect(graph.followersOf(1).size).toBe(500);
    expect(graph.isFollowing(9, 1)).toBe(false);
    expect(graph.isFollowing(501 * 2 ** 32 + 9, 1)).toBe(false);
    expect(graph.isFollowing(77 * 2 ** 32 + 9, 1)).toBe(true);
  });

  it('refuses a new edge beyond maxEdges, and takes one again once there is room', () => {
    const graph = new FollowGraph({ maxEdges: 2 });
    expect(graph.follow(1, 9)).toBe(FollowOutcome.Added);
    expect(graph.follow(2, 9)).toBe(FollowOutcome.Added);
    expect(graph.follow(3, 9)).toBe(FollowOutcome.Refused);
    expect(graph.follow(1, 9)).toBe(FollowOutcome.Present);
    expect(graph.isFollowing(3, 9)).toBe(false);
    expect(graph.edgeCount).toBe(2);
    graph.unfollow(1, 9);
    expect(graph.follow(3, 9)).toBe(FollowOutcome.Added);
  });

  it('rejects a bad maxEdges with ERR_INVALID_OPTION', () => {
    for (const maxEdges of [0, -1, 1.5, Number.NaN, CORE_OPTIONS.maxFollowEdges.max + 1]) {
      expect(() => new FollowGraph({ maxEdges })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOption }),
      );
    }
    expect(new FollowGraph().maxEdges).toBe(CORE_OPTIONS.maxFollowEdges.default);
  });

  it('gives its memory back when every edge is gone', () => {
    const graph = new FollowGraph();
    const empty = graph.bytes;
    for (let follower = 0; follower < 5_000; follower++) {
      graph.follow(follower * 7919, follower % 50);
      graph.follow(follower, 2 ** 40 + (follower % 3));
    }
    expect(graph.bytes).toBeGreaterThan(empty * 10);
    for (let follower = 0; follower < 5_000; follower++) {
      graph.unfollow(follower * 7919, follower % 50);
      graph.unfollow(follower, 2 ** 40 + (follower % 3));
    }
    expect(graph.edgeCount).toBe(0);
    expect(graph.bytes).toBe(empty);
  });
});

describe('FollowGraph routing', () => {
  it('finds followers among users through the bitset and the table alike', () => {
    const graph = new FollowGraph();
    for (let follower = 0; follower < 100; follower++) graph.follow(follower, 1);
    for (let follower = 0; follower < 50; follower++) graph.follow(2 ** 24 + follower, 1);
    const followers = graph.followersOf(1);
    expect(followers.size).toBe(150);
    expect(followers.has(99)).toBe(true);
    expect(followers.has(2 ** 24 + 50)).toBe(false);
    // Few users: the big side (the high-id followers) is probed, not walked.
    const few = ConnectedUsers.of([3, 64, 500, 2 ** 24 + 7, 2 ** 24 + 70]);
    expect(sorted(followers.among(few))).toEqual([3, 64, 2 ** 24 + 7]);
    // Many users: the high-id followers are walked.
    const many = ConnectedUsers.of(Array.from({ length: 300 }, (_, i) => 2 ** 24 + i));
    expect(sorted(graph.followersAmong(1, many))).toEqual(
      Array.from({ length: 50 }, (_, i) => 2 ** 24 + i),
    );
    expect(graph.followersOf(2).among(few)).toEqual([]);
  });
});

describe('FollowGraph deletes', () => {
  it('skips and cuts out deleted followers in the middle of a list', () => {
    const graph = new FollowGraph();
    const high = (i: number) => 2 ** 30 + i;
    for (let i = 0; i < 10; i++) graph.follow(high(i), 1);
    for (const i of [0, 3, 4, 9]) graph.unfollow(high(i), 1);
    const kept = [1, 2, 5, 6, 7, 8].map(high);
    expect(sorted(graph.followersOf(1))).toEqual(kept);
    const everyone = ConnectedUsers.of(Array.from({ length: 20 }, (_, i) => high(i)));
    expect(sorted(graph.followersAmong(1, everyone))).toEqual(kept);
    // Cut out once, they stay out; their slots take new edges.
    expect(sorted(graph.followersAmong(1, everyone))).toEqual(kept);
    for (const i of [3, 4, 12]) graph.follow(high(i), 1);
    expect(sorted(graph.followersOf(1))).toEqual(sorted([...kept, high(3), high(4), high(12)]));
    expect(graph.isFollowing(high(0), 1)).toBe(false);
    expect(graph.followersOf(1).size).toBe(9);
  });
});

describe('FollowGraph against a naive model', () => {
  // Few followees and many followers, so bitsets are built, grown and given up often.
  const follower = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 120 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: SMALL_EDGE }) },
    { weight: 1, arbitrary: fc.constantFrom(SMALL_EDGE, 2 ** 24, Number.MAX_SAFE_INTEGER) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }).map((high) => high * 2 ** 32 + 1) },
  );
  const followee = fc.oneof(
    fc.integer({ min: 0, max: 3 }),
    fc.constantFrom(2 ** 24, Number.MAX_SAFE_INTEGER),
  );
  const operation = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constant('F' as const), follower, followee) },
    { weight: 3, arbitrary: fc.tuple(fc.constant('U' as const), follower, followee) },
    { weight: 1, arbitrary: fc.tuple(fc.constant('S' as const), follower, followee) },
  );

  it('agrees on followers, membership, among() and the edge count', () => {
    fc.assert(
      fc.property(
        fc.array(operation, { minLength: 100, maxLength: 1500 }),
        fc.array(follower, { maxLength: 30 }),
        (operations, connectedIds) => {
          const graph = new FollowGraph({ maxEdges: 400 });
          const model = new Map<number, Set<number>>();
          const edges = () => [...model.values()].reduce((sum, set) => sum + set.size, 0);
          const connected = ConnectedUsers.of(new Set(connectedIds));
          for (const [type, from, to] of operations) {
            const followers = model.get(to) ?? new Set<number>();
            if (type === 'F') {
              const expected = followers.has(from)
                ? FollowOutcome.Present
                : edges() >= 400
                  ? FollowOutcome.Refused
                  : FollowOutcome.Added;
              expect(graph.follow(from, to)).toBe(expected);
              if (expected === FollowOutcome.Added) model.set(to, followers.add(from));
            } else if (type === 'U') {
              expect(graph.unfollow(from, to)).toBe(followers.delete(from));
              if (followers.size === 0) model.delete(to);
            } else {
              expect(sorted(graph.followersAmong(to, connected))).toEqual(
                sorted(connected.list().filter((user) => followers.has(user))),
              );
            }
            expect(graph.isFollowing(from, to)).toBe(model.get(to)?.has(from) ?? false);
          }
          expect(graph.edgeCount).toBe(edges());
          for (const [user, followers] of model) {
            expect(sorted(graph.followersOf(user))).toEqual(sorted(followers));
            expect(graph.followersOf(user).size).toBe(followers.size);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('agrees through bitset growth, give-up and rebuild at hundreds of followers', () => {
    const rng = mulberry32(3);
    const graph = new FollowGraph();
    const model = new Set<number>();
    const connected = ConnectedUsers.of([0, 5, 64, 999, 4_000, SMALL_EDGE, 2 ** 24]);
    for (let step = 0; step < 40_000; step++) {
      const phase = Math.floor(step / 5_000) % 4;
      const user =
        phase === 3 && rng() < 0.02
          ? SMALL_EDGE - randomInt(rng, 0, 3)
          : randomInt(rng, 0, phase === 1 ? 5_000 : 1_000);
      const adding = rng() < (phase === 2 ? 0.2 : 0.6);
      if (adding) {
        graph.follow(user, 7);
        model.add(user);
      } else {
        graph.unfollow(user, 7);
        model.delete(user);
      }
      if (step % 997 === 0) {
        expect(graph.followersOf(7).size).toBe(model.size);
        expect(sorted(graph.followersAmong(7, connected))).toEqual(
          sorted(connected.list().filter((id) => model.has(id))),
        );
      }
    }
    expect(sorted(graph.followersOf(7))).toEqual(sorted(model));
  });
});

describe('FollowGraph costs (docs/protocol.md §10): operation counts, not timings', () => {
  /** A graph where user 1 has `n` small-id followers (2..n+1). */
  function withFollowers(n: number): FollowGraph {
    const graph = new FollowGraph();
    for (let follower = 2; follower <= n + 1; follower++) graph.follow(follower, 1);
    return graph;
  }

  it('the flip attack cycle costs no maintenance work, at any number of followers', () => {
    for (const n of [2 ** 14, 2 ** 18]) {
      const graph = withFollowers(n);
      const before = graph.maintenanceWork;
      for (let cycle = 0; cycle < 50; cycle++) {
        graph.follow(2 ** 24, 1);
        graph.unfollow(2 ** 24, 1);
        graph.unfollow(5, 1);
        graph.follow(5, 1);
      }
      expect(graph.maintenanceWork - before).toBe(0);
    }
  });

  it('an unfollow/follow pair at a power-of-two size costs no maintenance work', () => {
    const graph = new FollowGraph();
    // Spread-out ids: no bitset fits, so the followers stay in the table.
    for (let follower = 0; follower < 4_096; follower++) graph.follow(follower * 4_093, 1);
    const before = graph.maintenanceWork;
    for (let pair = 0; pair < 1_000; pair++) {
      graph.unfollow(4_093, 1);
      graph.follow(4_093, 1);
    }
    expect(graph.maintenanceWork - before).toBe(0);
  });

  it('keeps maintenance work within a constant per event, whatever the order', () => {
    // [cycles, one cycle of the attack]
    const attacks: [number, (graph: FollowGraph, n: number, cycle: number) => void][] = [
      [
        200, // a far small id in and out: the bitset cannot reach it
        (graph, _n, cycle) => {
          graph.follow(SMALL_EDGE - (cycle % 2), 1);
          graph.unfollow(SMALL_EDGE - (cycle % 2), 1);
        },
      ],
      [
        6, // down to the give-up line and back up
        (graph, n, cycle) => {
          // Below 1/8 word per follower the bitset is given up; back up, it is built again.
          const edge = Math.floor(n / 160) + (cycle % 3);
          for (let follower = edge; follower < n; follower++) graph.unfollow(follower + 2, 1);
          for (let follower = edge; follower < n; follower++) graph.follow(follower + 2, 1);
        },
      ],
      [
        200, // the table at its growth line
        (graph, _n, cycle) => {
          graph.follow(2 ** 30 + cycle, 1);
          graph.unfollow(2 ** 30 + cycle - 1, 1);
        },
      ],
    ];
    for (const [cycles, attack] of attacks) {
      for (const n of [2 ** 10, 2 ** 16]) {
        const graph = withFollowers(n);
        let events = n;
        const counting = new Proxy(graph, {
          get(target, name) {
            if (name === 'follow' || name === 'unfollow') {
              return (follower: number, followee: number) => {
                events++;
                return target[name](follower, followee);
              };
            }
            return Reflect.get(target, name, target);
          },
        });
        for (let cycle = 0; cycle < cycles; cycle++) attack(counting, n, cycle);
        expect(graph.maintenanceWork).toBeLessThan(32 * events);
      }
    }
  });
});

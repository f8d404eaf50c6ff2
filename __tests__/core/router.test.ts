import { describe, expect, it } from '@jest/globals';
import { ConnectedUsers } from '../../lib/core/connected-users.js';
import type { MazeEvent } from '../../lib/core/events.js';
import { FollowGraph } from '../../lib/core/follow-graph.js';
import { isEvent, parseEvent } from '../../lib/core/parser.js';
import { recipientsOf } from '../../lib/core/router.js';

function event(line: string): MazeEvent {
  const parsed = parseEvent(line);
  if (!isEvent(parsed)) throw new Error(`test line is not an event: ${line}`);
  return parsed;
}

const sorted = (users: readonly number[]) => [...users].sort((a, b) => a - b);

describe('recipientsOf: the "who is notified" column of docs/protocol.md §3', () => {
  const graph = new FollowGraph();
  graph.follow(60, 50);
  graph.follow(32, 32);
  graph.follow(1, 32);
  graph.follow(2, 32);
  const everyone = ConnectedUsers.of([1, 2, 9, 12, 32, 50, 56, 60]);

  it.each([
    ['666|F|60|50\n', [50]],
    ['1|U|12|9\n', []],
    ['542532|B\n', [...everyone.list()]],
    ['43|P|32|56\n', [56]],
    ['634|S|32\n', [1, 2, 32]],
  ])('%j notifies %j', (line, expected) => {
    expect(sorted(recipientsOf(event(line), graph, everyone))).toEqual(sorted(expected));
  });

  it('skips users without a connection silently', () => {
    const only9 = ConnectedUsers.of([9]);
    expect(recipientsOf(event('1|F|60|50\n'), graph, only9)).toEqual([]);
    expect(recipientsOf(event('2|P|32|56\n'), graph, only9)).toEqual([]);
    expect(recipientsOf(event('3|S|32\n'), graph, only9)).toEqual([]);
    expect(recipientsOf(event('4|B\n'), graph, new ConnectedUsers())).toEqual([]);
  });

  it('notifies a self-following user of its own status update', () => {
    expect(recipientsOf(event('5|S|32\n'), graph, ConnectedUsers.of([32]))).toEqual([32]);
  });

  it('notifies nobody of the status of a user without followers', () => {
    expect(recipientsOf(event('6|S|56\n'), graph, everyone)).toEqual([]);
  });

  it('finds connected followers whichever side of the intersection is smaller', () => {
    const crowd = new FollowGraph();
    for (let follower = 1; follower <= 1000; follower++) crowd.follow(follower, 9000);
    const status = event('7|S|9000\n');
    // Few connections, many followers.
    expect(sorted(recipientsOf(status, crowd, ConnectedUsers.of([5, 999, 2000])))).toEqual([
      5, 999,
    ]);
    // Many connections, few followers.
    const many = ConnectedUsers.of(Array.from({ length: 5000 }, (_, index) => index + 500));
    expect(recipientsOf(status, crowd, many)).toHaveLength(501);
    const fewFollowers = new FollowGraph();
    fewFollowers.follow(600, 9000);
    fewFollowers.follow(7, 9000);
    expect(recipientsOf(status, fewFollowers, many)).toEqual([600]);
  });

  it('finds connected followers in a dense (bitset) follower set, ids beyond it included', () => {
    const dense = new FollowGraph();
    for (let follower = 1; follower <= 64; follower++) dense.follow(follower, 7);
    const connected = ConnectedUsers.of([3, 64, 65, 2 ** 40, Number.MAX_SAFE_INTEGER]);
    expect(sorted(recipientsOf(event('12|S|7\n'), dense, connected))).toEqual([3, 64]);
  });

  it('lists a user with several connections once', () => {
    const connections = ConnectedUsers.of([50, 1, 50, 50]);
    expect(sorted(recipientsOf(event('8|B\n'), graph, connections))).toEqual([1, 50]);
    expect(recipientsOf(event('9|F|1|50\n'), graph, connections)).toEqual([50]);
  });

  it('does not change the graph', () => {
    const before = graph.edgeCount;
    recipientsOf(event('10|U|60|50\n'), graph, everyone);
    recipientsOf(event('11|F|9|12\n'), graph, everyone);
    expect(graph.edgeCount).toBe(before);
    expect(graph.isFollowing(60, 50)).toBe(true);
  });
});

import { describe, expect, it, jest } from '@jest/globals';
import { ConnectedUsers } from '../../lib/core/connected-users.js';
import { FollowGraph } from '../../lib/core/follow-graph.js';
import { MazeCore } from '../../lib/core/maze-core.js';
import { StatusRecipients } from '../../lib/core/status-recipients.js';

const sorted = (users: readonly number[]) => [...users].sort((a, b) => a - b);

function statusRecipients(core: MazeCore, line: string): number[] {
  const { deliveries } = core.push(line);
  return sorted(deliveries[0]?.recipients ?? []);
}

describe('StatusRecipients', () => {
  it('computes again only when a connected follower of the author changes', () => {
    const core = new MazeCore();
    const computed = jest.spyOn(core.graph, 'followersAmong');
    for (const user of [1, 2, 3]) core.connect(user);
    core.push('1|F|1|9\n');
    core.push('2|F|2|9\n');
    expect(statusRecipients(core, '3|S|9\n')).toEqual([1, 2]);
    expect(statusRecipients(core, '4|S|9\n')).toEqual([1, 2]);
    expect(computed).toHaveBeenCalledTimes(1);
    // A user without a connection following the author changes nobody's recipients.
    core.push('5|F|50|9\n');
    expect(statusRecipients(core, '6|S|9\n')).toEqual([1, 2]);
    expect(computed).toHaveBeenCalledTimes(1);
    core.push('7|F|3|9\n');
    expect(statusRecipients(core, '8|S|9\n')).toEqual([1, 2, 3]);
    core.push('9|U|1|9\n');
    expect(statusRecipients(core, '10|S|9\n')).toEqual([2, 3]);
    expect(computed).toHaveBeenCalledTimes(3);
  });

  it('hands out a fresh array each time', () => {
    const core = new MazeCore();
    core.connect(1);
    core.push('1|F|1|9\n');
    const first = core.push('2|S|9\n').deliveries[0]?.recipients;
    const second = core.push('3|S|9\n').deliveries[0]?.recipients;
    expect(second).toEqual([1]);
    expect(second).not.toBe(first);
  });

  it('starts over when a user comes or goes, not for a second connection', () => {
    const core = new MazeCore();
    const computed = jest.spyOn(core.graph, 'followersAmong');
    core.connect(1);
    core.push('1|F|1|9\n');
    core.push('2|F|50|9\n');
    expect(statusRecipients(core, '3|S|9\n')).toEqual([1]);
    core.connect(1);
    expect(statusRecipients(core, '4|S|9\n')).toEqual([1]);
    expect(computed).toHaveBeenCalledTimes(1);
    core.connect(50);
    expect(statusRecipients(core, '5|S|9\n')).toEqual([1, 50]);
    core.disconnect(1);
    core.disconnect(1);
    expect(statusRecipients(core, '6|S|9\n')).toEqual([50]);
  });

  it('forgets the graph with reset()', () => {
    const core = new MazeCore();
    core.connect(1);
    core.push('1|F|1|9\n');
    expect(statusRecipients(core, '2|S|9\n')).toEqual([1]);
    core.reset();
    expect(statusRecipients(core, '1|S|9\n')).toEqual([]);
  });

  it('keeps an entry whose ids fit int32, and not one with a larger id, both right', () => {
    const core = new MazeCore();
    const computed = jest.spyOn(core.graph, 'followersAmong');
    for (const user of [3, 2 ** 31 - 1, 2 ** 31]) core.connect(user);
    core.push(`1|F|${2 ** 31 - 1}|8\n`);
    core.push('2|F|3|8\n');
    expect(statusRecipients(core, '3|S|8\n')).toEqual([3, 2 ** 31 - 1]);
    expect(statusRecipients(core, '4|S|8\n')).toEqual([3, 2 ** 31 - 1]);
    expect(computed).toHaveBeenCalledTimes(1);
    core.push(`5|F|${2 ** 31}|9\n`);
    core.push('6|F|3|9\n');
    expect(statusRecipients(core, '7|S|9\n')).toEqual([3, 2 ** 31]);
    expect(statusRecipients(core, '8|S|9\n')).toEqual([3, 2 ** 31]);
    expect(computed).toHaveBeenCalledTimes(3);
  });

  it('changes nothing for a follow the edge bound refuses', () => {
    const core = new MazeCore({ maxFollowEdges: 1 });
    const computed = jest.spyOn(core.graph, 'followersAmong');
    core.connect(1);
    core.connect(2);
    core.push('1|F|1|9\n');
    expect(statusRecipients(core, '2|S|9\n')).toEqual([1]);
    const refused = core.push('3|F|2|9\n');
    expect(refused.problems.length).toBeGreaterThan(0);
    expect(statusRecipients(core, '4|S|9\n')).toEqual([1]);
    expect(computed).toHaveBeenCalledTimes(1);
  });

  it('does not keep an entry too large to share the slots, nor drop the others for it', () => {
    const many = Array.from({ length: 2 ** 15 + 1 }, (_, index) => index + 100);
    const connected = ConnectedUsers.of([5, ...many]);
    const graph = new FollowGraph();
    const cache = new StatusRecipients(graph, connected);
    graph.follow(5, 1);
    for (const user of many) graph.follow(user, 2);
    expect(cache.of(1)).toEqual([5]);
    const computed = jest.spyOn(graph, 'followersAmong');
    for (let round = 0; round < 3; round++) {
      expect(cache.of(2)).toHaveLength(many.length);
      expect(cache.of(1)).toEqual([5]);
    }
    expect(computed.mock.calls.filter(([author]) => author === 1)).toHaveLength(0);
    expect(computed.mock.calls.filter(([author]) => author === 2)).toHaveLength(3);
    expect(cache.usedSlots).toBe(2);
  });

  it('keeps at most 2^18 slots whatever the number of authors', () => {
    const connected = ConnectedUsers.of([5]);
    const graph = new FollowGraph();
    const cache = new StatusRecipients(graph, connected);
    let most = 0;
    let wrong = 0;
    for (let author = 1; author <= 2 ** 17 + 1000; author++) {
      graph.follow(5, author);
      const found = cache.of(author);
      if (found.length !== 1 || found[0] !== 5) wrong++;
      most = Math.max(most, cache.usedSlots);
    }
    expect(wrong).toBe(0);
    expect(most).toBe(2 ** 18);
    expect(cache.usedSlots).toBeLessThan(2 ** 18);
    // Entries from before the start over are computed again, and right.
    expect(cache.of(1)).toEqual([5]);
  });
});

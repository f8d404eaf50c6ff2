import { describe, expect, it } from '@jest/globals';
import { FollowGraph } from '../lib/core/index.js';

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

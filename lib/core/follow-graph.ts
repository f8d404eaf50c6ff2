/**
 * Who follows whom (SPEC 3). Following is a set: following twice then unfollowing once
 * leaves no edge. The graph is kept whether or not the users are connected.
 *
 * Invariant: only users with at least one follower have an entry, and each entry is a
 * `FollowerSet` in its most compact form, so memory follows the live edges (it holds
 * millions of them) and unfollowing everything gives it all back.
 */
import type { UserId } from './events.js';
import { FollowerSet, type Followers } from './follower-set.js';

const NO_FOLLOWERS: Followers = new FollowerSet();

export class FollowGraph {
  readonly #followers = new Map<UserId, FollowerSet>();
  #edgeCount = 0;

  /** Number of follow edges. */
  get edgeCount(): number {
    return this.#edgeCount;
  }

  /** `follower` now follows `followee`; a no-op when it already does. */
  follow(follower: UserId, followee: UserId): void {
    let followers = this.#followers.get(followee);
    if (followers === undefined) {
      followers = new FollowerSet();
      this.#followers.set(followee, followers);
    }
    if (followers.add(follower)) this.#edgeCount++;
  }

  /** `follower` no longer follows `followee`; a no-op when it did not. */
  unfollow(follower: UserId, followee: UserId): void {
    const followers = this.#followers.get(followee);
    if (followers === undefined || !followers.delete(follower)) return;
    this.#edgeCount--;
    if (followers.size === 0) this.#followers.delete(followee);
  }

  /** The current followers of `user` (a live view: do not hold it across updates). */
  followersOf(user: UserId): Followers {
    return this.#followers.get(user) ?? NO_FOLLOWERS;
  }

  /** Whether `follower` currently follows `followee`. */
  isFollowing(follower: UserId, followee: UserId): boolean {
    return this.#followers.get(followee)?.has(follower) ?? false;
  }

  /** Removes every edge. */
  clear(): void {
    this.#followers.clear();
    this.#edgeCount = 0;
  }
}

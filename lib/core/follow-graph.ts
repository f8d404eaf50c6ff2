/**
 * Who follows whom (SPEC 3). Following is a set: following twice then unfollowing once
 * leaves no edge. The graph is kept whether or not the users are connected.
 *
 * Invariant: only users with at least one follower have an entry, so memory is one
 * small-integer set entry per live edge (it holds millions of them) and unfollowing
 * everything gives all memory back.
 */
import type { UserId } from './events.js';

const NO_FOLLOWERS: ReadonlySet<UserId> = new Set();

export class FollowGraph {
  readonly #followers = new Map<UserId, Set<UserId>>();
  #edgeCount = 0;

  /** Number of follow edges. */
  get edgeCount(): number {
    return this.#edgeCount;
  }

  /** `follower` now follows `followee`; a no-op when it already does. */
  follow(follower: UserId, followee: UserId): void {
    let followers = this.#followers.get(followee);
    if (followers === undefined) {
      followers = new Set();
      this.#followers.set(followee, followers);
    }
    const before = followers.size;
    followers.add(follower);
    this.#edgeCount += followers.size - before;
  }

  /** `follower` no longer follows `followee`; a no-op when it did not. */
  unfollow(follower: UserId, followee: UserId): void {
    const followers = this.#followers.get(followee);
    if (followers === undefined || !followers.delete(follower)) return;
    this.#edgeCount--;
    if (followers.size === 0) this.#followers.delete(followee);
  }

  /** The current followers of `user` (a live view: do not hold it across updates). */
  followersOf(user: UserId): ReadonlySet<UserId> {
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

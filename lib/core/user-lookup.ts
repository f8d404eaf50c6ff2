/**
 * What routing needs to know about a set of users (the connected ones, see `ConnectedUsers`):
 * membership, a list, and a bitset view of the small ids.
 *
 * Invariant: `bitset()` has bit `u` set for every user `u <= MAX_DENSE_ID` in the lookup and
 * for no other, so a follower bitset (see `FollowGraph`) can be ANDed with it word by word.
 */
import type { UserId } from './events.js';

/**
 * Largest user id a bitset may index: 2^24 bits is 2 MiB, and a user with that many
 * small-id followers already holds far more than that in edges.
 */
export const MAX_DENSE_ID = 2 ** 24 - 1;

/** Whatever can say which of a list of users are connected (see `ConnectedUsers`). */
export interface UserLookup {
  has(user: UserId): boolean;
  readonly size: number;
  list(): readonly UserId[];
  /** Bit `u` is set for every user `u <= MAX_DENSE_ID` in the lookup (a live view). */
  bitset(): Uint32Array;
}

/** Whether bit `user` is set; ids beyond the bitset are not in it (which also keeps `>>>` exact). */
export function hasBit(words: Uint32Array, user: UserId): boolean {
  return user < words.length * 32 && ((words[user >>> 5] as number) & (1 << (user & 31))) !== 0;
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
export function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/**
 * The followers of one user, stored in whichever form is smaller (SPEC 3: the graph
 * holds millions of edges).
 *
 * - Sparse: a `Set` of user ids, about `SET_BYTES_PER_ENTRY` bytes per follower. Any id works.
 * - Dense: a bitset indexed by user id, one bit per possible id up to the largest follower.
 *   When ids are small and followers many (1,000 users following each other: 125 bytes
 *   instead of ~20 KB), it is far smaller, and a membership test is one array load.
 *
 * Invariants: `size` is the number of followers in either form. It turns dense when the
 * bitset would cost no more than the set, and back to sparse when the bitset costs more than
 * `DEMOTE_RATIO` times the set, so a set never flips back and forth on every change.
 */
import type { UserId } from './events.js';

/** What one entry of a `Set<number>` costs on V8, measured (27.5 bytes at 750k entries). */
const SET_BYTES_PER_ENTRY = 28;
/** A sparse set is considered for the dense form from this size on (then at each power of two). */
const MIN_DENSE_SIZE = 8;
/** Largest user id a bitset may index: 2^24 bits is 2 MiB, beyond that a set is better. */
export const MAX_DENSE_ID = 2 ** 24 - 1;
/** A dense set goes back to sparse once its bitset costs this many times the set. */
const DEMOTE_RATIO = 4;

/** Whatever can say which of a list of users are connected (see `ConnectedUsers`). */
export interface UserLookup {
  has(user: UserId): boolean;
  readonly size: number;
  list(): readonly UserId[];
  /** Bit `u` is set for every user `u <= MAX_DENSE_ID` in the lookup (a live view). */
  bitset(): Uint32Array;
}

/** Read-only view of one user's followers. */
export interface Followers extends Iterable<UserId> {
  readonly size: number;
  has(user: UserId): boolean;
  /** The followers that are in `users`, each once. */
  among(users: UserLookup): UserId[];
}

export class FollowerSet implements Followers {
  #sparse: Set<UserId> | undefined = new Set();
  #dense: Uint32Array | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  has(user: UserId): boolean {
    return this.#dense === undefined
      ? (this.#sparse as Set<UserId>).has(user)
      : hasBit(this.#dense, user);
  }

  /** Adds `user`; returns whether it was new. */
  add(user: UserId): boolean {
    if (this.#dense !== undefined) {
      if (user >= this.#dense.length * 32 && !this.#growDense(user)) return this.add(user);
      const words = this.#dense;
      const mask = 1 << (user & 31);
      const at = user >>> 5;
      if ((words[at] as number) & mask) return false;
      words[at] = (words[at] as number) | mask;
      this.#size++;
      return true;
    }
    const sparse = this.#sparse as Set<UserId>;
    if (sparse.has(user)) return false;
    sparse.add(user);
    this.#size++;
    if (this.#size >= MIN_DENSE_SIZE && (this.#size & (this.#size - 1)) === 0) this.#maybeDense();
    return true;
  }

  /** Removes `user`; returns whether it was there. */
  delete(user: UserId): boolean {
    if (this.#dense === undefined) {
      if (!(this.#sparse as Set<UserId>).delete(user)) return false;
      this.#size--;
      return true;
    }
    if (!hasBit(this.#dense, user)) return false;
    const at = user >>> 5;
    this.#dense[at] = (this.#dense[at] as number) & ~(1 << (user & 31));
    this.#size--;
    if (this.#dense.byteLength > DEMOTE_RATIO * SET_BYTES_PER_ENTRY * this.#size) this.#toSparse();
    return true;
  }

  among(users: UserLookup): UserId[] {
    const found: UserId[] = [];
    if (this.#size === 0 || users.size === 0) return found;
    if (this.#dense !== undefined) {
      // Every dense follower id is <= MAX_DENSE_ID, so the users' bitset covers them all:
      // one AND per 32 users instead of one probe per user.
      const followers = this.#dense;
      const present = users.bitset();
      const words = Math.min(followers.length, present.length);
      for (let at = 0; at < words; at++) {
        for (
          let both = (followers[at] as number) & (present[at] as number);
          both !== 0;
          both &= both - 1
        ) {
          found.push(at * 32 + lowestBit(both));
        }
      }
    } else if (this.#size <= users.size) {
      // Walk the smaller side: min(followers, users) lookups, not the sum.
      for (const user of this.#sparse as Set<UserId>) if (users.has(user)) found.push(user);
    } else {
      const sparse = this.#sparse as Set<UserId>;
      for (const user of users.list()) if (sparse.has(user)) found.push(user);
    }
    return found;
  }

  *[Symbol.iterator](): IterableIterator<UserId> {
    if (this.#dense === undefined) {
      yield* this.#sparse as Set<UserId>;
      return;
    }
    const words = this.#dense;
    for (let at = 0; at < words.length; at++) {
      for (let word = words[at] as number; word !== 0; word &= word - 1) {
        yield at * 32 + lowestBit(word);
      }
    }
  }

  #maybeDense(): void {
    let largest = 0;
    for (const user of this.#sparse as Set<UserId>) if (user > largest) largest = user;
    if (largest > MAX_DENSE_ID || bitsetBytes(largest) > SET_BYTES_PER_ENTRY * this.#size) return;
    const words = new Uint32Array(bitsetBytes(largest) / 4);
    for (const user of this.#sparse as Set<UserId>) {
      words[user >>> 5] = (words[user >>> 5] as number) | (1 << (user & 31));
    }
    this.#dense = words;
    this.#sparse = undefined;
  }

  // Makes room for `user` in the bitset, or returns false after switching to sparse
  // because a bitset reaching that far would cost more than the set.
  #growDense(user: UserId): boolean {
    const bytes = Math.max(bitsetBytes(user), (this.#dense as Uint32Array).byteLength * 2);
    if (user > MAX_DENSE_ID || bytes > DEMOTE_RATIO * SET_BYTES_PER_ENTRY * (this.#size + 1)) {
      this.#toSparse();
      return false;
    }
    const words = new Uint32Array(bytes / 4);
    words.set(this.#dense as Uint32Array);
    this.#dense = words;
    return true;
  }

  #toSparse(): void {
    this.#sparse = new Set(this);
    this.#dense = undefined;
  }
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Bytes of a bitset that can hold ids `0..=largest`, rounded up to whole 32-bit words. */
function bitsetBytes(largest: UserId): number {
  return (Math.floor(largest / 32) + 1) * 4;
}

/** Whether bit `user` is set; ids beyond the bitset are not in it (which also keeps `>>>` exact). */
export function hasBit(words: Uint32Array, user: UserId): boolean {
  return user < words.length * 32 && ((words[user >>> 5] as number) & (1 << (user & 31))) !== 0;
}

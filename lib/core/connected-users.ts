/**
 * Which users have at least one client connection right now (docs/protocol.md §5: several connections
 * may identify as the same user; each one counts).
 *
 * Invariants:
 * - `list()` returns a snapshot that is replaced, never changed, when a user comes or goes,
 *   so a broadcast can hand the same array to every caller without copying it, and an array
 *   held across a change stays a valid picture of the moment it was taken.
 * - `bitset()` has the bit of every connected user with an id up to `MAX_DENSE_ID`, so
 *   membership is one array load and a status update can AND it with a follower bitset.
 * - `version` changes whenever a user comes or goes (never for a second connection of a
 *   user), so what was computed from the set can be kept until it does.
 * - Connection counts live in an `IdTable`, not a `Map`: the adapter bounds connections,
 *   but no V8 collection limit (2^24 entries) should depend on that bound.
 */
import { ErrorCode, MazeError } from '../errors.js';
import type { UserId } from './events.js';
import { IdTable } from './id-table.js';
import { hasBit, MAX_DENSE_ID, type UserLookup } from './user-lookup.js';

/** The users that currently have at least one connection, with how many each. */
export class ConnectedUsers implements UserLookup {
  readonly #connections = new IdTable();
  #list: readonly UserId[] | undefined;
  #bits = new Uint32Array(0);
  #version = 0;

  /** Builds a set of users with one connection each (handy in tests and tools). */
  static of(users: Iterable<UserId>): ConnectedUsers {
    const connected = new ConnectedUsers();
    for (const user of users) connected.connect(user);
    return connected;
  }

  /** Distinct connected users. */
  get size(): number {
    return this.#connections.size;
  }

  has(user: UserId): boolean {
    return user <= MAX_DENSE_ID ? hasBit(this.#bits, user) : this.#connections.get(user) !== -1;
  }

  /** Changes whenever a user comes or goes (see the invariants). */
  get version(): number {
    return this.#version;
  }

  bitset(): Uint32Array {
    return this.#bits;
  }

  /** Connections of `user` (0 when none). */
  connectionsOf(user: UserId): number {
    return Math.max(0, this.#connections.get(user));
  }

  /** The connected users, each once (a snapshot; see the invariant above). */
  list(): readonly UserId[] {
    this.#list ??= Object.freeze(this.#connections.keys());
    return this.#list;
  }

  /** Counts one more connection for `user`. */
  connect(user: UserId): void {
    const count = Math.max(0, this.#connections.get(user));
    this.#connections.set(user, count + 1);
    if (count !== 0) return;
    this.#version++;
    this.#list = undefined;
    if (user <= MAX_DENSE_ID) this.#setBit(user);
  }

  /** Counts one connection less for `user`. Throws `ERR_INVALID_STATE` if it has none. */
  disconnect(user: UserId): void {
    const count = this.#connections.get(user);
    if (count === -1) {
      throw new MazeError(ErrorCode.InvalidState, `user ${user} has no connection to remove`);
    }
    if (count > 1) {
      this.#connections.set(user, count - 1);
      return;
    }
    this.#connections.delete(user);
    this.#version++;
    this.#list = undefined;
    if (user <= MAX_DENSE_ID) {
      this.#bits[user >>> 5] = (this.#bits[user >>> 5] as number) & ~(1 << (user & 31));
    }
  }

  #setBit(user: UserId): void {
    const at = user >>> 5;
    if (at >= this.#bits.length) {
      const grown = new Uint32Array(Math.max(at + 1, this.#bits.length * 2));
      grown.set(this.#bits);
      this.#bits = grown;
    }
    this.#bits[at] = (this.#bits[at] as number) | (1 << (user & 31));
  }
}

/**
 * Who follows whom (docs/protocol.md §3, 10). Following is a set: following twice then unfollowing once
 * leaves no edge. The graph is kept whether or not the users are connected, up to a bound.
 *
 * Layout: typed arrays only, so no V8 collection limit is reachable and nothing is allocated
 * per edge. Followees map through an `IdTable` to node numbers; follower lists live in one
 * open-addressing edge table (16 bytes a slot, chained per list); a node with many small-id
 * followers keeps them in a bitset instead, ANDed with the connected users' bitset to route
 * a status update. The layout, the conversion rules between list and bitset and the proof
 * that they cost O(1) amortized per event whatever the input order are in
 * docs/development.md#the-follow-graph. `maintenanceWork` counts the conversion and rebuild
 * work so tests can check that bound.
 *
 * Invariants: `edgeCount <= maxEdges`; a followee has a node iff it has a follower; a node's
 * small-id followers are either all in its bitset (its small-id list is then empty) or all
 * in the table and its small-id list.
 */

import { checkOptionValue } from '../options/option.js';
import type { UserId } from './events.js';
import { capacityFor, hashId, IdTable, randomSalt } from './id-table.js';
import { CORE_OPTIONS } from './options.js';
import { hasBit, lowestBit, MAX_DENSE_ID, type UserLookup } from './user-lookup.js';

/** What `follow()` did. */
export const FollowOutcome = {
  /** The edge is new. */
  Added: 'added',
  /** The edge was already there; nothing changed. */
  Present: 'present',
  /** The edge is new but the graph holds `maxEdges` already; nothing changed. */
  Refused: 'refused',
} as const;

export type FollowOutcome = (typeof FollowOutcome)[keyof typeof FollowOutcome];

export interface FollowGraphOptions {
  /** Most edges the graph holds; a new follow beyond is refused. Default 2^23. */
  readonly maxEdges?: number;
}

/** Read-only view of one user's followers (live: do not hold it across updates). */
export interface Followers extends Iterable<UserId> {
  readonly size: number;
  has(user: UserId): boolean;
  /** The followers that are in `users`, each once. */
  among(users: UserLookup): UserId[];
}

const NONE = -1;
const EMPTY = -1;
const TOMBSTONE = -2;
/** A deleted edge-table slot still linked in its list (see the header). */
const DEAD = -3;
const MIN_EDGE_CAPACITY = 16;
const MIN_NODE_CAPACITY = 16;
/**
 * Node arrays grow by half (not double) and are rebuilt half again as large as needed: at
 * 20 bytes a node, when every edge has its own followee, this is a third of the graph.
 */
const NODE_GROWTH = 1.5;
/** Small-id followers a node needs before its first bitset attempt. */
const MIN_DENSE_FOLLOWERS = 16;
/** A bitset is built or grown only up to this many 32-bit words per small-id follower (8 bytes). */
const DENSE_WORDS_PER_FOLLOWER = 2;
/** A bitset goes back to the list once it has more words than this per small-id follower. */
const SPARSE_WORDS_PER_FOLLOWER = 8;
/** A follow graph to read: what `MazeCore.graph` hands out, so that only events change it. */
export type FollowGraphView = Omit<FollowGraph, 'follow' | 'unfollow' | 'clear'>;

/** Largest retry mark: keeps the negative encoding in an int32. */
const MAX_RETRY_MARK = 2 ** 30;

export class FollowGraph {
  readonly #maxEdges: number;
  readonly #salt = randomSalt();
  readonly #followees = new IdTable();
  // Per node. `#dense` is a bitset slot (>= 0) or minus the retry mark (< 0).
  #lowHead = new Int32Array(MIN_NODE_CAPACITY);
  #highHead = new Int32Array(MIN_NODE_CAPACITY);
  #lowCount = new Int32Array(MIN_NODE_CAPACITY);
  #highCount = new Int32Array(MIN_NODE_CAPACITY);
  #dense = new Int32Array(MIN_NODE_CAPACITY);
  #nodeTop = 0;
  #freeNode = NONE;
  #bitsets: (Uint32Array | undefined)[] = [];
  #freeBitsets: number[] = [];
  // Per edge-table slot.
  #follower = new Float64Array(MIN_EDGE_CAPACITY);
  #node = new Int32Array(MIN_EDGE_CAPACITY).fill(EMPTY);
  #next = new Int32Array(MIN_EDGE_CAPACITY);
  #tableMask = MIN_EDGE_CAPACITY - 1;
  #tableUsed = 0;
  #tableCount = 0;
  #edgeCount = 0;
  #work = 0;

  /** Throws `ERR_INVALID_OPTION` when `maxEdges` is not an integer in `1 ..= 2^27`. */
  constructor(options: FollowGraphOptions = {}) {
    const row = CORE_OPTIONS.maxFollowEdges;
    this.#maxEdges = checkOptionValue(row, options.maxEdges ?? row.default, 'maxFollowEdges');
  }

  /** Number of follow edges. */
  get edgeCount(): number {
    return this.#edgeCount;
  }

  /** Most edges the graph holds. */
  get maxEdges(): number {
    return this.#maxEdges;
  }

  /** Bytes held by the graph's arrays (what `scripts/graph-memory.mjs` compares with RSS). */
  get bytes(): number {
    let bytes =
      this.#followees.capacity * 12 +
      this.#lowHead.length * 20 +
      this.#follower.length * 16 +
      this.#bitsets.length * 8;
    for (const bits of this.#bitsets) bytes += bits === undefined ? 0 : bits.byteLength;
    return bytes;
  }

  /**
   * Slots, words and followers visited by rebuilds and bitset conversions so far: the work
   * the amortization argument in the header bounds (tests compare it with the events).
   */
  get maintenanceWork(): number {
    return this.#work + this.#followees.work;
  }

  /** `follower` now follows `followee`, unless it already does or the graph is full. */
  follow(follower: UserId, followee: UserId): FollowOutcome {
    let node = this.#followees.get(followee);
    if (node !== NONE && this.#has(node, follower)) return FollowOutcome.Present;
    if (this.#edgeCount >= this.#maxEdges) return FollowOutcome.Refused;
    this.#edgeCount++;
    const low = follower <= MAX_DENSE_ID;
    if (node !== NONE && low && (this.#dense[node] as number) >= 0) {
      if (this.#addToBitset(node, follower)) return FollowOutcome.Added;
      node = this.#toList(followee, node, 1);
    } else node = this.#reserve(followee, node, 1);
    if (node === NONE) {
      node = this.#newNode();
      this.#followees.set(followee, node);
    }
    this.#insert(node, follower);
    if (!low) this.#highCount[node] = (this.#highCount[node] as number) + 1;
    else {
      const count = (this.#lowCount[node] as number) + 1;
      this.#lowCount[node] = count;
      if (count >= -(this.#dense[node] as number)) this.#toBitset(node, count);
    }
    return FollowOutcome.Added;
  }

  /** `follower` no longer follows `followee`; returns false (a no-op) when it did not. */
  unfollow(follower: UserId, followee: UserId): boolean {
    const node = this.#followees.get(followee);
    if (node === NONE) return false;
    const low = follower <= MAX_DENSE_ID;
    const ref = this.#dense[node] as number;
    if (low && ref >= 0) {
      const bits = this.#bitsets[ref] as Uint32Array;
      if (!hasBit(bits, follower)) return false;
      bits[follower >>> 5] = (bits[follower >>> 5] as number) & ~(1 << (follower & 31));
      const count = (this.#lowCount[node] as number) - 1;
      this.#lowCount[node] = count;
      this.#edgeCount--;
      if (count + (this.#highCount[node] as number) === 0) this.#freeNodeOf(followee, node);
      else if (bits.length > SPARSE_WORDS_PER_FOLLOWER * count || count < MIN_DENSE_FOLLOWERS / 4) {
        this.#toList(followee, node, 0);
      }
      return true;
    }
    const slot = this.#find(node, follower);
    if (slot === NONE) return false;
    const heads = low ? this.#lowHead : this.#highHead;
    if (heads[node] === slot) {
      heads[node] = this.#next[slot] as number;
      this.#node[slot] = TOMBSTONE;
    } else this.#node[slot] = DEAD;
    this.#tableCount--;
    this.#edgeCount--;
    const counts = low ? this.#lowCount : this.#highCount;
    counts[node] = (counts[node] as number) - 1;
    if ((this.#lowCount[node] as number) + (this.#highCount[node] as number) === 0) {
      this.#freeNodeOf(followee, node);
    }
    if (this.#tableCount < this.#tableCapacity / 8 && this.#tableCapacity > MIN_EDGE_CAPACITY) {
      this.#rebuild(this.#tableCount);
    }
    return true;
  }

  /** The current followers of `user` (a live view: do not hold it across updates). */
  followersOf(user: UserId): Followers {
    // The getter's own `this` is the view.
    const graph = this;
    return {
      get size(): number {
        return graph.#followerCount(user);
      },
      has: (follower) => this.isFollowing(follower, user),
      among: (users) => this.followersAmong(user, users),
      [Symbol.iterator]: () => this.#iterate(user),
    };
  }

  /**
   * The followers of `followee` that are in `users`, each once. Costs about
   * min(followers, users) lookups, or one AND per 32 small ids when the followee has a bitset.
   */
  followersAmong(followee: UserId, users: UserLookup): UserId[] {
    const found: UserId[] = [];
    const node = this.#followees.get(followee);
    if (node === NONE || users.size === 0) return found;
    const high = this.#highCount[node] as number;
    const ref = this.#dense[node] as number;
    if (ref < 0) {
      if ((this.#lowCount[node] as number) + high <= users.size) {
        this.#collect(this.#lowHead, node, users, found);
        this.#collect(this.#highHead, node, users, found);
      } else {
        for (const user of users.list()) if (this.#has(node, user)) found.push(user);
      }
      return found;
    }
    const followers = this.#bitsets[ref] as Uint32Array;
    const present = users.bitset();
    const words = Math.min(followers.length, present.length);
    if (users.size < words) {
      // Fewer users than words: probing each user is cheaper than the AND.
      for (const user of users.list()) if (this.#has(node, user)) found.push(user);
      return found;
    }
    for (let at = 0; at < words; at++) {
      for (
        let both = (followers[at] as number) & (present[at] as number);
        both !== 0;
        both &= both - 1
      ) {
        found.push(at * 32 + lowestBit(both));
      }
    }
    if (high === 0) return found;
    if (high <= users.size) this.#collect(this.#highHead, node, users, found);
    else {
      for (const user of users.list()) {
        if (user > MAX_DENSE_ID && this.#find(node, user) !== NONE) found.push(user);
      }
    }
    return found;
  }

  /** Whether `follower` currently follows `followee`. */
  isFollowing(follower: UserId, followee: UserId): boolean {
    const node = this.#followees.get(followee);
    return node !== NONE && this.#has(node, follower);
  }

  /**
   * Calls `visit` for each followee with all its followers, in no particular order: the whole
   * graph in one pass without an iterator per user (a snapshot of millions of edges).
   * `followers` is reused between calls: copy what you keep. Do not change the graph meanwhile.
   */
  forEachFollowee(visit: (followee: UserId, followers: readonly UserId[]) => void): void {
    const followers: UserId[] = [];
    this.#followees.forEach((followee, node) => {
      followers.length = 0;
      const ref = this.#dense[node] as number;
      if (ref >= 0) {
        const words = this.#bitsets[ref] as Uint32Array;
        for (let at = 0; at < words.length; at++) {
          for (let word = words[at] as number; word !== 0; word &= word - 1) {
            followers.push(at * 32 + lowestBit(word));
          }
        }
      }
      this.#listInto(this.#lowHead[node] as number, followers);
      this.#listInto(this.#highHead[node] as number, followers);
      visit(followee, followers);
    });
  }

  /** How many users have at least one follower. */
  get followeeCount(): number {
    return this.#followees.size;
  }

  /** The users with at least one follower, in no particular order (O(users)). */
  followees(): UserId[] {
    return this.#followees.keys();
  }

  /** Removes every edge and gives the memory back. */
  clear(): void {
    this.#followees.clear();
    this.#resetNodes();
    this.#follower = new Float64Array(MIN_EDGE_CAPACITY);
    this.#node = new Int32Array(MIN_EDGE_CAPACITY).fill(EMPTY);
    this.#next = new Int32Array(MIN_EDGE_CAPACITY);
    this.#tableMask = MIN_EDGE_CAPACITY - 1;
    this.#tableUsed = 0;
    this.#tableCount = 0;
    this.#edgeCount = 0;
  }

  get #tableCapacity(): number {
    return this.#tableMask + 1;
  }

  #followerCount(user: UserId): number {
    const node = this.#followees.get(user);
    return node === NONE ? 0 : (this.#lowCount[node] as number) + (this.#highCount[node] as number);
  }

  *#iterate(user: UserId): IterableIterator<UserId> {
    const node = this.#followees.get(user);
    if (node === NONE) return;
    const ref = this.#dense[node] as number;
    if (ref >= 0) {
      const words = this.#bitsets[ref] as Uint32Array;
      for (let at = 0; at < words.length; at++) {
        for (let word = words[at] as number; word !== 0; word &= word - 1) {
          yield at * 32 + lowestBit(word);
        }
      }
    }
    for (const head of [this.#lowHead[node] as number, this.#highHead[node] as number]) {
      for (let slot = head; slot !== NONE; slot = this.#next[slot] as number) {
        if ((this.#node[slot] as number) !== DEAD) yield this.#follower[slot] as number;
      }
    }
  }

  // Pushes the live followers on one of a node's lists.
  #listInto(head: number, out: UserId[]): void {
    for (let slot = head; slot !== NONE; slot = this.#next[slot] as number) {
      if ((this.#node[slot] as number) !== DEAD) out.push(this.#follower[slot] as number);
    }
  }

  // Pushes the followers on one of the node's lists that are in `users`, cutting out the
  // dead slots it meets.
  #collect(heads: Int32Array, node: number, users: UserLookup, found: UserId[]): void {
    const nodes = this.#node;
    const next = this.#next;
    let before = NONE;
    for (let slot = heads[node] as number; slot !== NONE; slot = next[slot] as number) {
      if (nodes[slot] === DEAD) {
        nodes[slot] = TOMBSTONE;
        if (before === NONE) heads[node] = next[slot] as number;
        else next[before] = next[slot] as number;
        continue;
      }
      before = slot;
      const follower = this.#follower[slot] as number;
      if (users.has(follower)) found.push(follower);
    }
  }

  #has(node: number, follower: UserId): boolean {
    const ref = this.#dense[node] as number;
    if (ref >= 0 && follower <= MAX_DENSE_ID) {
      return hasBit(this.#bitsets[ref] as Uint32Array, follower);
    }
    return this.#find(node, follower) !== NONE;
  }

  // The table slot of edge (node, follower), or NONE.
  #find(node: number, follower: UserId): number {
    const nodes = this.#node;
    const followers = this.#follower;
    const mask = this.#tableMask;
    for (let slot = hashId(follower, node, this.#salt) & mask; ; slot = (slot + 1) & mask) {
      const at = nodes[slot] as number;
      if (at === EMPTY) return NONE;
      if (at === node && followers[slot] === follower) return slot;
    }
  }

  // Makes room in the table for `entries` more; returns the followee's node, which a rebuild
  // renumbers (NONE when it has none).
  #reserve(followee: UserId, node: number, entries: number): number {
    if (this.#tableUsed + entries <= (this.#tableCapacity * 3) / 4) return node;
    this.#rebuild(this.#tableCount + entries);
    return this.#followees.get(followee);
  }

  // Puts an absent edge in the table and at the head of its list (counts are the caller's).
  #insert(node: number, follower: UserId): void {
    const nodes = this.#node;
    const mask = this.#tableMask;
    let slot = hashId(follower, node, this.#salt) & mask;
    // The edge is absent, so the first tombstone on its probe path is as good as the empty slot.
    while ((nodes[slot] as number) >= 0 || nodes[slot] === DEAD) slot = (slot + 1) & mask;
    if (nodes[slot] === EMPTY) this.#tableUsed++;
    this.#tableCount++;
    nodes[slot] = node;
    this.#follower[slot] = follower;
    const heads = follower <= MAX_DENSE_ID ? this.#lowHead : this.#highHead;
    const head = heads[node] as number;
    this.#next[slot] = head;
    heads[node] = slot;
  }

  // Sets a new small-id follower's bit, doubling the bitset if the rule allows; returns false
  // (nothing changed) when it does not.
  #addToBitset(node: number, follower: UserId): boolean {
    const ref = this.#dense[node] as number;
    const count = (this.#lowCount[node] as number) + 1;
    let bits = this.#bitsets[ref] as Uint32Array;
    if (follower >= bits.length * 32) {
      const words = wordsFor(follower);
      if (words > DENSE_WORDS_PER_FOLLOWER * count) return false;
      const grown = new Uint32Array(words);
      grown.set(bits);
      this.#work += words;
      this.#bitsets[ref] = grown;
      bits = grown;
    }
    bits[follower >>> 5] = (bits[follower >>> 5] as number) | (1 << (follower & 31));
    this.#lowCount[node] = count;
    return true;
  }

  // Moves a node's small-id followers from its list into a new bitset, if the rule allows.
  #toBitset(node: number, count: number): void {
    const nodes = this.#node;
    const next = this.#next;
    const head = this.#lowHead[node] as number;
    let largest = 0;
    let walked = 0;
    for (let slot = head; slot !== NONE; slot = next[slot] as number) {
      if (nodes[slot] !== DEAD) largest = Math.max(largest, this.#follower[slot] as number);
      walked++;
    }
    this.#work += walked;
    const words = wordsFor(largest);
    if (words > DENSE_WORDS_PER_FOLLOWER * count) {
      this.#dense[node] = -retryMark(count);
      return;
    }
    const bits = new Uint32Array(words);
    for (let slot = head; slot !== NONE; slot = next[slot] as number) {
      if (nodes[slot] !== DEAD) {
        const follower = this.#follower[slot] as number;
        bits[follower >>> 5] = (bits[follower >>> 5] as number) | (1 << (follower & 31));
      }
      nodes[slot] = TOMBSTONE;
    }
    this.#tableCount -= count;
    this.#lowHead[node] = NONE;
    this.#work += walked + words;
    const ref = this.#freeBitsets.pop() ?? this.#bitsets.length;
    this.#bitsets[ref] = bits;
    this.#dense[node] = ref;
    // Tombstones count as used until the next rebuild, which the next insert or delete may
    // start; a table left mostly empty shrinks at once.
    if (this.#tableCount < this.#tableCapacity / 8 && this.#tableCapacity > MIN_EDGE_CAPACITY) {
      this.#rebuild(this.#tableCount);
    }
  }

  // Moves a node's small-id followers from its bitset back into the table and its list,
  // with room for `extra` more entries; returns the node's (possibly renumbered) number.
  #toList(followee: UserId, node: number, extra: number): number {
    const count = this.#lowCount[node] as number;
    const renumbered = this.#reserve(followee, node, count + extra);
    const ref = this.#dense[renumbered] as number;
    const words = this.#bitsets[ref] as Uint32Array;
    this.#releaseBitset(renumbered, count);
    for (let at = 0; at < words.length; at++) {
      for (let word = words[at] as number; word !== 0; word &= word - 1) {
        this.#insert(renumbered, at * 32 + lowestBit(word));
      }
    }
    this.#work += count + words.length;
    return renumbered;
  }

  #releaseBitset(node: number, count: number): void {
    const ref = this.#dense[node] as number;
    this.#bitsets[ref] = undefined;
    this.#freeBitsets.push(ref);
    this.#dense[node] = -retryMark(count);
  }

  #newNode(): number {
    let node = this.#freeNode;
    if (node !== NONE) this.#freeNode = this.#lowHead[node] as number;
    else {
      if (this.#nodeTop === this.#lowHead.length) {
        this.#growNodes(Math.ceil(this.#lowHead.length * NODE_GROWTH));
      }
      node = this.#nodeTop++;
    }
    this.#lowHead[node] = NONE;
    this.#highHead[node] = NONE;
    this.#lowCount[node] = 0;
    this.#highCount[node] = 0;
    this.#dense[node] = -MIN_DENSE_FOLLOWERS;
    return node;
  }

  #freeNodeOf(followee: UserId, node: number): void {
    this.#followees.delete(followee);
    if ((this.#dense[node] as number) >= 0) this.#releaseBitset(node, 0);
    if (this.#followees.size === 0) {
      this.#resetNodes();
      return;
    }
    this.#lowHead[node] = this.#freeNode;
    this.#freeNode = node;
  }

  #resetNodes(): void {
    this.#lowHead = new Int32Array(MIN_NODE_CAPACITY);
    this.#highHead = new Int32Array(MIN_NODE_CAPACITY);
    this.#lowCount = new Int32Array(MIN_NODE_CAPACITY);
    this.#highCount = new Int32Array(MIN_NODE_CAPACITY);
    this.#dense = new Int32Array(MIN_NODE_CAPACITY);
    this.#nodeTop = 0;
    this.#freeNode = NONE;
    this.#bitsets = [];
    this.#freeBitsets = [];
  }

  // Grows the node arrays (amortized by the nodes added since the last resize).
  #growNodes(capacity: number): void {
    const copy = (from: Int32Array) => {
      const to = new Int32Array(capacity);
      to.set(from);
      return to;
    };
    this.#work += capacity;
    this.#lowHead = copy(this.#lowHead);
    this.#highHead = copy(this.#highHead);
    this.#lowCount = copy(this.#lowCount);
    this.#highCount = copy(this.#highCount);
    this.#dense = copy(this.#dense);
  }

  // Moves every table entry into a table sized for `entries` at load <= 1/2, renumbering the
  // nodes 0..followees-1 on the way (so freed nodes are given back too). The node arrays are
  // at most 1.5 times the most followees held since the last rebuild, and a followee has an
  // edge, so this is O(old capacity) too.
  #rebuild(entries: number): void {
    const capacity = capacityFor(entries, MIN_EDGE_CAPACITY);
    const mask = capacity - 1;
    const follower = new Float64Array(capacity);
    const nodes = new Int32Array(capacity).fill(EMPTY);
    const next = new Int32Array(capacity);
    const nodeCapacity = Math.max(MIN_NODE_CAPACITY, Math.ceil(this.#followees.size * NODE_GROWTH));
    const lowHead = new Int32Array(nodeCapacity);
    const highHead = new Int32Array(nodeCapacity);
    const lowCount = new Int32Array(nodeCapacity);
    const highCount = new Int32Array(nodeCapacity);
    const dense = new Int32Array(nodeCapacity);
    const oldFollower = this.#follower;
    const oldNodes = this.#node;
    const oldNext = this.#next;
    const salt = this.#salt;
    // Re-links one list in its order under the node's new number; returns the new head.
    const move = (from: number, node: number): number => {
      let head = NONE;
      let tail = NONE;
      for (let old = from; old !== NONE; old = oldNext[old] as number) {
        if (oldNodes[old] === DEAD) continue;
        const id = oldFollower[old] as number;
        let slot = hashId(id, node, salt) & mask;
        while ((nodes[slot] as number) !== EMPTY) slot = (slot + 1) & mask;
        nodes[slot] = node;
        follower[slot] = id;
        next[slot] = NONE;
        if (tail === NONE) head = slot;
        else next[tail] = slot;
        tail = slot;
      }
      return head;
    };
    let renumbered = 0;
    this.#followees.remap((_followee, old) => {
      const node = renumbered++;
      lowHead[node] = move(this.#lowHead[old] as number, node);
      highHead[node] = move(this.#highHead[old] as number, node);
      lowCount[node] = this.#lowCount[old] as number;
      highCount[node] = this.#highCount[old] as number;
      dense[node] = this.#dense[old] as number;
      return node;
    });
    this.#work += this.#follower.length + capacity + this.#lowHead.length;
    this.#follower = follower;
    this.#node = nodes;
    this.#next = next;
    this.#tableMask = mask;
    this.#tableUsed = this.#tableCount;
    this.#lowHead = lowHead;
    this.#highHead = highHead;
    this.#lowCount = lowCount;
    this.#highCount = highCount;
    this.#dense = dense;
    this.#nodeTop = renumbered;
    this.#freeNode = NONE;
  }
}

/** Words of the smallest power-of-two bitset holding bit `largest`. */
function wordsFor(largest: UserId): number {
  let words = 1;
  while (words * 32 <= largest) words *= 2;
  return words;
}

/** The count a node's small-id followers must reach before the next bitset attempt. */
function retryMark(count: number): number {
  return Math.min(MAX_RETRY_MARK, Math.max(MIN_DENSE_FOLLOWERS, 2 * count));
}

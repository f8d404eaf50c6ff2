/**
 * A hash map from user id (`0 ..= 2^53 - 1`) to a non-negative int32, on typed arrays: 12 bytes
 * a slot, no per-entry object, and no V8 collection limit (a `Map` stops at 2^24 entries).
 *
 * Invariants:
 * - Open addressing with linear probing; `capacity` is a power of two, at least
 *   `MIN_TABLE_CAPACITY`. A slot is empty, live, or a tombstone (a deleted entry, skipped by
 *   lookups and reused by inserts).
 * - Live entries plus tombstones stay at most 3/4 of the capacity, so every probe ends at an
 *   empty slot after a few steps on average.
 * - A rebuild moves the live entries into a table of the smallest capacity holding them at
 *   load 1/2 at most. It runs before an insert would pass 3/4 and after a delete leaves fewer
 *   than 1/8 live. Amortized O(1): a rebuild leaves used <= capacity/2, so the next growth
 *   comes after at least capacity/4 inserts and the next shrink after at least capacity/8
 *   deletes (or capacity/4 for a table that just grew), each paying for the O(capacity) move.
 * - The hash is salted per table (`hashId`, salt from `Math.random()`), so ids chosen to
 *   collide in one table do not collide in another and long probe runs cannot be planned
 *   from the protocol alone (a hash-flooding defence, not a cryptographic one).
 */

const EMPTY = -1;
const TOMBSTONE = -2;
/** Smallest table: 16 slots is 192 bytes. */
export const MIN_TABLE_CAPACITY = 16;

/** A fresh random 32-bit salt for `hashId`. */
export function randomSalt(): number {
  return (Math.random() * 2 ** 32) | 0;
}

/**
 * A 32-bit hash of `id` (an integer `0 ..= 2^53 - 1`) and `extra` (any int32, e.g. a node
 * index), salted. The salted low half, the high half and `extra` enter one after the other,
 * each followed by a multiply and an xor-shift (the steps of MurmurHash3's finalizer), so
 * ids that differ only above bit 32 do not collide and no input can cancel another without
 * knowing the salt. One multiply per input instead of the full finalizer's two: a lookup is
 * on the path of every event.
 */
export function hashId(id: number, extra: number, salt: number): number {
  const low = id >>> 0;
  const high = (id - low) / 2 ** 32;
  let h = Math.imul(low ^ salt, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15) ^ high, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 13) ^ extra, 0xc2b2ae3d);
  return h ^ (h >>> 16);
}

/** Smallest power-of-two capacity (at least `minimum`) that holds `entries` at load 1/2. */
export function capacityFor(entries: number, minimum: number): number {
  let capacity = minimum;
  while (capacity < entries * 2) capacity *= 2;
  return capacity;
}

export class IdTable {
  #keys: Float64Array;
  #values: Int32Array;
  #mask: number;
  #live = 0;
  #used = 0;
  #work = 0;
  readonly #salt: number;

  constructor(salt: number = randomSalt()) {
    this.#salt = salt;
    this.#keys = new Float64Array(MIN_TABLE_CAPACITY);
    this.#values = new Int32Array(MIN_TABLE_CAPACITY).fill(EMPTY);
    this.#mask = MIN_TABLE_CAPACITY - 1;
  }

  /** Live entries. */
  get size(): number {
    return this.#live;
  }

  /** Slots allocated (12 bytes each). */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** Slots visited by rebuilds and `remap()` so far: the cost the amortization bounds. */
  get work(): number {
    return this.#work;
  }

  /** The value of `id`, or -1 when absent. */
  get(id: number): number {
    const keys = this.#keys;
    const values = this.#values;
    for (let slot = hashId(id, 0, this.#salt) & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const value = values[slot] as number;
      if (value === EMPTY) return -1;
      if (value !== TOMBSTONE && keys[slot] === id) return value;
    }
  }

  /** Sets the value of `id` (a non-negative int32), adding the entry if needed. */
  set(id: number, value: number): void {
    if (this.#used + 1 > (this.capacity * 3) / 4) this.#rebuild(this.#live + 1);
    const keys = this.#keys;
    const values = this.#values;
    let reusable = -1;
    for (let slot = hashId(id, 0, this.#salt) & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const current = values[slot] as number;
      if (current === EMPTY) {
        if (reusable === -1) {
          reusable = slot;
          this.#used++;
        }
        break;
      }
      if (current === TOMBSTONE) {
        if (reusable === -1) reusable = slot;
      } else if (keys[slot] === id) {
        values[slot] = value;
        return;
      }
    }
    keys[reusable] = id;
    values[reusable] = value;
    this.#live++;
  }

  /** Removes `id`; returns its value, or -1 when it was absent. */
  delete(id: number): number {
    const keys = this.#keys;
    const values = this.#values;
    for (let slot = hashId(id, 0, this.#salt) & this.#mask; ; slot = (slot + 1) & this.#mask) {
      const value = values[slot] as number;
      if (value === EMPTY) return -1;
      if (value !== TOMBSTONE && keys[slot] === id) {
        values[slot] = TOMBSTONE;
        this.#live--;
        if (this.#live < this.capacity / 8 && this.capacity > MIN_TABLE_CAPACITY) {
          this.#rebuild(this.#live);
        }
        return value;
      }
    }
  }

  /** Replaces every value with `next(id, value)` (a non-negative int32), in O(capacity). */
  remap(next: (id: number, value: number) => number): void {
    const keys = this.#keys;
    const values = this.#values;
    for (let slot = 0; slot < values.length; slot++) {
      const value = values[slot] as number;
      if (value >= 0) values[slot] = next(keys[slot] as number, value);
    }
    this.#work += values.length;
  }

  /** Calls `visit` for each entry, in table order (O(capacity)); do not change the table meanwhile. */
  forEach(visit: (id: number, value: number) => void): void {
    const keys = this.#keys;
    const values = this.#values;
    for (let slot = 0; slot < values.length; slot++) {
      const value = values[slot] as number;
      if (value >= 0) visit(keys[slot] as number, value);
    }
  }

  /** The ids, in table order (O(capacity)). */
  keys(): number[] {
    const keys: number[] = [];
    for (let slot = 0; slot < this.#values.length; slot++) {
      if ((this.#values[slot] as number) >= 0) keys.push(this.#keys[slot] as number);
    }
    return keys;
  }

  /** Removes every entry and gives the memory back. */
  clear(): void {
    this.#keys = new Float64Array(MIN_TABLE_CAPACITY);
    this.#values = new Int32Array(MIN_TABLE_CAPACITY).fill(EMPTY);
    this.#mask = MIN_TABLE_CAPACITY - 1;
    this.#live = 0;
    this.#used = 0;
  }

  #rebuild(entries: number): void {
    const oldKeys = this.#keys;
    const oldValues = this.#values;
    const capacity = capacityFor(entries, MIN_TABLE_CAPACITY);
    const keys = new Float64Array(capacity);
    const values = new Int32Array(capacity).fill(EMPTY);
    const mask = capacity - 1;
    for (let from = 0; from < oldValues.length; from++) {
      const value = oldValues[from] as number;
      if (value < 0) continue;
      const id = oldKeys[from] as number;
      let slot = hashId(id, 0, this.#salt) & mask;
      while ((values[slot] as number) !== EMPTY) slot = (slot + 1) & mask;
      keys[slot] = id;
      values[slot] = value;
    }
    this.#work += oldValues.length + capacity;
    this.#keys = keys;
    this.#values = values;
    this.#mask = mask;
    this.#used = this.#live;
  }
}

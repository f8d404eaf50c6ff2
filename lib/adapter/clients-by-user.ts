/**
 * Each user's client connections, by user id: what the fan-out looks up once per recipient
 * of every event.
 *
 * Invariants: ids below `DENSE_IDS` sit in an array indexed by the id, grown to the largest
 * such id seen (a load instead of a hash lookup per recipient: measured, the map lookup was
 * the costliest line of the fan-out); larger ids, up to `MAX_ID`, sit in a map. A user
 * without connections has no entry.
 */
import type { UserId } from '../core/events.js';

/** Ids looked up in the array: 2^16 of them cost at most 512 KiB of slots. */
const DENSE_IDS = 1 << 16;

export class ClientsByUser<C> {
  readonly #dense: (C[] | undefined)[] = [];
  readonly #sparse = new Map<UserId, C[]>();

  get(user: UserId): C[] | undefined {
    return user < DENSE_IDS ? this.#dense[user] : this.#sparse.get(user);
  }

  set(user: UserId, clients: C[]): void {
    if (user >= DENSE_IDS) {
      this.#sparse.set(user, clients);
      return;
    }
    // Grown slot by slot, so the array stays a plain array rather than a dictionary.
    while (this.#dense.length <= user) this.#dense.push(undefined);
    this.#dense[user] = clients;
  }

  delete(user: UserId): void {
    if (user < DENSE_IDS) this.#dense[user] = undefined;
    else this.#sparse.delete(user);
  }
}

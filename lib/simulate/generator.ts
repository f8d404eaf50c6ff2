/**
 * The event stream and its reference model: an implementation of the SPEC 3 rules of its
 * own (it does not use `lib/core`, so it can judge any server, ours included).
 *
 * Invariants:
 * - Deterministic: the connected users, every event and every batch order follow from the
 *   seed alone. Warm-up broadcasts take the first sequence numbers; how many there are
 *   depends on how fast the server registers clients, and only shifts the numbers after.
 * - Events are generated in sequence order and applied to the model at once: every
 *   notification a connected client is owed is handed to its `ClientStream` before the
 *   event is written, so a notification can never arrive before it is expected.
 * - The model only tracks what can notify a connected client: for each user, the set of
 *   connected clients that follow it (a bitset). Follows by users without a client change
 *   no notification and are not stored, so memory is bounded by users x clients bits.
 * - Batches have a random size in 1..maxEventSourceBatchSize and are written shuffled.
 */

import { ClientStream, Ledger, type StreamContext } from './client-stream.js';
import { RECENT_EVENTS } from './constants.js';
import { hashLine } from './hash.js';
import { type ResolvedSimulateOptions, terminatorBytes } from './options.js';
import { SeededRandom } from './random.js';

const FOLLOW = 0;
const UNFOLLOW = 1;
const BROADCAST = 2;
const PRIVATE_MESSAGE = 3;
const STATUS_UPDATE = 4;
const LETTERS = ['F', 'U', 'B', 'P', 'S'];

/** Limits of the generator's pacing; defaults in `constants.ts`. */
export interface GeneratorLimits {
  readonly perClientLimit: number;
  readonly totalLimit: number;
}

export class EventGenerator implements StreamContext {
  readonly ledger: Ledger;
  /** One stream per connected client, in connection order. */
  readonly clients: readonly ClientStream[];
  /** Warm-up broadcasts sent: they carry the numbers 1..warmupSent. */
  warmupSent = 0;
  /** Events generated after the warm-up. */
  generated = 0;

  readonly #totalEvents: number;
  readonly #numberOfUsers: number;
  readonly #maxBatch: number;
  readonly #terminator: string;
  readonly #random: SeededRandom;
  // Cumulative weights of F, U, B, P, S.
  readonly #thresholds: number[];
  readonly #totalWeight: number;
  readonly #clientOfUser = new Map<number, number>();
  // Per followed user, a bitset of the client indexes that follow it.
  readonly #followers = new Map<number, Int32Array>();
  readonly #bitsetWords: number;
  readonly #batch: string[];
  // The last RECENT_EVENTS events, to quote an expected line in a failure.
  readonly #recentType = new Uint8Array(RECENT_EVENTS);
  readonly #recentFrom = new Float64Array(RECENT_EVENTS);
  readonly #recentTo = new Float64Array(RECENT_EVENTS);
  #nextSequence = 1;

  constructor(options: ResolvedSimulateOptions, limits: GeneratorLimits) {
    this.ledger = new Ledger(limits.perClientLimit, limits.totalLimit);
    this.#totalEvents = options.totalEvents;
    this.#numberOfUsers = options.numberOfUsers;
    this.#maxBatch = options.maxEventSourceBatchSize;
    this.#terminator = terminatorBytes(options.eventTerminator);
    this.#random = new SeededRandom(options.randomSeed);
    let sum = 0;
    this.#thresholds = options.eventWeights.map((weight) => (sum += weight));
    this.#totalWeight = sum;
    const users = this.#random.distinct(options.concurrencyLevel, options.numberOfUsers);
    this.clients = users.map((user, index) => {
      this.#clientOfUser.set(user, index);
      return new ClientStream(index, user, this);
    });
    this.#bitsetWords = Math.ceil(users.length / 32);
    this.#batch = new Array<string>(this.#maxBatch).fill('');
  }

  /** Every event after the warm-up has been generated. */
  get done(): boolean {
    return this.generated >= this.#totalEvents;
  }

  /** The number the next event will carry. */
  get nextSequence(): number {
    return this.#nextSequence;
  }

  /**
   * The next warm-up broadcast. Clients registered so far are owed it; a client that is not
   * registered yet registers by receiving any of them (`ClientStream`).
   */
  warmupBroadcast(): string {
    const sequence = this.#nextSequence++;
    const line = `${sequence}|B${this.#terminator}`;
    this.#remember(sequence, BROADCAST, 0, 0);
    this.warmupSent = sequence;
    const hash = hashLine(line);
    for (const client of this.clients) if (client.registered) client.expect(sequence, hash);
    return line;
  }

  /** The next batch of events: applied to the model, then shuffled into one string. */
  nextBatch(): string {
    const random = this.#random;
    const size = Math.min(1 + random.below(this.#maxBatch), this.#totalEvents - this.generated);
    const batch = this.#batch;
    for (let i = 0; i < size; i++) batch[i] = this.#nextEvent();
    this.generated += size;
    random.shuffle(batch, size);
    let text = '';
    for (let i = 0; i < size; i++) text += batch[i];
    return text;
  }

  lineOf(sequence: number): string | undefined {
    if (sequence < 1 || sequence >= this.#nextSequence) return undefined;
    if (this.#nextSequence - sequence > RECENT_EVENTS) return undefined;
    const at = sequence % RECENT_EVENTS;
    const type = this.#recentType[at] as number;
    const head = `${sequence}|${LETTERS[type]}`;
    const from = this.#recentFrom[at];
    const to = this.#recentTo[at];
    if (type === BROADCAST) return `${head}${this.#terminator}`;
    if (type === STATUS_UPDATE) return `${head}|${from}${this.#terminator}`;
    return `${head}|${from}|${to}${this.#terminator}`;
  }

  #nextEvent(): string {
    const random = this.#random;
    const sequence = this.#nextSequence++;
    const pick = random.below(this.#totalWeight);
    const thresholds = this.#thresholds;
    let type = 0;
    while (pick >= (thresholds[type] as number)) type++;
    const users = this.#numberOfUsers;
    const clients = this.clients;

    switch (type) {
      case FOLLOW: {
        const from = 1 + random.below(users);
        const to = 1 + random.below(users);
        const line = `${sequence}|F|${from}|${to}${this.#terminator}`;
        this.#remember(sequence, type, from, to);
        const follower = this.#clientOfUser.get(from);
        if (follower !== undefined) this.#followersOf(to)[follower >>> 5] |= 1 << (follower & 31);
        const recipient = this.#clientOfUser.get(to);
        if (recipient !== undefined) clients[recipient]?.expect(sequence, hashLine(line));
        return line;
      }
      case UNFOLLOW: {
        const from = 1 + random.below(users);
        const to = 1 + random.below(users);
        this.#remember(sequence, type, from, to);
        const follower = this.#clientOfUser.get(from);
        const followers = this.#followers.get(to);
        if (follower !== undefined && followers !== undefined) {
          followers[follower >>> 5] &= ~(1 << (follower & 31));
        }
        return `${sequence}|U|${from}|${to}${this.#terminator}`;
      }
      case BROADCAST: {
        const line = `${sequence}|B${this.#terminator}`;
        this.#remember(sequence, type, 0, 0);
        const hash = hashLine(line);
        for (let i = 0; i < clients.length; i++) clients[i]?.expect(sequence, hash);
        return line;
      }
      case PRIVATE_MESSAGE: {
        const from = 1 + random.below(users);
        const to = 1 + random.below(users);
        const line = `${sequence}|P|${from}|${to}${this.#terminator}`;
        this.#remember(sequence, type, from, to);
        const recipient = this.#clientOfUser.get(to);
        if (recipient !== undefined) clients[recipient]?.expect(sequence, hashLine(line));
        return line;
      }
      default: {
        const from = 1 + random.below(users);
        const line = `${sequence}|S|${from}${this.#terminator}`;
        this.#remember(sequence, STATUS_UPDATE, from, 0);
        const followers = this.#followers.get(from);
        if (followers !== undefined) this.#notifyFollowers(followers, sequence, hashLine(line));
        return line;
      }
    }
  }

  #notifyFollowers(followers: Int32Array, sequence: number, hash: number): void {
    const clients = this.clients;
    for (let word = 0; word < followers.length; word++) {
      let bits = followers[word] as number;
      while (bits !== 0) {
        const lowest = bits & -bits;
        clients[(word << 5) + 31 - Math.clz32(lowest)]?.expect(sequence, hash);
        bits ^= lowest;
      }
    }
  }

  #followersOf(user: number): Int32Array {
    let followers = this.#followers.get(user);
    if (followers === undefined) {
      followers = new Int32Array(this.#bitsetWords);
      this.#followers.set(user, followers);
    }
    return followers;
  }

  #remember(sequence: number, type: number, from: number, to: number): void {
    const at = sequence % RECENT_EVENTS;
    this.#recentType[at] = type;
    this.#recentFrom[at] = from;
    this.#recentTo[at] = to;
  }
}

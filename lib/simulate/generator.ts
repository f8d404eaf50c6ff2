/**
 * The event stream and its reference model: an implementation of the docs/protocol.md §3 rules of its
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
 * - Lines are written as latin1 straight into bytes and hashed once for all the clients they
 *   notify; nothing is allocated per event, and an output array the socket has written
 *   through is reused (`reuseOutput()`). The generator shares one core with the client
 *   streams and the sockets, so its cost per event is part of what the simulator can
 *   verify per second.
 */

import { ClientStream, Ledger, type StreamContext } from './client-stream.js';
import { EVENT_WRITE_SIZE } from './constants.js';
import { MAX_DECIMAL_DIGITS, writeDecimal } from './decimal.js';
import { hashBytes } from './hash.js';
import { EVENT_TYPES, type ResolvedSimulateOptions, terminatorBytes } from './options.js';
import { SeededRandom } from './random.js';

/** Recent events kept to quote an expected line in a failure message. */
const RECENT_EVENTS = 131_072;

// Indexes into EVENT_TYPES (and the mix weights).
const FOLLOW = 0;
const UNFOLLOW = 1;
const BROADCAST = 2;
const PRIVATE_MESSAGE = 3;
const STATUS_UPDATE = 4;
const LETTER_CODES = EVENT_TYPES.map((letter) => letter.charCodeAt(0));
const CR = 13;
const LF = 10;
/** The longest event line: three numbers, three delimiters, a letter and CRLF. */
const MAX_LINE_BYTES = 3 * MAX_DECIMAL_DIGITS + 6;
const NO_OUTPUT = new Uint8Array(0);

/** Limits of the generator's pacing; defaults in `constants.ts`. */
export interface GeneratorLimits {
  readonly perClientLimit: number;
  readonly totalLimit: number;
  /**
   * The clients this process verifies, by index; all when absent. The others are still in
   * the model (they follow, are followed, draw users) but are owed nothing here: another
   * process runs the same generator and verifies them.
   */
  readonly owns?: (index: number) => boolean;
}

export class EventGenerator implements StreamContext {
  readonly ledger: Ledger;
  /** One stream per connected client this process verifies, in connection order. */
  readonly clients: readonly ClientStream[];
  // By client index: the stream, or undefined for a client verified elsewhere.
  readonly #streams: readonly (ClientStream | undefined)[];
  /** Clients in the model, verified here or not. */
  readonly clientCount: number;
  /** Warm-up broadcasts sent: they carry the numbers 1..warmupSent. */
  warmupSent = 0;
  /** Events generated after the warm-up. */
  generated = 0;

  readonly #totalEvents: number;
  readonly #numberOfUsers: number;
  readonly #maxBatch: number;
  readonly #terminator: string;
  readonly #delimiter: string;
  /** Its byte, written straight into the output (and read back by the client streams). */
  readonly delimiterByte: number;
  readonly #crlf: boolean;
  readonly #random: SeededRandom;
  // Cumulative weights of F, U, B, P, S.
  readonly #thresholds: number[];
  readonly #totalWeight: number;
  readonly #clientOfUser = new Map<number, number>();
  // Per followed user, a bitset of the client indexes that follow it.
  readonly #followers = new Map<number, Int32Array>();
  readonly #bitsetWords: number;
  // The batch being generated: its lines in sequence order, line i at
  // #lines[#lineStarts[i] .. #lineStarts[i + 1] - 1], and the order they are sent in.
  readonly #lines: Uint8Array;
  readonly #lineStarts: Int32Array;
  readonly #order: number[];
  // Event bytes generated and not taken yet: #output[0 .. #outputLength - 1].
  #output = NO_OUTPUT;
  #outputLength = 0;
  // The array of the last take, while the caller may still hold its bytes.
  #taken = NO_OUTPUT;
  // The last RECENT_EVENTS events, to quote an expected line in a failure.
  readonly #recentType = new Uint8Array(RECENT_EVENTS);
  readonly #recentFrom = new Float64Array(RECENT_EVENTS);
  readonly #recentTo = new Float64Array(RECENT_EVENTS);
  #nextSequence = 1;
  readonly #seedOfOthers: number;

  constructor(options: ResolvedSimulateOptions, limits: GeneratorLimits) {
    this.ledger = new Ledger(limits.perClientLimit, limits.totalLimit);
    this.#totalEvents = options.totalEvents;
    this.#numberOfUsers = options.numberOfUsers;
    this.#maxBatch = options.maxEventSourceBatchSize;
    this.#terminator = terminatorBytes(options.eventTerminator);
    this.#delimiter = options.delimiter;
    this.delimiterByte = options.delimiter.charCodeAt(0);
    this.#crlf = options.eventTerminator === 'crlf';
    this.#random = new SeededRandom(options.randomSeed);
    this.#seedOfOthers = (options.randomSeed + 1) % Number.MAX_SAFE_INTEGER;
    let sum = 0;
    this.#thresholds = options.eventWeights.map((weight) => (sum += weight));
    this.#totalWeight = sum;
    const users = this.#random.distinct(options.concurrencyLevel, options.numberOfUsers);
    const owns = limits.owns ?? (() => true);
    this.#streams = users.map((user, index) => {
      this.#clientOfUser.set(user, index);
      return owns(index) ? new ClientStream(index, user, this) : undefined;
    });
    this.clients = this.#streams.filter((stream) => stream !== undefined);
    this.clientCount = users.length;
    this.#bitsetWords = Math.ceil(users.length / 32);
    this.#lines = new Uint8Array(this.#maxBatch * MAX_LINE_BYTES);
    this.#lineStarts = new Int32Array(this.#maxBatch + 1);
    this.#order = new Array<number>(this.#maxBatch).fill(0);
  }

  /**
   * `count` distinct users without a client, for clients the model does not track (the
   * stalled clients): random users of 1..numberOfUsers while enough are left, then
   * numberOfUsers + 1, + 2, …. Drawn from a generator of their own (seed + 1), so the events
   * of a seed are the same with or without them.
   */
  unconnectedUsers(count: number): number[] {
    const random = new SeededRandom(this.#seedOfOthers);
    const users: number[] = [];
    const taken = new Set(this.#clientOfUser.keys());
    const free = this.#numberOfUsers - taken.size;
    while (users.length < count && users.length < free / 2) {
      const user = 1 + random.below(this.#numberOfUsers);
      if (taken.has(user)) continue;
      taken.add(user);
      users.push(user);
    }
    for (let next = this.#numberOfUsers + 1; users.length < count; next++) users.push(next);
    return users;
  }

  /** Every event after the warm-up has been generated. */
  get done(): boolean {
    return this.generated >= this.#totalEvents;
  }

  /** The number the next event will carry. */
  get nextSequence(): number {
    return this.#nextSequence;
  }

  /** Bytes generated and not taken yet. */
  get outputLength(): number {
    return this.#outputLength;
  }

  /**
   * The bytes generated since the last call, to write to the event source. They are the
   * caller's: the generator never writes to them again.
   */
  takeOutput(): Uint8Array {
    const bytes = this.#output.subarray(0, this.#outputLength);
    this.#taken = this.#output;
    this.#output = NO_OUTPUT;
    this.#outputLength = 0;
    return bytes;
  }

  /**
   * The caller is done with the bytes of the last `takeOutput()` (the socket wrote them
   * through at once): the next batches may be generated into the same array. Without it,
   * every write of a paced run allocated a new 64 KiB array, and the external memory set
   * off a full (mark-compact) GC of 2-8 ms every 200 ms or so: the simulator's own pauses
   * showed up in the latency tail.
   */
  reuseOutput(): void {
    if (this.#output === NO_OUTPUT && this.#outputLength === 0) this.#output = this.#taken;
    this.#taken = NO_OUTPUT;
  }

  /**
   * Generates the next warm-up broadcast. Clients registered so far are owed it; a client
   * that is not registered yet registers by receiving any of them (`ClientStream`).
   */
  warmupBroadcast(): void {
    this.#reserve(MAX_LINE_BYTES);
    const output = this.#output;
    const start = this.#outputLength;
    const sequence = this.#nextSequence;
    this.ledger.latency.mark(sequence);
    const end = this.#writeTerminator(output, this.#writeHead(output, start, BROADCAST));
    this.#outputLength = end;
    this.#remember(sequence, BROADCAST, 0, 0);
    this.warmupSent = sequence;
    const hash = hashBytes(output, start, end);
    for (const client of this.clients) if (client.registered) client.expect(sequence, hash);
  }

  /** Generates the next batch of events: applied to the model, then output shuffled. */
  nextBatch(): void {
    const random = this.#random;
    const size = Math.min(1 + random.below(this.#maxBatch), this.#totalEvents - this.generated);
    this.ledger.latency.mark(this.#nextSequence);
    const lines = this.#lines;
    const starts = this.#lineStarts;
    const order = this.#order;
    let end = 0;
    for (let i = 0; i < size; i++) {
      starts[i] = end;
      end = this.#nextEvent(end);
      order[i] = i;
    }
    starts[size] = end;
    this.generated += size;
    // The same draws as shuffling the lines themselves: a seed gives the stream it always did.
    random.shuffle(order, size);

    // The model applies the events in sequence order; the server gets them shuffled.
    this.#reserve(end);
    const output = this.#output;
    let at = this.#outputLength;
    for (let i = 0; i < size; i++) {
      const line = order[i] as number;
      const lineEnd = starts[line + 1] as number;
      for (let from = starts[line] as number; from < lineEnd; from++) {
        output[at++] = lines[from] as number;
      }
    }
    this.#outputLength = at;
  }

  lineOf(sequence: number): string | undefined {
    if (sequence < 1 || sequence >= this.#nextSequence) return undefined;
    if (this.#nextSequence - sequence > RECENT_EVENTS) return undefined;
    const at = sequence % RECENT_EVENTS;
    const type = this.#recentType[at] as number;
    const delimiter = this.#delimiter;
    const head = `${sequence}${delimiter}${EVENT_TYPES[type]}`;
    const from = this.#recentFrom[at];
    const to = this.#recentTo[at];
    if (type === BROADCAST) return `${head}${this.#terminator}`;
    if (type === STATUS_UPDATE) return `${head}${delimiter}${from}${this.#terminator}`;
    return `${head}${delimiter}${from}${delimiter}${to}${this.#terminator}`;
  }

  // Generates one event and applies it to the model; its line goes to #lines[start..].
  // Returns the end of the line. One method per type keeps each small enough for the
  // compiler to inline what it calls.
  #nextEvent(start: number): number {
    const pick = this.#random.below(this.#totalWeight);
    const thresholds = this.#thresholds;
    let type = 0;
    while (pick >= (thresholds[type] as number)) type++;
    const sequence = this.#nextSequence;
    const end = this.#writeHead(this.#lines, start, type);
    switch (type) {
      case FOLLOW:
        return this.#follow(sequence, start, end);
      case UNFOLLOW:
        return this.#unfollow(sequence, end);
      case BROADCAST:
        return this.#broadcast(sequence, start, end);
      case PRIVATE_MESSAGE:
        return this.#privateMessage(sequence, start, end);
      default:
        return this.#statusUpdate(sequence, start, end);
    }
  }

  // In each of these, `start` is where the line begins and `at` where its head ends.
  #follow(sequence: number, start: number, at: number): number {
    const random = this.#random;
    const from = 1 + random.below(this.#numberOfUsers);
    const to = 1 + random.below(this.#numberOfUsers);
    const line = this.#lines;
    const end = this.#writeTerminator(line, this.#writeUsers(line, at, from, to));
    this.#remember(sequence, FOLLOW, from, to);
    const follower = this.#clientOfUser.get(from);
    if (follower !== undefined) this.#followersOf(to)[follower >>> 5] |= 1 << (follower & 31);
    const recipient = this.#clientOfUser.get(to);
    if (recipient !== undefined) {
      this.#streams[recipient]?.expect(sequence, hashBytes(line, start, end));
    }
    return end;
  }

  #unfollow(sequence: number, at: number): number {
    const random = this.#random;
    const from = 1 + random.below(this.#numberOfUsers);
    const to = 1 + random.below(this.#numberOfUsers);
    this.#remember(sequence, UNFOLLOW, from, to);
    const follower = this.#clientOfUser.get(from);
    const followers = this.#followers.get(to);
    if (follower !== undefined && followers !== undefined) {
      followers[follower >>> 5] &= ~(1 << (follower & 31));
    }
    const line = this.#lines;
    return this.#writeTerminator(line, this.#writeUsers(line, at, from, to));
  }

  #broadcast(sequence: number, start: number, at: number): number {
    const line = this.#lines;
    const end = this.#writeTerminator(line, at);
    this.#remember(sequence, BROADCAST, 0, 0);
    const hash = hashBytes(line, start, end);
    const clients = this.clients;
    for (let i = 0; i < clients.length; i++) clients[i]?.expect(sequence, hash);
    return end;
  }

  #privateMessage(sequence: number, start: number, at: number): number {
    const random = this.#random;
    const from = 1 + random.below(this.#numberOfUsers);
    const to = 1 + random.below(this.#numberOfUsers);
    const line = this.#lines;
    const end = this.#writeTerminator(line, this.#writeUsers(line, at, from, to));
    this.#remember(sequence, PRIVATE_MESSAGE, from, to);
    const recipient = this.#clientOfUser.get(to);
    if (recipient !== undefined) {
      this.#streams[recipient]?.expect(sequence, hashBytes(line, start, end));
    }
    return end;
  }

  #statusUpdate(sequence: number, start: number, at: number): number {
    const from = 1 + this.#random.below(this.#numberOfUsers);
    const line = this.#lines;
    line[at] = this.delimiterByte;
    const end = this.#writeTerminator(line, writeDecimal(line, at + 1, from));
    this.#remember(sequence, STATUS_UPDATE, from, 0);
    const followers = this.#followers.get(from);
    if (followers !== undefined) {
      this.#notifyFollowers(followers, sequence, hashBytes(line, start, end));
    }
    return end;
  }

  // Writes `123|F` (`|` standing for the delimiter), the head of the line of event
  // #nextSequence, at `bytes[at..]`, and moves on to the next number.
  #writeHead(bytes: Uint8Array, at: number, type: number): number {
    let end = writeDecimal(bytes, at, this.#nextSequence++);
    bytes[end++] = this.delimiterByte;
    bytes[end++] = LETTER_CODES[type] as number;
    return end;
  }

  // `|from|to`, with the delimiter
  #writeUsers(bytes: Uint8Array, at: number, from: number, to: number): number {
    bytes[at] = this.delimiterByte;
    const end = writeDecimal(bytes, at + 1, from);
    bytes[end] = this.delimiterByte;
    return writeDecimal(bytes, end + 1, to);
  }

  #writeTerminator(bytes: Uint8Array, at: number): number {
    if (this.#crlf) bytes[at++] = CR;
    bytes[at] = LF;
    return at + 1;
  }

  #notifyFollowers(followers: Int32Array, sequence: number, hash: number): void {
    const clients = this.#streams;
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

  // Makes room for `bytes` more output bytes. A taken output is never written again unless
  // handed back (`reuseOutput()`), so otherwise the first batch after a take starts a new
  // array.
  #reserve(bytes: number): void {
    const length = this.#outputLength;
    if (this.#output.length - length >= bytes) return;
    const output = new Uint8Array(length + bytes + EVENT_WRITE_SIZE);
    output.set(this.#output.subarray(0, length));
    this.#output = output;
  }

  #remember(sequence: number, type: number, from: number, to: number): void {
    const at = sequence % RECENT_EVENTS;
    this.#recentType[at] = type;
    this.#recentFrom[at] = from;
    this.#recentTo[at] = to;
  }
}

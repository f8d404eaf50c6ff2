/**
 * The recent past of a stream, so that a client that reconnects can be sent what it missed
 * (docs/protocol.md §12): a ring of the last applied events, bounded in bytes, in which every
 * follow and unfollow records whether it changed the graph. A user's followees at any event
 * in the ring are then today's graph rolled back, so the notifications that a connection
 * open all along would have had are recomputed exactly, and nothing is kept per user.
 *
 * Invariants:
 * - Entries are the applied events, in sequence order. A number without an entry (a no-op,
 *   a refused follow, a skipped number) notified nobody and changed nothing.
 * - Every event numbered above `resumableAfter` is in the ring; it moves up as the oldest
 *   entries are evicted to make room.
 * - The graph changes only by the events recorded here (or before a `restart()`), so
 *   rolling it back from its current state is exact.
 * - Memory: the arrays allocated (line bytes at one byte each, entries at `ENTRY_BYTES`
 *   each) stay within `maxBytes` together. A line is copied into the byte ring, so nothing
 *   outside is kept alive and, once the rings have grown, recording allocates nothing.
 */
import { EventType, type MazeEvent, type Sequence, type UserId } from './events.js';

/** Bytes of one entry besides its line: sequence, from, to and line start (8 each), kind (1). */
export const ENTRY_BYTES = 33;

/** What a resume is, when the history holds everything it needs. */
export interface ExactResume {
  readonly exact: true;
  /** Notifications the user missed, oldest first. */
  readonly notifications: number;
  /** Their lines, concatenated: what the client is sent before anything live. */
  readonly output: string;
  /** Entries of the history looked at (the cost of this resume). */
  readonly scanned: number;
}

/** Why a resume cannot be exact (docs/protocol.md §12). */
export const ResumeGap = {
  /** The history no longer holds every event after the client's last one. */
  Trimmed: 'trimmed',
  /** The client's last sequence number is beyond the last event applied here. */
  Ahead: 'ahead',
} as const;

export type ResumeGap = (typeof ResumeGap)[keyof typeof ResumeGap];

/** A resume that cannot be exact: the client is told why, then served from now. */
export interface RefusedResume {
  readonly exact: false;
  readonly reason: ResumeGap;
  /** The number of the next event to be applied: the first the client can get live. */
  readonly next: Sequence;
}

export type ResumeOutcome = ExactResume | RefusedResume;

const FOLLOW = 0;
const UNFOLLOW = 1;
const BROADCAST = 2;
const PRIVATE = 3;
const STATUS = 4;
const TYPE_MASK = 7;
/** Set in an entry's kind when its follow or unfollow changed the graph. */
const CHANGED = 8;

const KIND_OF: Readonly<Record<EventType, number>> = {
  [EventType.Follow]: FOLLOW,
  [EventType.Unfollow]: UNFOLLOW,
  [EventType.Broadcast]: BROADCAST,
  [EventType.PrivateMessage]: PRIVATE,
  [EventType.StatusUpdate]: STATUS,
};

/** First sizes of the rings (at most a quarter of the budget each, so both fit a small one). */
const MIN_ENTRIES = 64;
const MIN_LINE_BYTES = 4096;
/** Characters decoded per `String.fromCharCode` call (well under the engine's argument limit). */
const DECODE_CHUNK = 8192;

export class ResumeHistory {
  readonly #maxBytes: number;
  // Entry rings, indexed by an entry's absolute number modulo their capacity.
  #sequence = new Float64Array(0);
  #from = new Float64Array(0);
  #to = new Float64Array(0);
  /** Absolute byte position of the entry's line; it ends where the next one starts. */
  #lineStart = new Float64Array(0);
  #kind = new Uint8Array(0);
  /** The byte ring, indexed by absolute byte position modulo its length. */
  #lines = new Uint8Array(0);
  #firstEntry = 0;
  #endEntry = 0;
  #firstByte = 0;
  #endByte = 0;
  #resumableAfter: Sequence;

  /** A history of at most `maxBytes` that starts before `firstSequence`. */
  constructor(maxBytes: number, firstSequence: Sequence) {
    this.#maxBytes = maxBytes;
    this.#resumableAfter = firstSequence - 1;
  }

  /** Events held. */
  get size(): number {
    return this.#endEntry - this.#firstEntry;
  }

  /** Bytes allocated by the rings (at most `maxBytes`). */
  get bytes(): number {
    return this.#lines.length + this.#sequence.length * ENTRY_BYTES;
  }

  /** The smallest last-seen number a client can resume after exactly. */
  get resumableAfter(): Sequence {
    return this.#resumableAfter;
  }

  /**
   * Adds the event just applied; `changedGraph` says whether its follow or unfollow added or
   * removed an edge. The oldest entries make room; a line that could never fit empties the
   * history instead.
   */
  record(event: MazeEvent, changedGraph: boolean): void {
    const line = event.line;
    const length = line.length;
    if (!this.#makeRoom(length)) {
      this.restart(event.sequence + 1);
      return;
    }
    const slot = this.#endEntry % this.#sequence.length;
    this.#sequence[slot] = event.sequence;
    this.#lineStart[slot] = this.#endByte;
    let kind = KIND_OF[event.type];
    if (event.type !== EventType.Broadcast) {
      this.#from[slot] = event.from;
      if (event.type !== EventType.StatusUpdate) {
        this.#to[slot] = event.to;
        if (changedGraph) kind |= CHANGED;
      }
    }
    this.#kind[slot] = kind;
    const lines = this.#lines;
    let at = this.#endByte % lines.length;
    for (let i = 0; i < length; i++) {
      lines[at] = line.charCodeAt(i);
      if (++at === lines.length) at = 0;
    }
    this.#endByte += length;
    this.#endEntry++;
  }

  /** Forgets every entry: the stream goes on (or starts again) at `nextSequence`. */
  restart(nextSequence: Sequence): void {
    this.#firstEntry = this.#endEntry;
    this.#firstByte = this.#endByte;
    this.#resumableAfter = nextSequence - 1;
  }

  /**
   * What `user` missed after `lastSequence`, as a connection open all along would have
   * received it: follows of the user, private messages to the user, broadcasts, and status
   * updates of those the user followed at each event's time. `lastApplied` is the number of
   * the last event applied, `isFollowing` today's graph. Costs the entries after
   * `lastSequence`, and a map of the followees met among them.
   */
  resume(
    user: UserId,
    lastSequence: Sequence,
    lastApplied: Sequence,
    isFollowing: (follower: UserId, followee: UserId) => boolean,
  ): ResumeOutcome {
    if (lastSequence > lastApplied) {
      return { exact: false, reason: ResumeGap.Ahead, next: lastApplied + 1 };
    }
    if (lastSequence < this.#resumableAfter) {
      return { exact: false, reason: ResumeGap.Trimmed, next: lastApplied + 1 };
    }
    const first = this.#firstAfter(lastSequence);
    const capacity = this.#sequence.length;
    // Whether the user follows a followee just after the entry being looked at.
    const following = new Map<UserId, boolean>();
    const follows = (followee: UserId): boolean =>
      following.get(followee) ?? isFollowing(user, followee);
    const picked: number[] = [];
    for (let entry = this.#endEntry - 1; entry >= first; entry--) {
      const slot = entry % capacity;
      const kind = this.#kind[slot] as number;
      const type = kind & TYPE_MASK;
      if (type === BROADCAST) picked.push(entry);
      else if (type === STATUS) {
        if (follows(this.#from[slot] as number)) picked.push(entry);
      } else if (type === PRIVATE) {
        if (this.#to[slot] === user) picked.push(entry);
      } else {
        const to = this.#to[slot] as number;
        if (type === FOLLOW && to === user) picked.push(entry);
        // Before a change by the user, the edge was the other way round.
        if ((kind & CHANGED) !== 0 && this.#from[slot] === user) following.set(to, !follows(to));
      }
    }
    const parts: string[] = [];
    for (let i = picked.length - 1; i >= 0; i--) parts.push(this.#lineOf(picked[i] as number));
    return {
      exact: true,
      notifications: picked.length,
      output: parts.join(''),
      scanned: this.#endEntry - first,
    };
  }

  // The first entry numbered above `sequence` (the end when there is none).
  #firstAfter(sequence: Sequence): number {
    const capacity = this.#sequence.length;
    let low = this.#firstEntry;
    let high = this.#endEntry;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if ((this.#sequence[middle % capacity] as number) > sequence) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  #lineOf(entry: number): string {
    const start = this.#lineStart[entry % this.#sequence.length] as number;
    const end =
      entry + 1 < this.#endEntry
        ? (this.#lineStart[(entry + 1) % this.#sequence.length] as number)
        : this.#endByte;
    const lines = this.#lines;
    let text = '';
    for (let from = start; from < end; ) {
      const at = from % lines.length;
      const count = Math.min(end - from, lines.length - at, DECODE_CHUNK);
      text += String.fromCharCode.apply(
        null,
        lines.subarray(at, at + count) as unknown as number[],
      );
      from += count;
    }
    return text;
  }

  // Grows a ring or evicts the oldest entries until an entry with a line of `length` fits;
  // false when it never could.
  #makeRoom(length: number): boolean {
    if (length + ENTRY_BYTES > this.#maxBytes) return false;
    for (;;) {
      const entriesFull = this.size === this.#sequence.length;
      const bytesNeeded = this.#endByte - this.#firstByte + length;
      const linesFull = bytesNeeded > this.#lines.length;
      if (!entriesFull && !linesFull) return true;
      if (entriesFull && this.#growEntries(bytesNeeded)) continue;
      if (linesFull && this.#growLines(bytesNeeded)) continue;
      if (this.size === 0) return false;
      this.#evictOldest();
    }
  }

  #evictOldest(): void {
    const capacity = this.#sequence.length;
    this.#resumableAfter = this.#sequence[this.#firstEntry % capacity] as number;
    this.#firstEntry++;
    this.#firstByte =
      this.#firstEntry < this.#endEntry
        ? (this.#lineStart[this.#firstEntry % capacity] as number)
        : this.#endByte;
  }

  // Leaves room for `lineBytes` of lines, so a small budget is not all taken by entries.
  #growEntries(lineBytes: number): boolean {
    const old = this.#sequence.length;
    const linesRoom = Math.max(this.#lines.length, lineBytes);
    const room = Math.floor((this.#maxBytes - linesRoom) / ENTRY_BYTES);
    const start = Math.max(
      1,
      Math.min(MIN_ENTRIES, Math.floor(this.#maxBytes / (4 * ENTRY_BYTES))),
    );
    const capacity = Math.min(Math.max(start, old * 2), room);
    if (capacity <= old) return false;
    const first = this.#firstEntry;
    const end = this.#endEntry;
    this.#sequence = regrown(this.#sequence, new Float64Array(capacity), first, end);
    this.#from = regrown(this.#from, new Float64Array(capacity), first, end);
    this.#to = regrown(this.#to, new Float64Array(capacity), first, end);
    this.#lineStart = regrown(this.#lineStart, new Float64Array(capacity), first, end);
    this.#kind = regrown(this.#kind, new Uint8Array(capacity), first, end);
    return true;
  }

  #growLines(needed: number): boolean {
    const old = this.#lines.length;
    const room = this.#maxBytes - this.#sequence.length * ENTRY_BYTES;
    const start = Math.min(MIN_LINE_BYTES, Math.floor(this.#maxBytes / 4));
    const capacity = Math.min(Math.max(start, old * 2, needed), room);
    if (capacity < needed) return false;
    this.#lines = regrown(this.#lines, new Uint8Array(capacity), this.#firstByte, this.#endByte);
    return true;
  }
}

// Copies the live positions `first..end` of a ring into a larger one at the same absolute
// positions (modulo each ring's length: the span fits the old ring, so none collide).
function regrown<Ring extends Float64Array | Uint8Array>(
  old: Ring,
  grown: Ring,
  first: number,
  end: number,
): Ring {
  for (let at = first; at < end; at++) grown[at % grown.length] = old[at % old.length] as number;
  return grown;
}

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

/**
 * Bytes of one entry besides its line: sequence, from and to (8 each), where its line starts
 * and its length (4 each), its kind (1).
 */
export const ENTRY_BYTES = 37;

/** What a resume is, when the history holds everything it needs. */
export interface ExactResume {
  readonly exact: true;
  /** Notifications the user missed, oldest first. */
  readonly notifications: number;
  /**
   * Their lines, concatenated, as the bytes read: what the client is sent before anything
   * live (a view of a fresh buffer, the caller's to keep).
   */
  readonly output: Uint8Array;
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

// Comparisons of interned strings: cheaper on the hot path than a keyed lookup.
function kindOf(type: EventType): number {
  if (type === EventType.PrivateMessage) return PRIVATE;
  if (type === EventType.StatusUpdate) return STATUS;
  if (type === EventType.Follow) return FOLLOW;
  if (type === EventType.Broadcast) return BROADCAST;
  return UNFOLLOW;
}

/** First sizes of the rings (at most a quarter of the budget each, so both fit a small one). */
const MIN_ENTRIES = 64;
const MIN_LINE_BYTES = 4096;

export class ResumeHistory {
  readonly #maxBytes: number;
  // The entry ring: `#size` entries from slot `#head` on, wrapping at its capacity.
  #sequence = new Float64Array(0);
  #from = new Float64Array(0);
  #to = new Float64Array(0);
  /** Where the entry's line starts in the byte ring, and its length. */
  #lineAt = new Uint32Array(0);
  #lineLength = new Uint32Array(0);
  #kind = new Uint8Array(0);
  #head = 0;
  #size = 0;
  /** The byte ring: `#lineBytes` bytes from `#lineHead` on, the lines in entry order. */
  #lines = new Uint8Array(0);
  #lineHead = 0;
  #lineBytes = 0;
  /** Whether the rings have grown as far as the budget lets them. */
  #grown = false;
  #resumableAfter: Sequence;

  /** A history of at most `maxBytes` that starts before `firstSequence`. */
  constructor(maxBytes: number, firstSequence: Sequence) {
    this.#maxBytes = maxBytes;
    this.#resumableAfter = firstSequence - 1;
  }

  /** Events held. */
  get size(): number {
    return this.#size;
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
   * history instead. The hot path: a few array stores and a copy of the line.
   */
  record(event: MazeEvent, changedGraph: boolean): void {
    const line = event.line;
    const length = line.length;
    let lines = this.#lines;
    if (this.#size === this.#sequence.length || this.#lineBytes + length > lines.length) {
      if (this.#grown && length <= lines.length) {
        // Full size: the oldest entries go, until this one fits.
        do this.#evictOldest();
        while (this.#size === this.#sequence.length || this.#lineBytes + length > lines.length);
      } else if (!this.#makeRoom(length)) {
        this.restart(event.sequence + 1);
        return;
      }
      lines = this.#lines;
    }
    let slot = this.#head + this.#size;
    if (slot >= this.#sequence.length) slot -= this.#sequence.length;
    let at = this.#lineHead + this.#lineBytes;
    if (at >= lines.length) at -= lines.length;
    this.#sequence[slot] = event.sequence;
    // A broadcast has no ids and a status update no `to`: the parser gives them 0.
    const ids = event as { readonly from?: UserId; readonly to?: UserId };
    this.#from[slot] = ids.from ?? 0;
    this.#to[slot] = ids.to ?? 0;
    this.#lineAt[slot] = at;
    this.#lineLength[slot] = length;
    const kind = kindOf(event.type);
    this.#kind[slot] = changedGraph ? kind | CHANGED : kind;
    if (at + length <= lines.length) {
      for (let i = 0; i < length; i++) lines[at + i] = line.charCodeAt(i);
    } else {
      for (let i = 0; i < length; i++) {
        lines[at] = line.charCodeAt(i);
        if (++at === lines.length) at = 0;
      }
    }
    this.#size++;
    this.#lineBytes += length;
  }

  /** Forgets every entry: the stream goes on (or starts again) at `nextSequence`. */
  restart(nextSequence: Sequence): void {
    this.#head = 0;
    this.#size = 0;
    this.#lineHead = 0;
    this.#lineBytes = 0;
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
    const scanned = this.#size - first;
    const kinds = this.#kind;
    const froms = this.#from;
    const tos = this.#to;
    const lengths = this.#lineLength;
    const capacity = kinds.length;
    // Whether the user follows a followee just after the entry being looked at: today's
    // graph at first, then flipped by each change the user made, newest first.
    const following = new Map<UserId, boolean>();
    const follows = (followee: UserId): boolean => {
      let state = following.get(followee);
      if (state === undefined) {
        state = isFollowing(user, followee);
        following.set(followee, state);
      }
      return state;
    };
    const picked: number[] = [];
    let bytes = 0;
    let slot = scanned === 0 ? 0 : this.#slotOf(this.#size - 1);
    for (let left = scanned; left > 0; left--) {
      const kind = kinds[slot] as number;
      const type = kind & TYPE_MASK;
      let notified: boolean;
      if (type === BROADCAST) notified = true;
      else if (type === STATUS) notified = follows(froms[slot] as number);
      else if (type === PRIVATE) notified = tos[slot] === user;
      else {
        const to = tos[slot] as number;
        notified = type === FOLLOW && to === user;
        // Before a change by the user, the edge was the other way round.
        if ((kind & CHANGED) !== 0 && froms[slot] === user) following.set(to, !follows(to));
      }
      if (notified) {
        picked.push(slot);
        bytes += lengths[slot] as number;
      }
      slot = slot === 0 ? capacity - 1 : slot - 1;
    }
    const output = new Uint8Array(bytes);
    let at = 0;
    for (let i = picked.length - 1; i >= 0; i--) {
      at = this.#copyLine(picked[i] as number, output, at);
    }
    return { exact: true, notifications: picked.length, output, scanned };
  }

  #slotOf(index: number): number {
    const slot = this.#head + index;
    return slot < this.#sequence.length ? slot : slot - this.#sequence.length;
  }

  // The index (0 = oldest) of the first entry numbered above `sequence` (`size` when none).
  #firstAfter(sequence: Sequence): number {
    let low = 0;
    let high = this.#size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#sequence[this.#slotOf(middle)] as number) > sequence) high = middle;
      else low = middle + 1;
    }
    return low;
  }

  // Copies the line of `slot` into `output` at `at`; returns where it ends. Byte by byte:
  // for lines this short, cheaper than the two views a bulk copy needs.
  #copyLine(slot: number, output: Uint8Array, at: number): number {
    const lines = this.#lines;
    let from = this.#lineAt[slot] as number;
    const end = at + (this.#lineLength[slot] as number);
    for (let to = at; to < end; to++) {
      output[to] = lines[from] as number;
      if (++from === lines.length) from = 0;
    }
    return end;
  }

  // Grows a ring or evicts the oldest entries until an entry with a line of `length` fits;
  // false when it never could.
  #makeRoom(length: number): boolean {
    if (length + ENTRY_BYTES > this.#maxBytes) return false;
    for (;;) {
      const entriesFull = this.#size === this.#sequence.length;
      const bytesNeeded = this.#lineBytes + length;
      const linesFull = bytesNeeded > this.#lines.length;
      if (!entriesFull && !linesFull) return true;
      if (entriesFull && this.#growEntries(bytesNeeded)) continue;
      if (linesFull && this.#growLines(bytesNeeded)) continue;
      // Neither ring can grow any more: from now on the oldest entries make room.
      this.#grown = true;
      if (this.#size === 0) return false;
      this.#evictOldest();
    }
  }

  #evictOldest(): void {
    const head = this.#head;
    this.#resumableAfter = this.#sequence[head] as number;
    this.#head = head + 1 === this.#sequence.length ? 0 : head + 1;
    this.#size--;
    const length = this.#lineLength[head] as number;
    this.#lineBytes -= length;
    this.#lineHead = this.#size === 0 ? 0 : (this.#lineAt[this.#head] as number);
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
    // Entries move to slots 0..size-1 of the new rings.
    const head = this.#head;
    const size = this.#size;
    this.#sequence = reordered(this.#sequence, new Float64Array(capacity), head, size);
    this.#from = reordered(this.#from, new Float64Array(capacity), head, size);
    this.#to = reordered(this.#to, new Float64Array(capacity), head, size);
    this.#lineAt = reordered(this.#lineAt, new Uint32Array(capacity), head, size);
    this.#lineLength = reordered(this.#lineLength, new Uint32Array(capacity), head, size);
    this.#kind = reordered(this.#kind, new Uint8Array(capacity), head, size);
    this.#head = 0;
    return true;
  }

  #growLines(needed: number): boolean {
    const old = this.#lines;
    const room = this.#maxBytes - this.#sequence.length * ENTRY_BYTES;
    const start = Math.min(MIN_LINE_BYTES, Math.floor(this.#maxBytes / 4));
    const capacity = Math.min(Math.max(start, old.length * 2, needed), room);
    if (capacity < needed) return false;
    // The lines move to 0..lineBytes-1 of the new ring, each entry's start with them.
    const grown = new Uint8Array(capacity);
    const shift = old.length - this.#lineHead;
    const tail = Math.min(this.#lineBytes, shift);
    grown.set(old.subarray(this.#lineHead, this.#lineHead + tail), 0);
    grown.set(old.subarray(0, this.#lineBytes - tail), tail);
    for (let index = 0; index < this.#size; index++) {
      const slot = this.#slotOf(index);
      const at = this.#lineAt[slot] as number;
      this.#lineAt[slot] = at >= this.#lineHead ? at - this.#lineHead : at + shift;
    }
    this.#lines = grown;
    this.#lineHead = 0;
    return true;
  }
}

// Copies the `size` entries of `ring` from slot `head` on (wrapping) to slots 0.. of `grown`.
function reordered<Ring extends Float64Array | Uint32Array | Uint8Array>(
  ring: Ring,
  grown: Ring,
  head: number,
  size: number,
): Ring {
  const first = Math.min(size, ring.length - head);
  grown.set(ring.subarray(head, head + first), 0);
  grown.set(ring.subarray(0, size - first), first);
  return grown;
}

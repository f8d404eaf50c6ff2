/**
 * The recent past of a stream, so that a client that reconnects can be sent what it missed
 * (docs/protocol.md §12): a ring of the last applied events, bounded in bytes, in which every
 * follow and unfollow records whether it changed the graph. A user's followees at any event
 * in the ring are then today's graph rolled back, so the notifications that a connection
 * open all along would have had are recomputed exactly, and nothing is kept per user.
 *
 * Layout: one byte ring of records, oldest at `#head`, each `RECORD_BYTES` of fixed fields
 * around its line: sequence, from, to (float64), kind and the line's length (uint32), the
 * line as read, padding to 8 bytes, and the record's length (uint32) in its last word so
 * the ring can be walked back from its newest record, which is how a resume reads it. A record never wraps: one that
 * does not fit before the end of the ring starts at 0, and `#wrapAt` marks where the older
 * records end. One ring means one budget: long lines and short ones share it as they come.
 *
 * Invariants:
 * - Records are the applied events, in sequence order. A number without one (a no-op, a
 *   refused follow, a skipped number) notified nobody and changed nothing.
 * - Every event numbered above `resumableAfter` has its record; it moves up as the oldest
 *   records are evicted to make room.
 * - The graph changes only by the events recorded here (or before a `restart()`), so
 *   rolling it back from its current state is exact.
 * - Memory: the ring is the only allocation and never passes `maxBytes`; it grows by
 *   doubling until then. A line is copied into it, so nothing outside is kept alive and,
 *   once the ring has grown, recording allocates nothing.
 */
import { EventType, type MazeEvent, type Sequence, type UserId } from './events.js';

/**
 * Bytes of one record besides its line: sequence, from, to (8 each), kind and the line's
 * length (4 each), the record's length (4), then padding to a multiple of 8 (0-7 bytes), so
 * every field is read through an aligned typed array.
 */
export const RECORD_BYTES = 36;

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
  /** Records of the history looked at (the cost of this resume). */
  readonly scanned: number;
}

/** Why a resume cannot be exact (docs/protocol.md §12). */
export const ResumeGap = {
  /** The history no longer holds every event after the client's last one. */
  Trimmed: 'trimmed',
  /** The client's last sequence number is beyond the last event applied here. */
  Ahead: 'ahead',
  /** The client's last sequence number is from another stream (another epoch). */
  Epoch: 'epoch',
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

/**
 * The line a resuming client gets instead of a replay (docs/protocol.md §12): why, and the
 * number its live notifications start from. It starts with `!`, which no event line does.
 */
export function gapLine(reason: ResumeGap, next: Sequence): string {
  return `!GAP|${reason}|${next}\n`;
}

const FOLLOW = 0;
const UNFOLLOW = 1;
const BROADCAST = 2;
const PRIVATE = 3;
const STATUS = 4;
const TYPE_MASK = 7;
/** Set in a record's kind when its follow or unfollow changed the graph. */
const CHANGED = 8;

// A record's fields, in 8-byte words (float64) and 4-byte words (uint32) from its start.
const F64_FROM = 1;
const F64_TO = 2;
const U32_KIND = 6;
const U32_LENGTH = 7;
const AT_LINE = 32;

/** The ring's first size (or the budget, if smaller). */
const MIN_RING_BYTES = 64 * 1024;
const NOT_WRAPPED = -1;

/** Bytes a record with a line of `length` takes: its fields, the line, padding to 8. */
function recordBytes(length: number): number {
  return (RECORD_BYTES + length + 7) & ~7;
}

// Comparisons of interned strings: cheaper on the hot path than a keyed lookup.
function kindOf(type: EventType): number {
  if (type === EventType.PrivateMessage) return PRIVATE;
  if (type === EventType.StatusUpdate) return STATUS;
  if (type === EventType.Follow) return FOLLOW;
  if (type === EventType.Broadcast) return BROADCAST;
  return UNFOLLOW;
}

export class ResumeHistory {
  readonly #maxBytes: number;
  // Three views of one buffer.
  #ring = new Uint8Array(0);
  #f64 = new Float64Array(0);
  #u32 = new Uint32Array(0);
  /** Where the oldest record starts, and where the next one goes. */
  #head = 0;
  #tail = 0;
  /** Where the records before the ring's wrap end (`NOT_WRAPPED` while it has not wrapped). */
  #wrapAt = NOT_WRAPPED;
  #size = 0;
  #resumableAfter: Sequence;

  /** A history of at most `maxBytes` that starts before `firstSequence`. */
  constructor(maxBytes: number, firstSequence: Sequence) {
    // Whole 8-byte words, so every record and field stays aligned.
    this.#maxBytes = maxBytes - (maxBytes % 8);
    this.#resumableAfter = firstSequence - 1;
  }

  /** Events held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes allocated by the ring (at most `maxBytes`). */
  get bytes(): number {
    return this.#ring.length;
  }

  /** The smallest last-seen number a client can resume after exactly. */
  get resumableAfter(): Sequence {
    return this.#resumableAfter;
  }

  /**
   * Adds the event just applied; `changedGraph` says whether its follow or unfollow added or
   * removed an edge. The oldest records make room; a line that could never fit empties the
   * history instead. The hot path: a few stores and a copy of the line.
   */
  record(event: MazeEvent, changedGraph: boolean): void {
    const { bytes: line, start, end } = event;
    const length = end - start;
    const bytes = recordBytes(length);
    const at = this.#placeFor(bytes);
    if (at === -1) {
      this.restart(event.sequence + 1);
      return;
    }
    const ring = this.#ring;
    const word = at >>> 3;
    const half = at >>> 2;
    // A broadcast has no ids and a status update no `to`: the parser gives them 0.
    const ids = event as { readonly from?: UserId; readonly to?: UserId };
    const kind = kindOf(event.type);
    this.#f64[word] = event.sequence;
    this.#f64[word + F64_FROM] = ids.from ?? 0;
    this.#f64[word + F64_TO] = ids.to ?? 0;
    this.#u32[half + U32_KIND] = changedGraph ? kind | CHANGED : kind;
    this.#u32[half + U32_LENGTH] = length;
    const lineAt = at + AT_LINE;
    for (let i = 0; i < length; i++) ring[lineAt + i] = line[start + i] as number;
    this.#tail = at + bytes;
    this.#u32[(this.#tail >>> 2) - 1] = bytes;
    this.#size++;
  }

  /** Forgets every record: the stream goes on (or starts again) at `nextSequence`. */
  restart(nextSequence: Sequence): void {
    this.#head = 0;
    this.#tail = 0;
    this.#wrapAt = NOT_WRAPPED;
    this.#size = 0;
    this.#resumableAfter = nextSequence - 1;
  }

  /**
   * What `user` missed after `lastSequence`, as a connection open all along would have
   * received it: follows of the user, private messages to the user, broadcasts, and status
   * updates of those the user followed at each event's time. `lastApplied` is the number of
   * the last event applied, `isFollowing` today's graph. Costs the records after
   * `lastSequence`, walked back from the newest, and a map of the followees met among them.
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
    const ring = this.#ring;
    const f64 = this.#f64;
    const u32 = this.#u32;
    // Whether the user follows a followee just after the record being looked at: today's
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
    let scanned = 0;
    let end = this.#tail;
    for (let left = this.#size; left > 0; left--) {
      const start = end - (u32[(end >>> 2) - 1] as number);
      const word = start >>> 3;
      const half = start >>> 2;
      if ((f64[word] as number) <= lastSequence) break;
      scanned++;
      const kind = u32[half + U32_KIND] as number;
      const type = kind & TYPE_MASK;
      let notified: boolean;
      if (type === BROADCAST) notified = true;
      else if (type === STATUS) notified = follows(f64[word + F64_FROM] as number);
      else if (type === PRIVATE) notified = f64[word + F64_TO] === user;
      else {
        const to = f64[word + F64_TO] as number;
        notified = type === FOLLOW && to === user;
        // Before a change by the user, the edge was the other way round.
        if ((kind & CHANGED) !== 0 && f64[word + F64_FROM] === user) {
          following.set(to, !follows(to));
        }
      }
      if (notified) {
        picked.push(start);
        bytes += u32[half + U32_LENGTH] as number;
      }
      end = start === 0 && this.#wrapAt !== NOT_WRAPPED ? this.#wrapAt : start;
    }
    const output = new Uint8Array(bytes);
    let at = 0;
    for (let i = picked.length - 1; i >= 0; i--) {
      const start = picked[i] as number;
      const length = u32[(start >>> 2) + U32_LENGTH] as number;
      output.set(ring.subarray(start + AT_LINE, start + AT_LINE + length), at);
      at += length;
    }
    return { exact: true, notifications: picked.length, output, scanned };
  }

  // Where a record of `bytes` goes: after the newest, or at 0 when it does not fit before
  // the end, growing the ring or evicting the oldest records until it fits; -1 when it never
  // could.
  #placeFor(bytes: number): number {
    if (bytes > this.#maxBytes) return -1;
    for (;;) {
      if (this.#size === 0) {
        this.#head = 0;
        this.#tail = 0;
        this.#wrapAt = NOT_WRAPPED;
      }
      const capacity = this.#ring.length;
      if (this.#wrapAt === NOT_WRAPPED) {
        if (this.#tail + bytes <= capacity) return this.#tail;
        if (bytes <= this.#head) {
          this.#wrapAt = this.#tail;
          this.#tail = 0;
          return 0;
        }
      } else if (this.#tail + bytes <= this.#head) return this.#tail;
      if (capacity < this.#maxBytes) this.#grow(bytes);
      else if (this.#size === 0) return -1;
      else this.#evictOldest();
    }
  }

  #evictOldest(): void {
    const head = this.#head;
    this.#resumableAfter = this.#f64[head >>> 3] as number;
    this.#head = head + recordBytes(this.#u32[(head >>> 2) + U32_LENGTH] as number);
    this.#size--;
    if (this.#head === this.#wrapAt) {
      this.#head = 0;
      this.#wrapAt = NOT_WRAPPED;
    }
  }

  // Doubles the ring (up to the budget, and at least to hold `bytes` more), its records
  // laid out again from 0, oldest first.
  #grow(bytes: number): void {
    const old = this.#ring;
    const used =
      this.#wrapAt === NOT_WRAPPED
        ? old.subarray(this.#head, this.#tail)
        : old.subarray(this.#head, this.#wrapAt);
    const wrapped = this.#wrapAt === NOT_WRAPPED ? old.subarray(0, 0) : old.subarray(0, this.#tail);
    const needed = used.length + wrapped.length + bytes;
    const capacity = Math.min(this.#maxBytes, Math.max(MIN_RING_BYTES, old.length * 2, needed));
    const ring = new Uint8Array(capacity);
    ring.set(used, 0);
    ring.set(wrapped, used.length);
    this.#ring = ring;
    this.#f64 = new Float64Array(ring.buffer, 0, capacity >>> 3);
    this.#u32 = new Uint32Array(ring.buffer, 0, capacity >>> 2);
    this.#head = 0;
    this.#tail = used.length + wrapped.length;
    this.#wrapAt = NOT_WRAPPED;
  }
}

/**
 * The whole protocol as a state machine without I/O: lines in, deliveries and problems out.
 * It ties the event sequencer (parsing and ordering, shared with the ingest), the follow
 * graph and the router together so that an adapter only frames bytes and writes what it is
 * told.
 *
 * Invariants:
 * - Events are applied strictly in sequence order; an invalid body consumes its number
 *   as a no-op unless a valid event with its number arrives while it waits; a line without
 *   a sequence number, a duplicate or a stale number is discarded (docs/protocol.md §4).
 *   A follow beyond `maxFollowEdges` consumes its number as a no-op too, and is reported
 *   with the deliveries of the same push (docs/protocol.md §10).
 * - Recipients are computed when an event is applied, from the users connected at that
 *   moment: a user connected before a `push()` gets every event that push applies.
 * - Deliveries are returned in application order; events that notify nobody are left out.
 * - Every applied event is recorded in the resume history (`ResumeHistory`), which the graph
 *   changes only through, so `resume()` rebuilds exactly what a user missed.
 * - A stream has one epoch (`epoch.ts`), given as data: `resume()` reads a last sequence
 *   number only when the client names this epoch, and `reset()` starts another stream.
 */

import { ErrorCode, MazeError, type Problem } from '../errors.js';
import type { GivenOf } from '../options/option.js';
import { checkOptionValue } from '../options/option.js';
import { ConnectedUsers } from './connected-users.js';
import { checkEpoch } from './epoch.js';
import { EventSequencer } from './event-sequencer.js';
import { EventType, type MazeEvent, type Sequence, type UserId } from './events.js';
import { FollowGraph, type FollowGraphView, FollowOutcome } from './follow-graph.js';
import type { GraphSnapshot } from './graph-snapshot.js';
import { CORE_OPTIONS } from './options.js';
import { isEvent, quoteBytes } from './parser.js';
import { ResumeGap, ResumeHistory, type ResumeOutcome } from './resume-history.js';
import { recipientsOf } from './router.js';
import { StatusRecipients } from './status-recipients.js';

/** The core's options: one field per row of `CORE_OPTIONS`, and the stream's epoch. */
export interface MazeCoreOptions extends GivenOf<typeof CORE_OPTIONS> {
  /** First sequence number of the stream. Default 1. */
  readonly startSequence?: number;
  /** Most events that may wait for a missing number. Default 100,000. */
  readonly reorderCapacity?: number;
  /**
   * Most bytes of event lines that may wait for a missing number (an invalid body counts
   * its report). Default 64 MiB.
   */
  readonly reorderBytes?: number;
  /**
   * Most follow edges the graph holds; a follow that would add one more is reported as
   * `ERR_FOLLOW_LIMIT` and applied as a no-op. Default 2^23 (8,388,608).
   */
  readonly maxFollowEdges?: number;
  /**
   * Bytes of recently applied events kept for `resume()` (their lines and 36 bytes each);
   * 0 keeps none. Default 0.
   */
  readonly resumeBytes?: number;
  /**
   * Byte between the fields of an event line: one character with a code below 256 (a latin1
   * byte of the input), not a decimal digit, CR, LF or an event type letter (F, U, B, P, S).
   * Default `|`. Deliveries keep the line as read, delimiter included.
   */
  readonly delimiter?: string;
  /**
   * The epoch of the stream this core applies (docs/protocol.md §12): sent to resume-aware
   * clients and checked against a resuming client's. 1 to 24 printable ASCII characters,
   * without `|` or the delimiter. Default `0`: give every stream whose clients may resume
   * its own, as `createMaze()` does (a random one).
   */
  readonly epoch?: string;
}

/** The epoch of a core given none. */
const DEFAULT_EPOCH = '0';

/** One applied event and the connected users it goes to. */
export interface Delivery {
  readonly event: MazeEvent;
  readonly recipients: readonly UserId[];
}

/** What one pushed line caused. */
export interface PushResult {
  readonly deliveries: readonly Delivery[];
  readonly problems: readonly Problem[];
}

/** Counters of the core (docs/protocol.md §9); the adapter adds connection and byte counters. */
export interface CoreStats {
  /** Lines pushed. */
  readonly eventsReceived: number;
  /** Valid events applied in order. */
  readonly eventsApplied: number;
  /** Numbers consumed as a no-op: a line with an invalid body, or a follow refused by the bound. */
  readonly eventsNoop: number;
  /** Follows refused because the graph held `maxFollowEdges` edges (`ERR_FOLLOW_LIMIT`). */
  readonly followsRefused: number;
  /**
   * Lines discarded: no sequence number, duplicate, stale, an invalid body replaced by a
   * valid event while waiting, or still waiting at `reset()`.
   */
  readonly eventsDiscarded: number;
  /** Numbers declared lost because the reorder buffer overflowed. */
  readonly sequencesSkipped: number;
  /** Events waiting in the reorder buffer. */
  readonly pending: number;
  /** Bytes of the events waiting in the reorder buffer (what `reorderBytes` bounds). */
  readonly pendingBytes: number;
  /** The number the next applied event will carry. */
  readonly nextSequence: number;
  /** Distinct users with at least one connection. */
  readonly usersConnected: number;
  /** Follow edges in the graph. */
  readonly followEdges: number;
  /** Events held for resumes. */
  readonly resumeHistoryEvents: number;
  /** Bytes allocated for them (at most `resumeBytes`). */
  readonly resumeHistoryBytes: number;
  /** The smallest last sequence number a client can resume after exactly. */
  readonly resumableAfter: number;
}

const NO_DELIVERIES: readonly Delivery[] = Object.freeze([]);
const NO_PROBLEMS: readonly Problem[] = Object.freeze([]);
const NO_RECIPIENTS: readonly UserId[] = Object.freeze([]);
const NOTHING: PushResult = Object.freeze({ deliveries: NO_DELIVERIES, problems: NO_PROBLEMS });

export class MazeCore {
  readonly #sequencer: EventSequencer;
  readonly #graph: FollowGraph;
  readonly #connected = new ConnectedUsers();
  /** Status updates' recipients, kept per author between changes. */
  readonly #statusRecipients: StatusRecipients;
  readonly #history: ResumeHistory;
  readonly #startSequence: number;
  readonly #delimiter: string;
  #epoch: string;
  #received = 0;
  #applied = 0;
  #noop = 0;
  #refused = 0;
  // Problems of refused follows met while applying, for the current push() to return.
  #refusals: Problem[] | undefined;

  constructor(options: MazeCoreOptions = {}) {
    this.#sequencer = new EventSequencer(options);
    this.#graph = new FollowGraph({ maxEdges: options.maxFollowEdges });
    this.#statusRecipients = new StatusRecipients(this.#graph, this.#connected);
    this.#startSequence = this.#sequencer.nextSequence;
    const row = CORE_OPTIONS.resumeBytes;
    const resumeBytes = checkOptionValue(row, options.resumeBytes ?? row.default, 'resumeBytes');
    this.#history = new ResumeHistory(resumeBytes, this.#startSequence);
    this.#delimiter = options.delimiter ?? CORE_OPTIONS.delimiter.default;
    this.#epoch = checkEpoch(options.epoch ?? DEFAULT_EPOCH, this.#delimiter);
  }

  /** The epoch of the stream applied now (docs/protocol.md §12). */
  get epoch(): string {
    return this.#epoch;
  }

  /**
   * The number of the last event applied, or consumed as a no-op or skipped
   * (`startSequence - 1` before the first): every event applied from now on is numbered above
   * it. A client connected now may resume after it (docs/protocol.md §12).
   */
  get lastApplied(): Sequence {
    return this.#sequencer.nextSequence - 1;
  }

  /** The follow graph, to read: only the events `push()` applies change it. */
  get graph(): FollowGraphView {
    return this.#graph;
  }

  /** Users with at least one connection. */
  get connectedUsers(): ConnectedUsers {
    return this.#connected;
  }

  /** Registers one more connection for `user`; it receives events applied from now on. */
  connect(user: UserId): void {
    this.#connected.connect(user);
  }

  /** Removes one connection of `user`. Throws `ERR_INVALID_STATE` if it has none. */
  disconnect(user: UserId): void {
    this.#connected.disconnect(user);
  }

  /**
   * What `user` missed after `lastSequence` of the stream `epoch` (docs/protocol.md §12): the
   * notifications of the events applied since, as a connection of the user open all along
   * would have received them, or why that cannot be told exactly (`epoch` is not this
   * stream's, the history no longer reaches back to `lastSequence`, or no event numbered
   * `lastSequence` has been applied yet). It does not connect the user: call `connect()`
   * right after, before the next `push()`, and the two together give the client every
   * notification after `lastSequence` exactly once. Costs the history after `lastSequence`,
   * never the number of users.
   */
  resume(user: UserId, lastSequence: number, epoch: string): ResumeOutcome {
    // Another stream's number names nothing here: the history is not consulted.
    if (epoch !== this.#epoch) {
      return { exact: false, reason: ResumeGap.Epoch, next: this.#sequencer.nextSequence };
    }
    const graph = this.#graph;
    return this.#history.resume(user, lastSequence, this.lastApplied, (a, b) =>
      graph.isFollowing(a, b),
    );
  }

  /**
   * Lines pushed that parsed as events (a sequence number and a valid body), duplicate and
   * stale ones included: what tells a live event source from one that sends only empty or
   * invalid lines (docs/protocol.md, "Idle event source").
   */
  get wellFormedLines(): number {
    return this.#sequencer.wellFormed;
  }

  /**
   * Takes one event line (with or without its terminator) and applies what became ready:
   * text, converted to bytes once, or `bytes[start, end)`. The bytes are only lent: the
   * returned deliveries' events may be ranges of them, valid until the caller reuses them;
   * a line that has to wait for a missing number is copied.
   */
  push(line: string): PushResult;
  push(bytes: Uint8Array, start?: number, end?: number): PushResult;
  push(line: string | Uint8Array, start = 0, end = line.length): PushResult {
    return this.#applyOffered(this.#sequencer.offer(line, start, end));
  }

  /**
   * Takes one line already in sequence order, as the cluster's gateway reads them from the
   * log (docs/protocol.md §11), and applies it at once: the numbers between it and the last
   * one were consumed by the ingest. A line at or below the last number is stale and
   * discarded, as in `push()`. Use one of the two methods for a whole stream, not both.
   */
  applyInOrder(line: string): PushResult;
  applyInOrder(bytes: Uint8Array, start?: number, end?: number): PushResult;
  applyInOrder(line: string | Uint8Array, start = 0, end = line.length): PushResult {
    return this.#applyOffered(this.#sequencer.offerInOrder(line, start, end));
  }

  #applyOffered(offered: Problem[] | undefined): PushResult {
    this.#received++;
    let problems = offered;
    const deliveries = this.#applyReady();
    if (this.#refusals !== undefined) {
      problems = problems === undefined ? this.#refusals : [...problems, ...this.#refusals];
      this.#refusals = undefined;
    }
    if (problems === undefined && deliveries === NO_DELIVERIES) return NOTHING;
    return { deliveries, problems: problems ?? NO_PROBLEMS };
  }

  /**
   * Starts from a snapshot instead of the first event (cluster mode's late gateway): its
   * follow graph, and the stream position after it (numbers up to its `lastSequence` are
   * stale from now on). Only on a core that has taken no line yet; throws
   * `ERR_INVALID_STATE` otherwise, and `ERR_INVALID_OPTION` (nothing restored) when the
   * snapshot was taken with another `maxFollowEdges`.
   */
  restore(snapshot: GraphSnapshot): void {
    if (this.#received !== 0 || this.#graph.edgeCount !== 0) {
      throw new MazeError(ErrorCode.InvalidState, 'restore() needs a core that has taken no line');
    }
    if (snapshot.maxEdges !== this.#graph.maxEdges) {
      throw new MazeError(
        ErrorCode.InvalidOption,
        `the snapshot was taken with maxFollowEdges ${snapshot.maxEdges}, this core has ${this.#graph.maxEdges}: a follow refused at one bound is kept at the other; give every process of the cluster the same maxFollowEdges`,
      );
    }
    snapshot.forEachFollowee((followee, followers) => {
      for (const follower of followers) this.#graph.follow(follower, followee);
    });
    this.#sequencer.advanceTo(snapshot.lastSequence + 1);
    this.#history.restart(snapshot.lastSequence + 1);
  }

  /**
   * Forgets the graph, the stream position and the resume history; connections and
   * counters stay, and the events still waiting are counted as discarded. `epoch` names the
   * stream that starts (checked as the option is; throws `ERR_INVALID_OPTION`, nothing
   * reset): give a new one, or a client of the old stream may resume against the new one's
   * numbers. Without it the epoch stays.
   */
  reset(epoch?: string): void {
    if (epoch !== undefined) this.#epoch = checkEpoch(epoch, this.#delimiter);
    this.#graph.clear();
    this.#statusRecipients.clear();
    this.#sequencer.reset();
    this.#history.restart(this.#startSequence);
  }

  stats(): CoreStats {
    return {
      eventsReceived: this.#received,
      eventsApplied: this.#applied,
      eventsNoop: this.#noop,
      followsRefused: this.#refused,
      eventsDiscarded: this.#sequencer.discarded,
      sequencesSkipped: this.#sequencer.skipped,
      pending: this.#sequencer.pending,
      pendingBytes: this.#sequencer.pendingBytes,
      nextSequence: this.#sequencer.nextSequence,
      usersConnected: this.#connected.size,
      followEdges: this.#graph.edgeCount,
      resumeHistoryEvents: this.#history.size,
      resumeHistoryBytes: this.#history.bytes,
      resumableAfter: this.#history.resumableAfter,
    };
  }

  #applyReady(): readonly Delivery[] {
    let deliveries: Delivery[] | undefined;
    for (let slot = this.#sequencer.next(); slot !== undefined; slot = this.#sequencer.next()) {
      if (!isEvent(slot)) {
        this.#noop++;
        continue;
      }
      const recipients = this.#apply(slot);
      if (recipients.length === 0) continue;
      deliveries ??= [];
      deliveries.push({ event: slot, recipients });
    }
    return deliveries ?? NO_DELIVERIES;
  }

  // Applies one event; returns its recipients (none for a refused follow, which is counted
  // and queued for this push's problems instead).
  #apply(event: MazeEvent): readonly UserId[] {
    let changedGraph = false;
    if (event.type === EventType.Follow) {
      const outcome = this.#graph.follow(event.from, event.to);
      if (outcome === FollowOutcome.Refused) {
        this.#noop++;
        this.#refused++;
        this.#refusals ??= [];
        this.#refusals.push({
          code: ErrorCode.FollowLimit,
          message: `follow of ${event.to} by ${event.from} refused: the graph holds ${this.#graph.maxEdges} edges; applied as a no-op`,
          context: {
            sequence: event.sequence,
            line: quoteBytes(event.bytes, event.start, event.end),
          },
        });
        return NO_RECIPIENTS;
      }
      changedGraph = outcome === FollowOutcome.Added;
      if (changedGraph) this.#edgeChanged(event.from, event.to);
    } else if (event.type === EventType.Unfollow) {
      changedGraph = this.#graph.unfollow(event.from, event.to);
      if (changedGraph) this.#edgeChanged(event.from, event.to);
    }
    this.#history.record(event, changedGraph);
    this.#applied++;
    if (event.type === EventType.StatusUpdate) return this.#statusRecipients.of(event.from);
    return recipientsOf(event, this.#graph, this.#connected);
  }

  // Only a connected follower's edge changes what a status update of `followee` reaches.
  #edgeChanged(follower: UserId, followee: UserId): void {
    if (this.#connected.has(follower)) this.#statusRecipients.changed(followee);
  }
}

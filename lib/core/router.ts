/**
 * Who receives an applied event (the "who is notified" column of SPEC 3).
 *
 * Invariants: pure (it reads the graph, never changes it); recipients are connected
 * users, each listed once; users without a connection are skipped silently.
 */
import { EventType, type MazeEvent, type UserId } from './events.js';
import type { FollowGraph } from './follow-graph.js';

/** The users that currently have at least one connection. A `Set` or a `Map` keyed by user fits. */
export interface ConnectedUsers {
  has(user: UserId): boolean;
  readonly size: number;
  keys(): IterableIterator<UserId>;
}

const NOBODY: readonly UserId[] = Object.freeze([]);

/** The connected users to notify of `event`, given the graph as it is after applying it. */
export function recipientsOf(
  event: MazeEvent,
  graph: FollowGraph,
  connected: ConnectedUsers,
): readonly UserId[] {
  switch (event.type) {
    case EventType.Follow:
    case EventType.PrivateMessage:
      return connected.has(event.to) ? [event.to] : NOBODY;
    case EventType.Unfollow:
      return NOBODY;
    case EventType.Broadcast:
      return connected.size === 0 ? NOBODY : Array.from(connected.keys());
    case EventType.StatusUpdate:
      return connectedFollowers(graph.followersOf(event.from), connected);
  }
}

// Walks the smaller side of the intersection: with many followers and few clients
// (or the reverse) this does min(|followers|, |connected|) lookups, not the sum.
function connectedFollowers(
  followers: ReadonlySet<UserId>,
  connected: ConnectedUsers,
): readonly UserId[] {
  if (followers.size === 0 || connected.size === 0) return NOBODY;
  const recipients: UserId[] = [];
  if (followers.size <= connected.size) {
    for (const user of followers) if (connected.has(user)) recipients.push(user);
  } else {
    for (const user of connected.keys()) if (followers.has(user)) recipients.push(user);
  }
  return recipients.length === 0 ? NOBODY : recipients;
}

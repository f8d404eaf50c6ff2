/**
 * Who receives an applied event (the "who is notified" column of docs/protocol.md §3).
 *
 * Invariants: pure (it reads the graph, never changes it); recipients are connected
 * users, each listed once; users without a connection are skipped silently. The returned
 * array must be treated as read-only: a broadcast returns the connected users' snapshot.
 */
import { EventType, type MazeEvent, type UserId } from './events.js';
import type { FollowGraph } from './follow-graph.js';
import type { UserLookup } from './user-lookup.js';

const NOBODY: readonly UserId[] = Object.freeze([]);

/** The connected users to notify of `event`, given the graph as it is after applying it. */
export function recipientsOf(
  event: MazeEvent,
  graph: FollowGraph,
  connected: UserLookup,
): readonly UserId[] {
  switch (event.type) {
    case EventType.Follow:
    case EventType.PrivateMessage:
      return connected.has(event.to) ? [event.to] : NOBODY;
    case EventType.Unfollow:
      return NOBODY;
    case EventType.Broadcast:
      return connected.list();
    case EventType.StatusUpdate:
      return graph.followersAmong(event.from, connected);
  }
}

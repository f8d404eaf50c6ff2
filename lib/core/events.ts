/**
 * The five event types of the protocol (docs/protocol.md §3) as plain values.
 * Invariant: `bytes[start, end)` is the event exactly as read, terminator included, so it
 * can be forwarded byte-for-byte. The range usually lies in the input chunk it was read
 * from: it is valid while that chunk is being applied, and whatever keeps an event longer
 * (the reorder buffer) keeps its own copy. `lineOf()` gives it as text (latin1: one
 * character per byte).
 */
import { latin1Text } from './latin1.js';

export type UserId = number;
export type Sequence = number;

/** The wire letter of each event type. */
export const EventType = {
  Follow: 'F',
  Unfollow: 'U',
  Broadcast: 'B',
  PrivateMessage: 'P',
  StatusUpdate: 'S',
} as const;

export type EventType = (typeof EventType)[keyof typeof EventType];

interface EventCommon {
  readonly sequence: Sequence;
  /**
   * The bytes holding the line as read; `[start, end)` is the line, terminator included:
   * what a notification sends.
   */
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
}

/** `from` now follows `to`; only `to` is notified. */
export interface FollowEvent extends EventCommon {
  readonly type: typeof EventType.Follow;
  readonly from: UserId;
  readonly to: UserId;
}

/** `from` stops following `to`; nobody is notified. */
export interface UnfollowEvent extends EventCommon {
  readonly type: typeof EventType.Unfollow;
  readonly from: UserId;
  readonly to: UserId;
}

/** Every connected client is notified. */
export interface BroadcastEvent extends EventCommon {
  readonly type: typeof EventType.Broadcast;
}

/** Only `to` is notified. */
export interface PrivateMessageEvent extends EventCommon {
  readonly type: typeof EventType.PrivateMessage;
  readonly from: UserId;
  readonly to: UserId;
}

/** Every current follower of `from` is notified. */
export interface StatusUpdateEvent extends EventCommon {
  readonly type: typeof EventType.StatusUpdate;
  readonly from: UserId;
}

export type MazeEvent =
  | FollowEvent
  | UnfollowEvent
  | BroadcastEvent
  | PrivateMessageEvent
  | StatusUpdateEvent;

/** The line of `event` as read, terminator included, as text (one character per byte). */
export function lineOf(event: MazeEvent): string {
  return latin1Text(event.bytes, event.start, event.end);
}

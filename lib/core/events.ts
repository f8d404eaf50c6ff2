/**
 * The five event types of the protocol (docs/protocol.md §3) as plain values.
 * Invariant: `line` is the event exactly as read, terminator included, so it can be
 * forwarded byte-for-byte. Strings are treated as one code unit per byte (latin1), which
 * makes any byte sequence round-trip unchanged.
 */

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
  /** The line as read, terminator included: what a notification sends. */
  readonly line: string;
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

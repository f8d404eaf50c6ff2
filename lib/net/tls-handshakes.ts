/**
 * The TLS handshakes in progress on one listening port (docs/security.md): their deadlines
 * and their bound, between the accepted TCP connection and its finished handshake.
 *
 * Invariants:
 * - A handshake has a deadline (`HandshakeDeadline`): the caller's (the identify timeout on
 *   the client port, which then covers the handshake and the id line together),
 *   `EVENT_SOURCE_HANDSHAKE_TIMEOUT_MS` on the event port; a peer that has sent no byte by
 *   `FIRST_RECORD_TIMEOUT_MS` is closed then.
 * - Handshakes in progress are bounded by the caller (`HandshakeBound`; on the client port
 *   they count against `maxClients` with the clients attached, `roomForClients()`), so a
 *   flood of connections that never finish theirs cannot take every descriptor. At the bound
 *   a newcomer is not refused: the oldest handshake that has sent nothing (else the oldest)
 *   is closed for it (`limit`), so holding the slots takes a steady flood, not a few idle
 *   connections. Only with no handshake to close is the newcomer closed, before any TLS work.
 * - A handshake is tracked from its TCP connection until that closes or its handshake
 *   finishes, whichever comes first; its timer goes with it.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { HandshakeDeadline } from './handshake-deadline.js';
import type { FailureReport, HandshakeFailure } from './tls-failures.js';

/**
 * Longest TLS handshake of an event source, in ms: it has no id line, and a connection that
 * never finishes its handshake must give its descriptor back.
 */
export const EVENT_SOURCE_HANDSHAKE_TIMEOUT_MS = 5_000;
/**
 * Event source handshakes in progress at once: one source is served, and each handshake
 * holds a descriptor taken from the reserve that `maxClients` leaves (64 at least).
 */
export const EVENT_SOURCE_MAX_HANDSHAKES = 16;
/**
 * Handshakes looked at, oldest first, for a silent one to close when a connection arrives at
 * the bound; with none among them, the oldest is closed.
 */
const SILENT_HANDSHAKE_CHECKS = 16;
/** Reasons of handshakes closed here kept until their reset is reported (see below). */
const MAX_CLOSE_REASONS_PENDING = 1_024;
/**
 * Client handshakes allowed beyond `maxClients` for half-closed clients that may give way: each
 * holds a descriptor from the reserve that `maxClients` leaves until its client attaches (and
 * evicts one) or is refused.
 */
const HALF_CLOSED_HANDSHAKES = 16;

/** How many handshakes a port lets run at once. */
export interface HandshakeBound {
  /** Whether one more handshake may begin while `handshaking` are in progress. */
  admits(handshaking: number): boolean;
  /**
   * Takes a connection that arrives when `admits()` is false and no handshake is in progress
   * to give way (already destroyed, before any TLS work). Without it, it is counted as a
   * failed handshake (`limit`).
   */
  refuse?(socket: Socket): void;
}

/** A handshake in progress, or just finished. */
export interface Handshake {
  /** When its TCP connection was accepted. */
  readonly started: number;
  readonly peer: string;
}

interface Tracked extends Handshake {
  readonly deadline: HandshakeDeadline;
}

/** The handshakes in progress on one port (see the module header). */
export class HandshakesInProgress {
  readonly #bound: HandshakeBound;
  readonly #handshakeTimeout: number;
  readonly #failures: FailureReport;
  // By TCP socket, oldest first.
  readonly #handshaking = new Map<Socket, Tracked>();
  // The same by peer address, to find a finished one: Node hands over the TLS socket, which
  // names the same peer. Unique, since a socket accepted without an address is closed.
  readonly #byPeer = new Map<string, Socket>();
  // Why the handshakes closed here failed, in order: their TLS socket then reports a reset,
  // which is counted under this reason instead. Bounded, for one that never reports.
  readonly #closedHere: HandshakeFailure[] = [];

  /** Bounded by `bound`, each within `handshakeTimeout` ms; failures go to `failures`. */
  constructor(bound: HandshakeBound, handshakeTimeout: number, failures: FailureReport) {
    this.#bound = bound;
    this.#handshakeTimeout = handshakeTimeout;
    this.#failures = failures;
  }

  /**
   * Tracks the handshake of a new TCP connection, closing the one that gives way to it at the
   * bound. False: `socket` itself is closed (no address, or no room), counted or refused.
   */
  begin(socket: Socket): boolean {
    const peer = peerOf(socket);
    if (peer === undefined) {
      socket.destroy();
      this.#failures.add('reset', 'a peer gone', 'closed before its handshake');
      return false;
    }
    if (!this.#bound.admits(this.#handshaking.size)) {
      const oldest = this.#oldest();
      if (oldest === undefined) {
        socket.destroy();
        if (this.#bound.refuse === undefined) this.#failures.add('limit', peer, 'no room');
        else this.#bound.refuse(socket);
        return false;
      }
      // The newcomer takes its place: refusing it instead would let a few connections that
      // never finish theirs keep everyone out (docs/security.md).
      this.#close(oldest, 'limit');
    }
    const deadline = new HandshakeDeadline(socket, this.#handshakeTimeout, () =>
      this.#close(socket, 'timeout'),
    );
    const handshake: Tracked = { started: deadline.started, peer, deadline };
    this.#handshaking.set(socket, handshake);
    this.#byPeer.set(peer, socket);
    socket.once('close', () => this.#forget(socket));
    return true;
  }

  /** The handshake `socket` finished, no longer tracked; `undefined` if its peer is gone. */
  finish(socket: TLSSocket): Handshake | undefined {
    const peer = peerOf(socket);
    const tcpSocket = peer === undefined ? undefined : this.#byPeer.get(peer);
    return tcpSocket === undefined ? undefined : this.#forget(tcpSocket);
  }

  /**
   * Why a handshake that failed with `error` was closed here, if it was: a reset is then the
   * reason it was closed for, oldest first.
   */
  closedFor(error: NodeJS.ErrnoException): HandshakeFailure | undefined {
    return error.code === 'ECONNRESET' && this.#closedHere.length > 0
      ? this.#closedHere.shift()
      : undefined;
  }

  #close(socket: Socket, kind: HandshakeFailure): void {
    if (this.#closedHere.length === MAX_CLOSE_REASONS_PENDING) this.#closedHere.shift();
    this.#closedHere.push(kind);
    socket.destroy();
  }

  #forget(socket: Socket): Handshake | undefined {
    const handshake = this.#handshaking.get(socket);
    if (handshake === undefined) return undefined;
    handshake.deadline.cancel();
    this.#handshaking.delete(socket);
    this.#byPeer.delete(handshake.peer);
    return handshake;
  }

  // The first silent one among the oldest few (sent no byte: likely holding a slot for
  // nothing), else the oldest; `undefined` when none is in progress.
  #oldest(): Socket | undefined {
    let oldest: Socket | undefined;
    let checked = 0;
    for (const socket of this.#handshaking.keys()) {
      oldest ??= socket;
      if (socket.bytesRead === 0) return socket;
      if (++checked === SILENT_HANDSHAKE_CHECKS) break;
    }
    return oldest;
  }
}

/**
 * How many more client handshakes may run: `maxClients` less the clients attached
 * (identified or identifying), plus one per half-closed client, which may give way to a new
 * one when it attaches (up to `HALF_CLOSED_HANDSHAKES`), from a taker's stats.
 */
export function roomForClients(
  maxClients: number,
  stats: {
    readonly clientsConnected: number;
    readonly clientsIdentifying: number;
    readonly clientsHalfClosed: number;
  },
): number {
  return (
    maxClients -
    stats.clientsConnected -
    stats.clientsIdentifying +
    Math.min(stats.clientsHalfClosed, HALF_CLOSED_HANDSHAKES)
  );
}

/** `socket`'s peer as `address:port`; a socket the peer already closed may have forgotten it. */
export function peerOf(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined
    ? undefined
    : `${socket.remoteAddress}:${socket.remotePort}`;
}

/**
 * The TLS handshakes in progress on an HTTPS monitoring port, between the accepted TCP
 * connection and its finished handshake: bounded and quick, so silent connections cannot
 * keep a liveness probe from being answered over HTTPS.
 *
 * Invariants:
 * - At most `MONITOR_MAX_HANDSHAKES` at once. At the bound a newcomer is not refused: the
 *   oldest handshake that has sent no byte (else the oldest) is closed for it, so holding
 *   them takes a steady flood, not a few idle connections.
 * - A peer that has sent no byte `FIRST_RECORD_TIMEOUT_MS` after connecting is closed (a
 *   real client sends its hello at once); the whole handshake has
 *   `MONITOR_HANDSHAKE_TIMEOUT_MS`, decided as on the other TLS ports (`HandshakeDeadline`):
 *   a last flight that arrived while the loop was busy past the deadline still counts.
 * - A handshake is tracked from its TCP connection until that closes or its handshake
 *   finishes, whichever comes first; its timer goes with it.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { HandshakeDeadline } from '../net/handshake-deadline.js';
import { peerOf } from '../net/tls-handshakes.js';

/** Milliseconds a monitor connection has to finish its TLS handshake. */
export const MONITOR_HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * Handshakes in progress at once. Each holds a descriptor from the reserve that `maxClients`
 * leaves, beside the monitor's connections (see `MONITOR_MAX_CONNECTIONS`).
 */
export const MONITOR_MAX_HANDSHAKES = 8;

export class MonitorHandshakes {
  /** TCP connections in their handshake, oldest first, with their deadlines. */
  readonly #handshaking = new Map<Socket, HandshakeDeadline>();
  /** The same by peer address: the finished handshake hands over the TLS socket. */
  readonly #byPeer = new Map<string, Socket>();

  /** Tracks the handshake of a new TCP connection; at the bound, one gives way to it. */
  begin(socket: Socket): void {
    const peer = peerOf(socket);
    // Gone already: nothing to hold.
    if (peer === undefined) return;
    if (this.#handshaking.size >= MONITOR_MAX_HANDSHAKES) {
      const held = [...this.#handshaking.keys()];
      const givesWay = held.find((other) => other.bytesRead === 0) ?? held[0];
      if (givesWay !== undefined) this.#close(givesWay);
    }
    const deadline = new HandshakeDeadline(socket, MONITOR_HANDSHAKE_TIMEOUT_MS, () =>
      this.#close(socket),
    );
    this.#handshaking.set(socket, deadline);
    this.#byPeer.set(peer, socket);
    socket.once('close', () => this.#forget(socket));
  }

  /** The handshake of `socket` finished: no longer tracked. */
  finish(socket: TLSSocket): void {
    const peer = peerOf(socket);
    const tcpSocket = peer === undefined ? undefined : this.#byPeer.get(peer);
    if (tcpSocket !== undefined) this.#forget(tcpSocket);
  }

  // Forgotten at once: its 'close' comes later, and the next newcomer must not count it.
  #close(socket: Socket): void {
    this.#forget(socket);
    socket.destroy();
  }

  #forget(socket: Socket): void {
    const deadline = this.#handshaking.get(socket);
    if (deadline === undefined) return;
    deadline.cancel();
    this.#handshaking.delete(socket);
    const peer = peerOf(socket);
    if (peer !== undefined && this.#byPeer.get(peer) === socket) this.#byPeer.delete(peer);
  }
}

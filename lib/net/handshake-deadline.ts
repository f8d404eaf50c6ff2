/**
 * The deadline of one TLS handshake in progress, shared by every TLS port (event, client,
 * monitor).
 *
 * Invariants:
 * - A peer that has sent no byte `FIRST_RECORD_TIMEOUT_MS` after its connection is closed
 *   then (a real client sends its hello at once); any other handshake has until its
 *   deadline.
 * - Both are decided after the poll phase of the loop turn they expire in, so bytes that had
 *   arrived by then count as sent: a last flight that arrived while the loop was busy past
 *   the deadline finishes its handshake. (Node's own `handshakeTimeout` decides before that
 *   poll phase, so the ports set it past every deadline: `NODE_HANDSHAKE_TIMEOUT`.)
 * - Once cancelled (the handshake finished or its connection closed), it never fires.
 */
import type { Socket } from 'node:net';
import { MAX_TIMER_MS } from '../options/option.js';

/**
 * The `handshakeTimeout` the TLS servers are given: the longest timer Node takes, so it
 * never comes before a deadline here (every timeout option is at most that). Not 0, which
 * Node reads as its default of 120 s.
 */
export const NODE_HANDSHAKE_TIMEOUT = MAX_TIMER_MS;

/**
 * A peer that has sent no byte of its handshake this long after its connection is closed:
 * a real client sends its hello at once, and silent connections must not hold the
 * handshake slots until the handshake deadline (docs/security.md).
 */
export const FIRST_RECORD_TIMEOUT_MS = 1_000;

/** The deadline of `socket`'s handshake (see the module header). */
export class HandshakeDeadline {
  /** When its TCP connection was accepted. */
  readonly started = performance.now();
  readonly #socket: Socket;
  readonly #timeout: number;
  readonly #expired: () => void;
  // The first-record deadline, then the handshake's; undefined once cancelled.
  #timer: NodeJS.Timeout | undefined;

  /** `expired` is called once if `socket`'s handshake is not done within `timeout` ms. */
  constructor(socket: Socket, timeout: number, expired: () => void) {
    this.#socket = socket;
    this.#timeout = timeout;
    this.#expired = expired;
    this.#timer = this.#arm(Math.min(FIRST_RECORD_TIMEOUT_MS, timeout));
  }

  /** The handshake finished or its connection closed: the deadline no longer applies. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): NodeJS.Timeout {
    return setTimeout(() => setImmediate(() => this.#passed()), ms).unref();
  }

  #passed(): void {
    if (this.#timer === undefined) return;
    const left = this.started + this.#timeout - performance.now();
    if (this.#socket.bytesRead === 0 || left <= 0) {
      this.#timer = undefined;
      this.#expired();
      return;
    }
    this.#timer = this.#arm(left);
  }
}

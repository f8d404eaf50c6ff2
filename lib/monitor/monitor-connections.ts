/**
 * The monitoring port's connections: how many it holds, how long a peer may take to ask, and
 * how much each may leave unanswered or unread. What a peer can cost is bounded whatever it
 * does, all connections together.
 *
 * Invariants:
 * - At most `MONITOR_MAX_CONNECTIONS` ordinary connections. Once they are all held, up to
 *   `MONITOR_HEALTH_SLOTS` more are let in on health slots: such a connection must ask within
 *   `MONITOR_HEALTH_SLOT_TIMEOUT_MS` and is closed then whatever it did; it gets one answer
 *   (`/healthz`, or 503 for anything else, at once), after which it is closed; a second
 *   request is a flood, cut off. When the health slots are full too, a newcomer takes the
 *   slot of the oldest one that has not asked for `/healthz` (or was cut off), or is closed
 *   at once. So a liveness probe (which asks as soon as it connects) is answered while every
 *   ordinary slot is held, whatever the peers on the health slots do.
 * - A request must arrive whole within `MONITOR_REQUEST_TIMEOUT_MS` (checked every
 *   `MONITOR_TIMEOUT_CHECK_MS`), and an idle keep-alive connection is closed after
 *   `MONITOR_KEEP_ALIVE_TIMEOUT_MS`: a peer that is slow to send (slowloris) holds a slot
 *   for a bounded time.
 * - Per connection at most `MONITOR_MAX_PIPELINED` requests wait for their answer, and a new
 *   request finds at most `MONITOR_MAX_UNSENT_BYTES` of earlier answers unread; a peer that
 *   pipelines more, or asks without reading, is cut off: nothing more of it is read or
 *   answered, and it is closed 30 to 40 s later. Memory per connection is a few
 *   answers and one read of requests.
 */
import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Ordinary connections at once. Each is a descriptor taken from the reserve that `maxClients`
 * leaves (`CLIENT_DESCRIPTOR_RESERVE`, 64), as are the health slots and, over HTTPS, the
 * handshakes in progress (`MONITOR_MAX_HANDSHAKES`): 28 at most, so scrapers cannot starve it.
 */
export const MONITOR_MAX_CONNECTIONS = 16;
/** Connections let in for `/healthz` alone once the ordinary ones are all held. */
const MONITOR_HEALTH_SLOTS = 4;
/** Time a connection on a health slot is held, answered or not: a probe asks at once. */
const MONITOR_HEALTH_SLOT_TIMEOUT_MS = 2_000;
/** Longest time a request (its headers included) may take to arrive: a slowloris peer is cut off. */
const MONITOR_REQUEST_TIMEOUT_MS = 10_000;
/** How often that deadline is checked (Node's default, 30 s, would quadruple it). */
const MONITOR_TIMEOUT_CHECK_MS = 1_000;
/** Idle time after which a keep-alive connection is closed (Node's default). */
const MONITOR_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Requests of one connection waiting for their answer: more is a flood of pipelined requests. */
const MONITOR_MAX_PIPELINED = 4;
/** Bytes of earlier answers a peer may leave unread when it asks again (one large page). */
const MONITOR_MAX_UNSENT_BYTES = 256 * 1024;
/**
 * How long a cut-off connection is held, unread, before it is closed: this, plus up to
 * `MONITOR_CUT_OFF_JITTER_MS`. Closed at once, a flooding peer would reconnect at once, and
 * every new connection costs the parse of a whole read of pipelined requests (up to 64 KiB,
 * tens of ms): held, it costs one read per this long.
 */
const MONITOR_CUT_OFF_MS = 30_000;
/**
 * Spread of the hold: peers that flooded together are not closed together, so their next
 * floods are parsed one at a time instead of all in one stall of the event loop.
 */
const MONITOR_CUT_OFF_JITTER_MS = 10_000;

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n';
/** Node's own answers to a bad request, by error code; 400 for the rest. */
const CLIENT_ERROR_ANSWERS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: 'HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n\r\n',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 'HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\n\r\n',
  ERR_HTTP_REQUEST_TIMEOUT: 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\n\r\n',
};

/** The HTTP server's deadlines (`createServer()` options). */
export const MONITOR_HTTP_OPTIONS = {
  headersTimeout: MONITOR_REQUEST_TIMEOUT_MS,
  requestTimeout: MONITOR_REQUEST_TIMEOUT_MS,
  keepAliveTimeout: MONITOR_KEEP_ALIVE_TIMEOUT_MS,
  connectionsCheckingInterval: MONITOR_TIMEOUT_CHECK_MS,
} as const satisfies ServerOptions;

/** Where a request came in. */
export type Slot = 'ordinary' | 'health';

export class MonitorConnections {
  #ordinary = 0;
  /** Connections on a health slot, oldest first, with whether each has asked for `/healthz`. */
  readonly #health = new Map<Socket, { probing: boolean }>();
  /** Requests of each connection waiting for their answer. */
  readonly #pending = new WeakMap<Socket, number>();
  /** Connections cut off for asking too much: held unread until they are closed. */
  readonly #cutOff = new WeakSet<Socket>();

  /** Lets `socket` in on a slot, or closes it: call it for every accepted connection. */
  admit(socket: Socket): void {
    if (this.#ordinary < MONITOR_MAX_CONNECTIONS) {
      this.#ordinary++;
      socket.once('close', () => this.#ordinary--);
      return;
    }
    if (this.#health.size >= MONITOR_HEALTH_SLOTS) {
      const idle = [...this.#health].find(
        ([held, state]) => !state.probing || this.#cutOff.has(held),
      )?.[0];
      if (idle === undefined) {
        socket.destroy();
        return;
      }
      this.#health.delete(idle);
      idle.destroy();
    }
    const deadline = setTimeout(() => socket.destroy(), MONITOR_HEALTH_SLOT_TIMEOUT_MS);
    this.#health.set(socket, { probing: false });
    socket.once('close', () => {
      clearTimeout(deadline);
      this.#health.delete(socket);
    });
  }

  /**
   * A request came in on `socket` (for `/healthz` when `probe`): the slot it holds, or
   * `undefined` once the connection is cut off for asking too much (then nothing is to be
   * answered). `answered` must be called once its answer is done.
   */
  request(socket: Socket, probe: boolean): Slot | undefined {
    if (!this.answerable(socket)) return undefined;
    const health = this.#health.get(socket);
    const pending = (this.#pending.get(socket) ?? 0) + 1;
    if (
      pending > (health === undefined ? MONITOR_MAX_PIPELINED : 1) ||
      socket.writableLength > MONITOR_MAX_UNSENT_BYTES
    ) {
      this.#cut(socket);
      return undefined;
    }
    this.#pending.set(socket, pending);
    if (health === undefined) return 'ordinary';
    // A probe waiting for its answer keeps its slot; its deadline still runs.
    health.probing = probe;
    return 'health';
  }

  /** Whether requests on `socket` are still to be answered: open and not cut off. */
  answerable(socket: Socket): boolean {
    return !socket.destroyed && !this.#cutOff.has(socket);
  }

  /**
   * The HTTP server's `'clientError'`: a request that is malformed, too large or too late
   * gets Node's answer (400, 431, 408) and its connection is closed, as without a listener,
   * except that a connection cut off is held until its time (its partial last request would
   * otherwise close it at the request deadline).
   */
  clientError(error: Error & { code?: string }, socket: Duplex): void {
    if (this.#cutOff.has(socket as Socket) && error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return;
    if (socket.writable) socket.write(CLIENT_ERROR_ANSWERS[error.code ?? ''] ?? BAD_REQUEST);
    socket.destroy();
  }

  /** The answer to a request on `socket` is done (sent or dropped). */
  answered(socket: Socket): void {
    this.#pending.set(socket, (this.#pending.get(socket) ?? 1) - 1);
  }

  #cut(socket: Socket): void {
    this.#cutOff.add(socket);
    socket.pause();
    // The HTTP server resumes reading when an answer is done: this connection stays unread.
    socket.on('resume', () => socket.pause());
    const closing = setTimeout(
      () => socket.destroy(),
      MONITOR_CUT_OFF_MS + Math.random() * MONITOR_CUT_OFF_JITTER_MS,
    );
    socket.once('close', () => clearTimeout(closing));
  }
}

/**
 * TLS for the listening ports (docs/security.md): one certificate and key for every port of
 * a process, and for each of the event and client ports an optional CA its peers must
 * present a certificate from (mutual TLS).
 *
 * Invariants:
 * - `ServerTls` never holds material that failed its checks: the constructor throws
 *   `ERR_INVALID_OPTION`, `reload()` throws `ERR_TLS_RELOAD` and keeps the material in force.
 *   A reload reaches every server created here at once (`setSecureContext`): connections
 *   already open keep their session, new ones get the new certificate.
 * - A connection reaches its taker only once its handshake is done and, on a port with a CA,
 *   its certificate chains to that CA: an event source without one never gets near the
 *   source slot. Every other connection is destroyed, counted by port
 *   (`eventTlsFailures`, `clientTlsFailures`) and reported as `ERR_TLS_HANDSHAKE`, gathered:
 *   at most one report per port and `TLS_FAILURE_REPORT_INTERVAL_MS`, with the count of each
 *   reason (`HandshakeFailure`), so a flood of bad handshakes cannot flood the log.
 * - A handshake has a deadline: the caller's (the identify timeout on the client port, which
 *   then covers the handshake and the id line together), `EVENT_SOURCE_HANDSHAKE_TIMEOUT_MS`
 *   on the event port; a peer that has sent no byte by `FIRST_RECORD_TIMEOUT_MS` is closed
 *   then. Handshakes in progress are bounded by the caller too (on the client port they count
 *   against `maxClients` with the clients attached), so a flood of connections that never
 *   finish theirs cannot take every descriptor. At the bound a newcomer is not refused: the
 *   oldest handshake that has sent nothing (else the oldest) is closed for it (`limit`), so
 *   holding the slots takes a steady flood, not a few idle connections. Only with no
 *   handshake to close is the newcomer closed, before any TLS work.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import {
  createSecureContext,
  createServer,
  type TLSSocket,
  type TlsOptions,
  type Server as TlsServer,
} from 'node:tls';
import { GatheredReport } from '../adapter/client-limit.js';
import { ErrorCode, MazeError, type Problem } from '../errors.js';
import { checkCertificateList } from './pem.js';

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
 * A peer that has sent no byte of its handshake this long after its connection is closed:
 * a real client sends its hello at once, and silent connections must not hold the
 * handshake slots until the handshake deadline (docs/security.md).
 */
export const FIRST_RECORD_TIMEOUT_MS = 1_000;
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
/** Failed handshakes are reported at most once per this period and port, with their count. */
export const TLS_FAILURE_REPORT_INTERVAL_MS = 1_000;

/** Which listening port: the event source's or the clients'. */
export type PortRole = 'event' | 'client';

/** PEM text of the material, as read from the files. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** CA certificates an event source's certificate must chain to; none: no certificate asked. */
  readonly eventCa?: string | undefined;
  /** CA certificates a client's certificate must chain to; none: no certificate asked. */
  readonly clientCa?: string | undefined;
}

/** Why a handshake failed, as counted and reported. */
export type HandshakeFailure = 'timeout' | 'certificate' | 'protocol' | 'reset' | 'limit';

const FAILURE_KINDS: readonly HandshakeFailure[] = [
  'timeout',
  'certificate',
  'protocol',
  'reset',
  'limit',
];

/** Failed handshakes by port. */
export interface TlsStats {
  /** Event source connections closed in or right after their TLS handshake. */
  readonly eventTlsFailures: number;
  /** Client connections closed in or right after their TLS handshake. */
  readonly clientTlsFailures: number;
}

/**
 * What a port does with a connection whose handshake succeeded; `elapsedMs` is the time since
 * its TCP connection was accepted (the handshake's).
 */
export type SecureConnectionHandler = (socket: TLSSocket, elapsedMs: number) => void;

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

interface Handshake {
  /** When its TCP connection was accepted. */
  readonly started: number;
  readonly peer: string;
  readonly firstRecord: NodeJS.Timeout;
}

/** What the failures of a port are reported to: its taker. */
export interface FailureSink {
  report(problem: Problem): void;
}

/** See the module header. */
export class ServerTls {
  #material: TlsMaterial;
  readonly #servers = new Map<TlsServer, PortRole | 'monitor'>();
  readonly #failures: Record<PortRole, Record<HandshakeFailure, number>> = {
    event: { timeout: 0, certificate: 0, protocol: 0, reset: 0, limit: 0 },
    client: { timeout: 0, certificate: 0, protocol: 0, reset: 0, limit: 0 },
  };

  /** Throws `MazeError(ERR_INVALID_OPTION)` if the material does not make a server context. */
  constructor(material: TlsMaterial) {
    checkMaterial(material, ErrorCode.InvalidOption);
    this.#material = material;
  }

  /** Whether the port of `role` asks its peers for a certificate. */
  requiresCertificate(role: PortRole): boolean {
    return caOf(this.#material, role) !== undefined;
  }

  /** The counters of failed handshakes. */
  stats(): TlsStats {
    return {
      eventTlsFailures: total(this.#failures.event),
      clientTlsFailures: total(this.#failures.client),
    };
  }

  /**
   * Replaces the material of every server created here. Throws `MazeError(ERR_TLS_RELOAD)`
   * and changes nothing if `material` fails its checks or asks for a CA on a port that had
   * none (or the reverse: whether a port asks for a certificate is fixed at start).
   */
  reload(material: TlsMaterial): void {
    checkMaterial(material, ErrorCode.TlsReload);
    for (const role of ['event', 'client'] as const) {
      if ((caOf(material, role) === undefined) !== (caOf(this.#material, role) === undefined)) {
        throw new MazeError(
          ErrorCode.TlsReload,
          `the ${role} port's CA cannot be added or removed by a reload: restart to change it`,
        );
      }
    }
    this.#material = material;
    for (const [server, role] of this.#servers)
      server.setSecureContext(contextOptions(material, role));
  }

  /**
   * A listening server for the port of `role` (`net` options as for `net.createServer()`):
   * `onSecure` gets each connection once its handshake, within `handshakeTimeout` ms, and its
   * certificate check are done; failures go to `sink`. A connection that arrives while
   * `admits(handshakes in progress)` is false is closed at once, before any TLS work
   * (reason `limit`). Reloads reach it until it closes.
   */
  createPortServer(
    role: PortRole,
    net: { readonly noDelay?: boolean; readonly allowHalfOpen?: boolean },
    handshakeTimeout: number,
    bound: HandshakeBound,
    sink: FailureSink,
    onSecure: SecureConnectionHandler,
  ): Server {
    const requireCertificate = this.requiresCertificate(role);
    // Half-open only once secure: in a handshake, Node takes a peer's end of input for
    // nothing and would keep the connection until the deadline.
    const { allowHalfOpen = false, ...tcp } = net;
    // It never listens: the TCP server below hands it the connections it admits.
    const secure = createServer({
      ...tcp,
      ...contextOptions(this.#material, role),
      handshakeTimeout,
      requestCert: requireCertificate,
      // Checked below instead, so that an untrusted certificate is counted like any failure.
      rejectUnauthorized: false,
    });
    const failures = new FailureReport(role, this.#failures[role], sink);
    // Handshakes in progress by TCP socket, oldest first.
    const handshaking = new Map<Socket, Handshake>();
    // The same by peer address, to find a finished one: Node hands over the TLS socket, which
    // names the same peer. Unique, since a socket accepted without an address is closed.
    const byPeer = new Map<string, Socket>();
    // Why the handshakes closed here failed, in order: their TLS socket then reports a reset,
    // which is counted under this reason instead. Bounded, for one that never reports.
    const closedHere: HandshakeFailure[] = [];
    const closeHandshake = (socket: Socket, kind: HandshakeFailure): void => {
      if (closedHere.length === MAX_CLOSE_REASONS_PENDING) closedHere.shift();
      closedHere.push(kind);
      socket.destroy();
    };
    const server = createNetServer(tcp, (socket) => {
      const peer = peerOf(socket);
      if (peer === undefined) {
        socket.destroy();
        failures.add('reset', 'a peer gone', 'closed before its handshake');
        return;
      }
      if (!bound.admits(handshaking.size)) {
        const oldest = oldestHandshake(handshaking);
        if (oldest === undefined) {
          socket.destroy();
          if (bound.refuse === undefined) failures.add('limit', peer, 'no room');
          else bound.refuse(socket);
          return;
        }
        // The newcomer takes its place: refusing it instead would let a few connections that
        // never finish theirs keep everyone out (docs/security.md).
        closeHandshake(oldest, 'limit');
      }
      const handshake: Handshake = {
        started: performance.now(),
        peer,
        // A peer that has sent nothing at all is closed long before the handshake deadline.
        firstRecord: setTimeout(
          () => {
            if (socket.bytesRead === 0) closeHandshake(socket, 'timeout');
          },
          Math.min(FIRST_RECORD_TIMEOUT_MS, handshakeTimeout),
        ).unref(),
      };
      handshaking.set(socket, handshake);
      byPeer.set(peer, socket);
      socket.once('close', () => forget(socket));
      secure.emit('connection', socket);
    });
    const forget = (socket: Socket): Handshake | undefined => {
      const handshake = handshaking.get(socket);
      if (handshake === undefined) return undefined;
      clearTimeout(handshake.firstRecord);
      handshaking.delete(socket);
      byPeer.delete(handshake.peer);
      return handshake;
    };
    secure.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const peer = peerOf(socket) ?? 'a peer gone';
      // With a listener here, Node leaves the socket open: it must not hold a descriptor.
      socket.destroy();
      const kind =
        error.code === 'ECONNRESET' && closedHere.length > 0 ? closedHere.shift() : undefined;
      failures.add(
        kind ?? classify(error),
        peer,
        kind === undefined ? (error.code ?? error.message) : `closed (${kind})`,
      );
    });
    secure.on('secureConnection', (socket: TLSSocket) => {
      const peer = peerOf(socket);
      const tcpSocket = peer === undefined ? undefined : byPeer.get(peer);
      const handshake = tcpSocket === undefined ? undefined : forget(tcpSocket);
      if (handshake === undefined) {
        // Its peer is gone already.
        socket.destroy();
        failures.add('reset', peer ?? 'a peer gone', 'gone right after its handshake');
        return;
      }
      if (requireCertificate && !socket.authorized) {
        socket.destroy();
        failures.add(
          'certificate',
          handshake.peer,
          `no trusted certificate (${String(socket.authorizationError ?? 'none presented')})`,
        );
        return;
      }
      socket.allowHalfOpen = allowHalfOpen;
      onSecure(socket, performance.now() - handshake.started);
    });
    server.once('close', () => {
      this.#servers.delete(secure);
      failures.close();
    });
    this.#servers.set(secure, role);
    return server;
  }

  /**
   * The TLS options of an HTTPS server (the monitoring port): the certificate and key, no
   * certificate asked of its peers. `followReloads()` then keeps it current.
   */
  monitorOptions(): TlsOptions {
    return contextOptions(this.#material, 'monitor');
  }

  /** Makes `server` (created with `monitorOptions()`) follow reloads until it closes. */
  followReloads(server: TlsServer): void {
    this.#servers.set(server, 'monitor');
    server.once('close', () => this.#servers.delete(server));
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

function caOf(material: TlsMaterial, role: PortRole | 'monitor'): string | undefined {
  if (role === 'event') return material.eventCa;
  if (role === 'client') return material.clientCa;
  return undefined;
}

function contextOptions(material: TlsMaterial, role: PortRole | 'monitor'): TlsOptions {
  const ca = caOf(material, role);
  return { cert: material.cert, key: material.key, ...(ca !== undefined && { ca }) };
}

// Each CA must hold certificates, all valid (pem.ts).
function checkMaterial(material: TlsMaterial, code: ErrorCode): void {
  try {
    createSecureContext(contextOptions(material, 'monitor'));
  } catch (error) {
    throw new MazeError(
      code,
      `the TLS certificate and key do not make a server context: ${(error as Error).message}`,
    );
  }
  for (const [role, ca] of [
    ['event', material.eventCa],
    ['client', material.clientCa],
  ] as const) {
    if (ca === undefined) continue;
    try {
      checkCertificateList(ca);
    } catch (error) {
      throw new MazeError(
        code,
        `the ${role} CA is not a list of PEM certificates: ${(error as Error).message}`,
      );
    }
  }
}

function classify(error: NodeJS.ErrnoException): HandshakeFailure {
  if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return 'reset';
  if (error.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'certificate';
  return 'protocol';
}

// A socket the peer already closed may have forgotten its address.
function peerOf(socket: Socket): string | undefined {
  return socket.remoteAddress === undefined
    ? undefined
    : `${socket.remoteAddress}:${socket.remotePort}`;
}

// The first silent one among the oldest few (sent no byte: likely holding a slot for
// nothing), else the oldest; `undefined` when none is in progress.
function oldestHandshake(handshaking: ReadonlyMap<Socket, Handshake>): Socket | undefined {
  let oldest: Socket | undefined;
  let checked = 0;
  for (const socket of handshaking.keys()) {
    oldest ??= socket;
    if (socket.bytesRead === 0) return socket;
    if (++checked === SILENT_HANDSHAKE_CHECKS) break;
  }
  return oldest;
}

function total(counts: Readonly<Record<HandshakeFailure, number>>): number {
  return counts.timeout + counts.certificate + counts.protocol + counts.reset + counts.limit;
}

/** The failures of one port: counted at once, reported gathered (see the module header). */
class FailureReport {
  readonly #counts: Record<HandshakeFailure, number>;
  readonly #reported: Record<HandshakeFailure, number>;
  readonly #gathered: GatheredReport;
  #latest = '';

  constructor(role: PortRole, counts: Record<HandshakeFailure, number>, sink: FailureSink) {
    this.#counts = counts;
    this.#reported = { ...counts };
    const port = role === 'event' ? 'event source' : 'client';
    this.#gathered = new GatheredReport(TLS_FAILURE_REPORT_INTERVAL_MS, (count) => {
      const reasons = FAILURE_KINDS.filter((kind) => counts[kind] > this.#reported[kind])
        .map((kind) => `${counts[kind] - this.#reported[kind]} ${kind}`)
        .join(', ');
      Object.assign(this.#reported, counts);
      sink.report({
        code: ErrorCode.TlsHandshake,
        message: `${count === 1 ? `${port} TLS handshake failed` : `${count} ${port} TLS handshakes failed`} (${reasons}); latest: ${this.#latest}; closed`,
        context: { connection: `${role}-port` },
      });
    });
  }

  add(kind: HandshakeFailure, peer: string, reason: string): void {
    this.#counts[kind]++;
    this.#latest = `${peer} ${reason}`;
    this.#gathered.add(peer);
  }

  close(): void {
    this.#gathered.close();
  }
}

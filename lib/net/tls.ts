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
 *   on the event port. Handshakes in progress are bounded by the caller too (on the client
 *   port they count against `maxClients` with the clients attached), so a flood of
 *   connections that never finish theirs cannot take every descriptor: one over the bound is
 *   closed at once, before any TLS work.
 */
import { X509Certificate } from 'node:crypto';
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

/** What the failures of a port are reported to: its taker. */
export interface FailureSink {
  report(problem: Problem): void;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

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
    admits: (handshaking: number) => boolean,
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
    // When each handshake in progress began, by peer address: the TLS socket and the TCP
    // socket it wraps name the same peer.
    const handshaking = new Map<string, number>();
    const server = createNetServer(tcp, (socket) => {
      const peer = peerOf(socket);
      if (!admits(handshaking.size)) {
        socket.destroy();
        failures.add('limit', peer, `${handshaking.size} handshakes in progress`);
        return;
      }
      handshaking.set(peer, performance.now());
      socket.once('close', () => handshaking.delete(peer));
      secure.emit('connection', socket);
    });
    secure.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const peer = peerOf(socket);
      // With a listener here, Node leaves the socket open: it must not hold a descriptor.
      socket.destroy();
      failures.add(classify(error), peer, error.code ?? error.message);
    });
    secure.on('secureConnection', (socket: TLSSocket) => {
      const peer = peerOf(socket);
      const started = handshaking.get(peer);
      handshaking.delete(peer);
      if (requireCertificate && !socket.authorized) {
        socket.destroy();
        failures.add(
          'certificate',
          peer,
          `no trusted certificate (${String(socket.authorizationError ?? 'none presented')})`,
        );
        return;
      }
      socket.allowHalfOpen = allowHalfOpen;
      onSecure(socket, started === undefined ? 0 : performance.now() - started);
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

/** `maxClients` less the clients attached (identified or identifying), from a taker's stats. */
export function roomForClients(
  maxClients: number,
  stats: { readonly clientsConnected: number; readonly clientsIdentifying: number },
): number {
  return maxClients - stats.clientsConnected - stats.clientsIdentifying;
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

// OpenSSL takes a CA file without one certificate in it as an empty list, silently; a port
// that asks for a certificate would then trust nobody, so each CA must hold certificates.
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
    const blocks = ca.match(CERTIFICATE_BLOCK) ?? [];
    try {
      if (blocks.length === 0) throw new Error('no PEM certificate in it');
      for (const block of blocks) new X509Certificate(block);
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
function peerOf(socket: Socket): string {
  return socket.remoteAddress === undefined
    ? 'a peer gone'
    : `${socket.remoteAddress}:${socket.remotePort}`;
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

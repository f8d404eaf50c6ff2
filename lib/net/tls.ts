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
 * - A connection reaches its taker only once its handshake is done (within its deadline and
 *   bound, tls-handshakes.ts) and, on a port with a CA, its certificate chains to that CA: an
 *   event source without one never gets near the source slot. Every other connection is
 *   destroyed, counted by port (`eventTlsFailures`, `clientTlsFailures`) and reported as
 *   `ERR_TLS_HANDSHAKE`, gathered (tls-failures.ts).
 */
import { createServer as createNetServer, type Server } from 'node:net';
import {
  createSecureContext,
  createServer,
  type TLSSocket,
  type TlsOptions,
  type Server as TlsServer,
} from 'node:tls';
import { ErrorCode, MazeError } from '../errors.js';
import { NODE_HANDSHAKE_TIMEOUT } from './handshake-deadline.js';
import { checkCertificateList } from './pem.js';
import {
  classify,
  type FailureCounts,
  FailureReport,
  type FailureSink,
  noFailures,
  type PortRole,
  totalFailures,
} from './tls-failures.js';
import { type HandshakeBound, HandshakesInProgress, peerOf } from './tls-handshakes.js';

/** PEM text of the material, as read from the files. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  /** CA certificates an event source's certificate must chain to; none: no certificate asked. */
  readonly eventCa?: string | undefined;
  /** CA certificates a client's certificate must chain to; none: no certificate asked. */
  readonly clientCa?: string | undefined;
}

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

/** See the module header. */
export class ServerTls {
  #material: TlsMaterial;
  readonly #servers = new Map<TlsServer, PortRole | 'monitor'>();
  readonly #failures: Record<PortRole, FailureCounts> = {
    event: noFailures(),
    client: noFailures(),
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
      eventTlsFailures: totalFailures(this.#failures.event),
      clientTlsFailures: totalFailures(this.#failures.client),
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
      // The deadline is `handshakes`' (see tls-handshakes.ts): Node's would close a handshake
      // whose last flight arrived but was not read yet.
      handshakeTimeout: NODE_HANDSHAKE_TIMEOUT,
      requestCert: requireCertificate,
      // Checked below instead, so that an untrusted certificate is counted like any failure.
      rejectUnauthorized: false,
    });
    const failures = new FailureReport(role, this.#failures[role], sink);
    const handshakes = new HandshakesInProgress(bound, handshakeTimeout, failures);
    const server = createNetServer(tcp, (socket) => {
      if (handshakes.begin(socket)) secure.emit('connection', socket);
    });
    secure.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const peer = peerOf(socket) ?? 'a peer gone';
      // With a listener here, Node leaves the socket open: it must not hold a descriptor.
      socket.destroy();
      const kind = handshakes.closedFor(error);
      failures.add(
        kind ?? classify(error),
        peer,
        kind === undefined ? (error.code ?? error.message) : `closed (${kind})`,
      );
    });
    secure.on('secureConnection', (socket: TLSSocket) => {
      const handshake = handshakes.finish(socket);
      if (handshake === undefined) {
        // Its peer is gone already.
        socket.destroy();
        failures.add('reset', peerOf(socket) ?? 'a peer gone', 'gone right after its handshake');
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

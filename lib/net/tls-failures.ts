/**
 * Failed TLS handshakes of the listening ports (docs/security.md): why each failed, and how
 * they are counted and reported.
 *
 * Invariants:
 * - Every failed handshake is counted at once, by port and reason (`HandshakeFailure`), in
 *   counts its server owns (`ServerTls.stats()` sums them).
 * - It is reported as `ERR_TLS_HANDSHAKE`, gathered: at most one report per port and
 *   `TLS_FAILURE_REPORT_INTERVAL_MS`, with the count of each reason since the previous one
 *   and the latest peer, so a flood of bad handshakes cannot flood the log.
 */
import { GatheredReport } from '../adapter/client-limit.js';
import { ErrorCode, type Problem } from '../errors.js';

/** Failed handshakes are reported at most once per this period and port, with their count. */
export const TLS_FAILURE_REPORT_INTERVAL_MS = 1_000;

/** Which listening port: the event source's or the clients'; failures are counted by it. */
export type PortRole = 'event' | 'client';

/** Why a handshake failed, as counted and reported. */
export type HandshakeFailure = 'timeout' | 'certificate' | 'protocol' | 'reset' | 'limit';

const FAILURE_KINDS: readonly HandshakeFailure[] = [
  'timeout',
  'certificate',
  'protocol',
  'reset',
  'limit',
];

/** Failed handshakes of one port, by reason. */
export type FailureCounts = Record<HandshakeFailure, number>;

/** What the failures of a port are reported to: its taker. */
export interface FailureSink {
  report(problem: Problem): void;
}

/** No failure yet. */
export function noFailures(): FailureCounts {
  return { timeout: 0, certificate: 0, protocol: 0, reset: 0, limit: 0 };
}

/** The failures of `counts`, all reasons together. */
export function totalFailures(counts: Readonly<FailureCounts>): number {
  return counts.timeout + counts.certificate + counts.protocol + counts.reset + counts.limit;
}

/** The reason of a failure Node reports for a handshake (`tlsClientError`). */
export function classify(error: NodeJS.ErrnoException): HandshakeFailure {
  if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return 'reset';
  if (error.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'certificate';
  return 'protocol';
}

/** The failures of one port: counted at once, reported gathered (see the module header). */
export class FailureReport {
  readonly #counts: FailureCounts;
  readonly #reported: FailureCounts;
  readonly #gathered: GatheredReport;
  #latest = '';

  /** Counts into `counts` (kept by the caller) and reports to `sink`. */
  constructor(role: PortRole, counts: FailureCounts, sink: FailureSink) {
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

  /** Counts a failure of `peer`; `reason` is said in the report if it is the latest. */
  add(kind: HandshakeFailure, peer: string, reason: string): void {
    this.#counts[kind]++;
    this.#latest = `${peer} ${reason}`;
    this.#gathered.add(peer);
  }

  /** Stops reporting (the port closed). */
  close(): void {
    this.#gathered.close();
  }
}

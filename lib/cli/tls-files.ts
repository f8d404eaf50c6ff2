/**
 * The TLS settings of a server command (docs/security.md): `--tls-cert`, `--tls-key`,
 * `--event-tls-ca`, `--client-tls-ca` and `--monitor-tls`, read into a `ServerTls`.
 *
 * Invariants:
 * - At start, a setting without what it needs (a key without a certificate, a CA or
 *   `--monitor-tls` without both), a file that cannot be read and material that is not
 *   valid PEM are `ERR_INVALID_OPTION`: the command exits 2 before it binds anything.
 * - `reloadTls()` reads the same files again; whatever fails is `ERR_TLS_RELOAD` and the
 *   material in force stays.
 */
import { readFileSync } from 'node:fs';
import { ErrorCode, MazeError } from '../errors.js';
import type { MonitorSources, StatMetric } from '../monitor/sources.js';
import { counter } from '../monitor/stat-metrics.js';
import { ServerTls, type TlsMaterial, type TlsStats } from '../net/tls.js';

/** The TLS settings, as every server command has them (a CA only where its port is). */
export interface TlsArgs {
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  readonly eventTlsCa?: string | undefined;
  readonly clientTlsCa?: string | undefined;
  readonly monitorTls: boolean;
  readonly monitorPort: number | undefined;
}

/** The metric of each TLS counter. */
export const TLS_STAT_METRICS: { readonly [Stat in keyof TlsStats]: StatMetric } = {
  eventTlsFailures: counter(
    'event_tls_failures',
    'Event source connections closed in their TLS handshake or as untrusted.',
  ),
  clientTlsFailures: counter(
    'client_tls_failures',
    'Client connections closed in their TLS handshake or as untrusted.',
  ),
};

/** Reads a file as text; throws with the reason. */
export type ReadText = (path: string) => string;

const readText: ReadText = (path) => readFileSync(path, 'utf8');

/**
 * The `ServerTls` of `args`, or `undefined` without `--tls-cert`. Throws
 * `MazeError(ERR_INVALID_OPTION)` (see the module header).
 */
export function openTls(args: TlsArgs, read: ReadText = readText): ServerTls | undefined {
  const { tlsCert, tlsKey } = args;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw invalid(
      tlsCert === undefined
        ? '--tls-key needs --tls-cert: TLS takes a certificate and its key'
        : '--tls-cert needs --tls-key: TLS takes a certificate and its key',
    );
  }
  if (tlsCert === undefined) {
    const stray = (
      [
        ['--event-tls-ca', args.eventTlsCa !== undefined],
        ['--client-tls-ca', args.clientTlsCa !== undefined],
        ['--monitor-tls', args.monitorTls],
      ] as const
    ).find(([, given]) => given);
    if (stray !== undefined) {
      throw invalid(`${stray[0]} needs --tls-cert and --tls-key: it applies to TLS ports`);
    }
    return undefined;
  }
  if (args.monitorTls && args.monitorPort === undefined) {
    throw invalid('--monitor-tls needs --monitor-port: there is no monitoring port to secure');
  }
  return new ServerTls(readMaterial(args, read, ErrorCode.InvalidOption));
}

/** Reads the files of `args` again into `tls`. Throws `MazeError(ERR_TLS_RELOAD)`; `tls` is then unchanged. */
export function reloadTls(tls: ServerTls, args: TlsArgs, read: ReadText = readText): void {
  tls.reload(readMaterial(args, read, ErrorCode.TlsReload));
}

/** `sources` with the TLS counters: in `/stats`, and in `/metrics` as `TLS_STAT_METRICS`. */
export function withTlsStats(sources: MonitorSources, tls: ServerTls): MonitorSources {
  const { clients, watchResumes } = sources;
  return {
    health: () => sources.health(),
    stats: () => ({ ...sources.stats(), ...tls.stats() }),
    statMetrics: { ...sources.statMetrics, ...TLS_STAT_METRICS },
    ...(clients !== undefined && { clients: (page) => clients.call(sources, page) }),
    ...(watchResumes !== undefined && {
      watchResumes: (listener) => watchResumes.call(sources, listener),
    }),
    report: (problem) => sources.report?.(problem),
  };
}

function readMaterial(args: TlsArgs, read: ReadText, code: ErrorCode): TlsMaterial {
  const file = (flag: string, path: string): string => {
    try {
      return read(path);
    } catch (error) {
      throw new MazeError(code, `${flag} ${path} cannot be read: ${(error as Error).message}`);
    }
  };
  return {
    cert: file('--tls-cert', args.tlsCert as string),
    key: file('--tls-key', args.tlsKey as string),
    eventCa: args.eventTlsCa === undefined ? undefined : file('--event-tls-ca', args.eventTlsCa),
    clientCa:
      args.clientTlsCa === undefined ? undefined : file('--client-tls-ca', args.clientTlsCa),
  };
}

function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

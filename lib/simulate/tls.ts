/**
 * The simulator's side of TLS (docs/security.md): with `tlsCa`, every connection is TLS and
 * trusts the server's certificate only if it chains to that CA (and names the host); with
 * `eventTlsCert` and `eventTlsKey`, the event source presents that certificate (for a server
 * started with `--event-tls-ca`).
 *
 * Invariants: the files are read when the options are resolved; a missing pair, a file that
 * cannot be read or that is not PEM is `ERR_INVALID_OPTION`, before anything connects.
 */
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, createSecureContext } from 'node:tls';
import { ErrorCode, MazeError } from '../errors.js';

/** The TLS options of each kind of connection. */
export interface SimulatorTls {
  readonly client: ConnectionOptions;
  readonly eventSource: ConnectionOptions;
}

/** The file settings, as given (paths). */
export interface SimulatorTlsFiles {
  readonly tlsCa: string | undefined;
  readonly eventTlsCert: string | undefined;
  readonly eventTlsKey: string | undefined;
}

/**
 * Reads the files of `files`; `undefined` without `tlsCa`. `labelOf` names an option as the
 * caller gave it. Throws `MazeError(ERR_INVALID_OPTION)`.
 */
export function readSimulatorTls(
  files: SimulatorTlsFiles,
  labelOf: (name: string) => string,
): SimulatorTls | undefined {
  const { tlsCa, eventTlsCert, eventTlsKey } = files;
  if ((eventTlsCert === undefined) !== (eventTlsKey === undefined)) {
    throw invalid(
      `${labelOf(eventTlsCert === undefined ? 'eventTlsKey' : 'eventTlsCert')} needs ${labelOf(
        eventTlsCert === undefined ? 'eventTlsCert' : 'eventTlsKey',
      )}: the event source presents a certificate and its key`,
    );
  }
  if (tlsCa === undefined) {
    if (eventTlsCert !== undefined) {
      throw invalid(
        `${labelOf('eventTlsCert')} needs ${labelOf('tlsCa')}: the certificate is presented over TLS`,
      );
    }
    return undefined;
  }
  const read = (name: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw invalid(`${labelOf(name)} ${path} cannot be read: ${(error as Error).message}`);
    }
  };
  const client: ConnectionOptions = { ca: read('tlsCa', tlsCa) };
  const eventSource: ConnectionOptions =
    eventTlsCert === undefined || eventTlsKey === undefined
      ? client
      : {
          ...client,
          cert: read('eventTlsCert', eventTlsCert),
          key: read('eventTlsKey', eventTlsKey),
        };
  try {
    createSecureContext(eventSource);
  } catch (error) {
    throw invalid(`the TLS files are not valid PEM: ${(error as Error).message}`);
  }
  if (!/-----BEGIN CERTIFICATE-----/.test(String(client.ca))) {
    throw invalid(`${labelOf('tlsCa')} ${tlsCa} holds no PEM certificate`);
  }
  return { client, eventSource };
}

function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

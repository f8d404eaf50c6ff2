/**
 * The peer address of a stream, for logs and monitoring: `127.0.0.1:53122`, `[::1]:53122`,
 * or `null` for a stream that is not a TCP socket (an in-memory pair, a pipe).
 *
 * Invariant: read when a connection is attached, while the socket still knows it (a
 * destroyed socket may have forgotten its peer).
 */
import { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';

export function remoteAddressOf(stream: Readable | Duplex): string | null {
  if (!(stream instanceof Socket) || stream.remoteAddress === undefined) return null;
  const host = stream.remoteFamily === 'IPv6' ? `[${stream.remoteAddress}]` : stream.remoteAddress;
  return `${host}:${stream.remotePort}`;
}

/**
 * The peer of a stream as the kernel sees it: its address, for logs and monitoring
 * (`127.0.0.1:53122`, `[::1]:53122`, or `null` for a stream that is not a TCP socket: an
 * in-memory pair, a pipe), and whether the connection to it is still there.
 *
 * Invariants:
 * - The address is read when a connection is attached, while the socket still knows it (a
 *   destroyed socket may have forgotten its peer).
 * - `connectionDropped()` asks the kernel each call (getpeername(2), which fails once the
 *   connection is closed); it is `false` for anything but an open TCP socket.
 */
import { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';

export function remoteAddressOf(stream: Readable | Duplex): string | null {
  if (!(stream instanceof Socket) || stream.remoteAddress === undefined) return null;
  const host = stream.remoteFamily === 'IPv6' ? `[${stream.remoteAddress}]` : stream.remoteAddress;
  return `${host}:${stream.remotePort}`;
}

/** The part of a socket's libuv handle `connectionDropped()` uses; `remoteAddress` caches its answer. */
interface PeerNameHandle {
  getpeername?(out: object): number;
}

/**
 * Whether the kernel has closed the TCP connection of `stream`: the peer reset it, or keepalive
 * gave up on it. Node only hears of that while it reads or writes, and it stops reading at the
 * peer's end of input, so a half-closed socket that is not written to never learns it.
 */
export function connectionDropped(stream: Readable | Duplex): boolean {
  if (!(stream instanceof Socket) || stream.destroyed) return false;
  const handle = (stream as unknown as { _handle?: PeerNameHandle | null })._handle;
  if (handle?.getpeername === undefined) return false;
  return handle.getpeername({}) !== 0;
}

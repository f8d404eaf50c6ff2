/**
 * The peer of a stream as the kernel sees it: its address, for logs and monitoring
 * (`127.0.0.1:53122`, `[::1]:53122`, or `null` for a stream that is not a TCP socket: an
 * in-memory pair, a pipe), and whether the connection to it is still there.
 *
 * Invariants:
 * - The address is read when a connection is attached, while the socket still knows it (a
 *   destroyed socket may have forgotten its peer), and is not cached on the socket.
 * - `connectionDropped()` asks the kernel each call (getpeername(2), which fails once the
 *   connection is closed); it is `false` for anything but an open TCP socket.
 */
import { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';

/** What getpeername(2) fills in, as a socket's libuv handle reports it. */
interface PeerName {
  address?: string;
  family?: string;
  port?: number;
}

/** The part of a socket's libuv handle these functions use. */
interface PeerNameHandle {
  getpeername?(out: PeerName): number;
}

export function remoteAddressOf(stream: Readable | Duplex): string | null {
  if (!(stream instanceof Socket)) return null;
  const socket = stream as Socket & { _handle?: PeerNameHandle | null; _peername?: PeerName };
  // Asked of the handle, not of `remoteAddress`: that caches the answer on the socket, an
  // object of about 150 bytes kept for each idle connection.
  const handle = socket._handle;
  let peer: PeerName = {};
  if (socket._peername !== undefined || handle?.getpeername === undefined) {
    peer = { address: socket.remoteAddress, family: socket.remoteFamily, port: socket.remotePort };
  } else if (handle.getpeername(peer) !== 0) {
    return null;
  }
  if (peer.address === undefined) return null;
  const host = peer.family === 'IPv6' ? `[${peer.address}]` : peer.address;
  return `${host}:${peer.port}`;
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

/** TLS connections in tests: a handshake awaited with a bound. */
import type { TLSSocket } from 'node:tls';
import { WAIT_MS, withTimeout } from './sockets.js';

/** `socket` once its handshake is done (the server may still refuse it right after). */
export function handshakeOf(socket: TLSSocket): Promise<TLSSocket> {
  return withTimeout(
    new Promise<TLSSocket>((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket));
      socket.once('error', reject);
    }),
    WAIT_MS,
    'a TLS handshake',
  );
}

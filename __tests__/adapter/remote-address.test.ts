/**
 * `remoteAddressOf()`: the peer of an accepted TCP socket on 127.0.0.1 as `address:port`,
 * read without leaving a cached peer-name object on the socket (memory per idle connection),
 * and `null` for a stream that is not a TCP socket. Every socket and server is closed.
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { duplexPair } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { remoteAddressOf } from '../../lib/adapter/remote-address.js';
import { withTimeout } from '../helpers/sockets.js';

describe('remoteAddressOf', () => {
  it('reads the peer of an accepted socket without caching it on the socket', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await withTimeout(once(server, 'listening'), 5_000, 'listening');
    const accepted = withTimeout(
      once(server, 'connection') as Promise<[Socket]>,
      5_000,
      'the connection',
    );
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    try {
      const [socket] = await accepted;
      await withTimeout(once(client, 'connect'), 5_000, 'connect');
      expect(remoteAddressOf(socket)).toBe(`127.0.0.1:${client.localPort}`);
      expect((socket as Socket & { _peername?: object })._peername).toBeUndefined();
      socket.destroy();
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('is null for a stream that is not a TCP socket', () => {
    const [one, other] = duplexPair();
    expect(remoteAddressOf(one)).toBeNull();
    one.destroy();
    other.destroy();
  });
});

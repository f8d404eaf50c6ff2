/**
 * Client slots come back (docs/protocol.md §5), with the built binary over real TCP: with
 * `--max-clients 100`, 100 clients identify and close (half of them close their socket, half
 * only end their sending side), and 100 new clients are then all served at once, each
 * taking the slot of a half-closed one; none is refused. Every wait is bounded; every
 * process and socket is closed.
 */
import { describe, expect, it } from '@jest/globals';
import { lastStats, serve, stop } from '../helpers/cluster-processes.js';
import { type TcpPeer, useTcpPeers } from '../helpers/sockets.js';

const CLIENTS = 100;
const peers = useTcpPeers();

/** Connects a client of each user in `users` and sends its id. */
async function identify(port: number, users: number[]): Promise<TcpPeer[]> {
  return Promise.all(
    users.map(async (user) => {
      const client = await peers.connect(port);
      client.socket.write(`${user}\n`);
      return client;
    }),
  );
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

describe('serve --max-clients 100 (built binary)', () => {
  it('serves 100 new clients at once after 100 clients identified and closed', async () => {
    const server = await serve(['--max-clients', String(CLIENTS), '--stats-interval', '20']);
    let exitCode: number | undefined;
    try {
      const leaving = await identify(server.clientPort, range(1, CLIENTS));
      await server.waitForLine('stdout', / clientsConnected=100 /);
      // Half close their sockets (FIN; the peer is gone), half only end their sending side.
      for (const [index, client] of leaving.entries()) {
        if (index % 2 === 0) client.socket.destroy();
        else client.socket.end();
      }
      // Once the server has seen every end, each new client finds one to take over.
      await server.waitForLine('stdout', / clientsHalfClosed=100 /);

      const arriving = await identify(server.clientPort, range(CLIENTS + 1, CLIENTS));
      await server.waitForLine(
        'stdout',
        / clientsConnected=100 clientsIdentifying=0 .*clientsEvicted=100 /,
      );
      const source = await peers.connect(server.eventPort);
      source.socket.write('1|B\n');
      await Promise.all(arriving.map((client) => client.received.waitForLength('1|B\n'.length)));
      expect(arriving.map((client) => client.received.text)).toEqual(
        range(1, CLIENTS).map(() => '1|B\n'),
      );
      // The ones that only ended their sending side were ended by the server, unserved since.
      const halfClosed = leaving.filter((_, index) => index % 2 === 1);
      await Promise.all(halfClosed.map((client) => client.received.waitForEnd()));
      expect(halfClosed.map((client) => client.received.text)).toEqual(
        range(1, CLIENTS / 2).map(() => ''),
      );
      await server.waitForLine('stdout', / notificationsSent=100 /);
      expect(lastStats(server)).toMatchObject({
        clientsRefused: '0',
        clientsEvicted: '100',
        clientsHalfClosed: '0',
      });
      const evictions = server.stderr.filter((line) => line.includes('ERR_CLIENT_EVICTED'));
      expect(evictions[0]).toMatch(
        /^problem ERR_CLIENT_EVICTED \[client#\d+\]: half-closed client with nothing queued closed to make room for new connections: 100 clients attached \(maxClients\)$/,
      );
      expect(server.stderr.filter((line) => line.includes('ERR_CLIENT_LIMIT'))).toEqual([]);
    } finally {
      // Stopped whatever happened; a failure above is reported, not this exit's.
      exitCode = await stop(server);
    }
    expect(exitCode).toBe(0);
  });
});

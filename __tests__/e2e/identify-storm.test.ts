/**
 * An identify storm on the built binary: thousands of ids that arrived while the server could
 * not run (stopped past every identify deadline) are all read and taken, none closed as late.
 * Decided after the poll phase that reads them, the deadlines hold for more ready sockets
 * than one read of the kernel's ready list returns (libuv takes 1,024 at a time).
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { serve } from '../helpers/cluster-processes.js';
import { Collector, sleep, waitUntil } from '../helpers/sockets.js';

const CLIENTS = 3_000;
const IDENTIFY_TIMEOUT_MS = 1_000;
/** Opened at once: the default listen backlog of most systems is 4,096 or more. */
const CONNECTS_IN_FLIGHT = 128;

describe('an identify storm (built binary)', () => {
  it('takes every id that arrived before its deadline, though the server read none of them by then', async () => {
    const server = await serve([
      '--identify-timeout',
      String(IDENTIFY_TIMEOUT_MS),
      '--stats-interval',
      '50',
    ]);
    const sockets: Socket[] = [];
    const received: Collector[] = [];
    try {
      let next = 0;
      const connectNext = async (): Promise<void> => {
        while (next < CLIENTS) {
          next++;
          const socket = connect({ host: '127.0.0.1', port: server.clientPort });
          sockets.push(socket);
          received.push(new Collector(socket));
          await new Promise<void>((resolve, reject) => {
            socket.once('connect', resolve);
            socket.once('error', reject);
          });
        }
      };
      await Promise.all(Array.from({ length: CONNECTS_IN_FLIGHT }, connectNext));
      // Every connection accepted, its identify timer running.
      await server.waitForLine('stdout', new RegExp(` clientsIdentifying=${CLIENTS} `));
      const pid = server.child.pid as number;
      process.kill(pid, 'SIGSTOP');
      try {
        for (const [index, socket] of sockets.entries()) socket.write(`${index + 1}\n`);
        // Every deadline passes while the ids wait in the kernel.
        await sleep(IDENTIFY_TIMEOUT_MS + 500);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await server.waitForLine('stdout', new RegExp(` clientsConnected=${CLIENTS} `));
      const source = connect({ host: '127.0.0.1', port: server.eventPort });
      sockets.push(source);
      source.write('1|B\n');
      await waitUntil(
        () => received.every((client) => client.text === '1|B\n'),
        'the broadcast at every client',
      );
      expect(server.stderr.filter((line) => line.includes('ERR_CLIENT_ID_TIMEOUT'))).toEqual([]);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  }, 30_000);
});

/**
 * The identify timeout over real sockets (docs/protocol.md §5): when the event loop was busy
 * past a client's deadline, an id line that has arrived but is not read yet still counts;
 * a client that sent nothing, or only part of its id line, is still closed.
 */
import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';
import { type TcpClient, useTcpMazes, waitForClientEvent } from '../helpers/sockets.js';

const IDENTIFY_TIMEOUT = 50;
/** Well past every deadline set before the busy spell starts. */
const BUSY_MS = 3 * IDENTIFY_TIMEOUT;
const startMaze = useTcpMazes();

/**
 * Writes `text` from each client, then keeps the loop busy past the identify timeout. It runs
 * in the check phase, so the next loop turn runs the expired timers before it polls for the
 * bytes just written. Returns what each client still had queued after its write.
 */
function writeThenBlock(writes: ReadonlyArray<readonly [TcpClient, string]>): Promise<number[]> {
  return new Promise((resolve) => {
    setImmediate(() => {
      const queued = writes.map(([client, text]) => {
        client.socket.write(text, 'latin1');
        return client.socket.writableLength;
      });
      const until = performance.now() + BUSY_MS;
      while (performance.now() < until) {
        // Busy: no I/O is read until this returns.
      }
      resolve(queued);
    });
  });
}

describe('identify timeout', () => {
  it('identifies a client whose id line arrived while the loop was busy past its deadline', async () => {
    const maze = await startMaze({ identifyTimeout: IDENTIFY_TIMEOUT });
    const source = await maze.connectSource();
    const client = await maze.connectClient();
    const identified = waitForClientEvent(maze.maze, 'clientIdentified', client.connection);
    // Handed to the kernel before the busy spell: the id has arrived when the timer expires.
    expect(await writeThenBlock([[client, '7\n']])).toEqual([0]);
    expect((await identified).userId).toBe(7);
    source.socket.write('1|B\n');
    await client.received.waitForLength(4);
    expect(client.received.text).toBe('1|B\n');
    expect(maze.codes()).toEqual([]);
  });

  it('still closes a client that sent nothing or half an id line', async () => {
    const maze = await startMaze({ identifyTimeout: IDENTIFY_TIMEOUT });
    const silent = await maze.connectClient();
    const half = await maze.connectClient();
    expect(await writeThenBlock([[half, '12']])).toEqual([0]);
    await Promise.all([silent.received.waitForEnd(), half.received.waitForEnd()]);
    expect(
      maze.problems
        .map((problem) => [problem.code, problem.context?.connection])
        .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    ).toEqual(
      [
        [ErrorCode.ClientIdTimeout, silent.connection],
        [ErrorCode.ClientIdTimeout, half.connection],
      ].sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
    );
  });
});

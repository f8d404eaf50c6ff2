/**
 * Client connections (docs/protocol.md §5): identification rules, rejection, discarding what follows the
 * id, several connections per user, stream errors and removal.
 */

import { duplexPair } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';
import {
  attachMemoryClient,
  attachMemorySource,
  Collector,
  useMemoryMazes,
  waitForClientEvent,
  waitUntil,
} from '../helpers/sockets.js';

const newMaze = useMemoryMazes();

describe('client connections', () => {
  it('rejects an invalid id with ERR_CLIENT_BAD_ID and closes the client', async () => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('12x\n');
    expect(await closed).toMatchObject({ connection: client.connection, userId: undefined });
    await client.received.waitForEnd();
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      code: ErrorCode.ClientBadId,
      context: { connection: client.connection, lineNumber: 1, line: '12x' },
    });
    expect(maze.stats()).toMatchObject({ clientsRejected: 1, clientsConnected: 0 });
  });

  it('rejects an over-long id line without waiting for its end', async () => {
    const { maze, problems } = newMaze({ maxIdLineLength: 16 });
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('1'.repeat(17));
    await closed;
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientBadId]);
    expect(problems[0]?.message).toMatch(/longer than 16 bytes/);
  });

  it('closes a client that sends no id in time with ERR_CLIENT_ID_TIMEOUT', async () => {
    const { maze, problems } = newMaze({ identifyTimeout: 30 });
    const client = await attachMemoryClient(maze, undefined);
    client.peer.write('12');
    await waitForClientEvent(maze, 'clientClosed', client.connection);
    await client.received.waitForEnd();
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientIdTimeout,
        context: { connection: client.connection },
      }),
    ]);
  });

  it('skips empty lines before the id and accepts a CRLF id', async () => {
    const { maze } = newMaze();
    const client = await attachMemoryClient(maze, '\n\r\n0042\r\n');
    expect(maze.stats()).toMatchObject({ clientsConnected: 1, usersConnected: 1 });
    const source = attachMemorySource(maze);
    source.peer.write('1|P|1|42\n');
    await client.received.waitForLength(9);
    expect(client.received.text).toBe('1|P|1|42\n');
  });

  it('reads and discards everything after the id, however much', async () => {
    const { maze, problems } = newMaze({ maxIdLineLength: 8 });
    const client = await attachMemoryClient(maze, '5\n7\ngarbage that is far too long\n');
    for (let i = 0; i < 100; i++) client.peer.write('x'.repeat(10_000));
    const source = attachMemorySource(maze);
    source.peer.write('1|B\n2|P|1|5\n3|P|1|7\n');
    await client.received.waitForLength(4 + 7);
    expect(client.received.text).toBe('1|B\n2|P|1|5\n');
    expect(problems).toEqual([]);
  });

  it('gives each connection of a user everything, and keeps the others when one leaves', async () => {
    const { maze } = newMaze();
    const first = await attachMemoryClient(maze, '3\n');
    const second = await attachMemoryClient(maze, '3\n');
    const other = await attachMemoryClient(maze, '4\n');
    expect(maze.stats()).toMatchObject({ clientsConnected: 3, usersConnected: 2 });
    const source = attachMemorySource(maze);
    source.peer.write('1|P|9|3\n2|B\n');
    await second.received.waitForLength(12);
    const closed = waitForClientEvent(maze, 'clientClosed', first.connection);
    first.leave();
    expect(await closed).toMatchObject({ connection: first.connection, userId: 3 });
    expect(maze.stats()).toMatchObject({ clientsConnected: 2, usersConnected: 2 });
    source.peer.write('3|P|9|3\n');
    await second.received.waitForLength(20);
    await other.received.waitForLength(4);
    expect(first.received.text).toBe('1|P|9|3\n2|B\n');
    expect(second.received.text).toBe('1|P|9|3\n2|B\n3|P|9|3\n');
    expect(other.received.text).toBe('2|B\n');
  });

  it('reports a stream error as ERR_STREAM, removes the client and serves the others', async () => {
    const { maze, problems } = newMaze();
    const failing = await attachMemoryClient(maze, '1\n');
    const healthy = await attachMemoryClient(maze, '2\n');
    // Make the maze's end of the failing client fail, as a reset socket would.
    const [ours, peer] = duplexPair();
    const broken = maze.attachClient(ours);
    new Collector(peer);
    peer.write('1\n');
    await waitForClientEvent(maze, 'clientIdentified', broken);
    const closed = waitForClientEvent(maze, 'clientClosed', broken);
    ours.destroy(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
    expect(await closed).toMatchObject({ connection: broken, userId: 1 });
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.StreamError,
        context: { connection: broken, userId: 1 },
      }),
    ]);
    expect(problems[0]?.message).toMatch(/ECONNRESET/);
    const source = attachMemorySource(maze);
    source.peer.write('1|B\n');
    await healthy.received.waitForLength(4);
    await failing.received.waitForLength(4);
    expect(maze.stats()).toMatchObject({ clientsConnected: 2 });
  });

  it('forgets a client that closes before sending anything, without a report', async () => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.end('\n');
    await closed;
    expect(problems).toEqual([]);
    expect(maze.stats()).toMatchObject({ clientsConnected: 0, clientsIdentifying: 0 });
  });

  it('only delivers events applied after the id was read', async () => {
    const { maze } = newMaze();
    const source = attachMemorySource(maze);
    source.peer.write('1|B\n');
    await waitUntil(() => maze.stats().eventsApplied === 1, 'event 1');
    const client = await attachMemoryClient(maze, '1\n');
    source.peer.write('2|B\n');
    await client.received.waitForLength(4);
    expect(client.received.text).toBe('2|B\n');
  });
});

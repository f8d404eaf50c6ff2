/**
 * Backpressure (docs/protocol.md §6): a client over its buffer limit pauses the event source until it
 * drains, nobody misses anything, and a client stuck over its limit past the slow-client
 * timeout is dropped while the others go on.
 */

import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { OUTPUT_FLUSH_BYTES } from '../../lib/adapter/fan-out.js';
import { ErrorCode } from '../../lib/errors.js';
import {
  attachMemoryClient,
  attachMemorySource,
  sleep,
  useMemoryMazes,
  waitForClientEvent,
  waitUntil,
} from '../helpers/sockets.js';
import { broadcasts } from '../helpers/streams.js';

const newMaze = useMemoryMazes();

const EVENTS = 100_000;

describe('backpressure', () => {
  it('pauses the source while a client is over its limit and loses nothing', async () => {
    const { maze, problems } = newMaze({ clientBufferLimit: 32 * 1024 });
    const slow = await attachMemoryClient(maze, '1\n', { read: false });
    const fast = await attachMemoryClient(maze, '2\n');
    const source = attachMemorySource(maze);
    const lines = broadcasts(EVENTS);
    // Many small chunks, as a socket would deliver them.
    for (let at = 0; at < lines.length; at += 500) {
      source.peer.write(lines.slice(at, at + 500).join(''));
    }
    await waitUntil(() => maze.stats().eventSourcePaused, 'the source to pause');
    const heldAt = maze.stats().eventsReceived;
    await sleep(30);
    // Held: nothing more is read while the slow client is full.
    expect(maze.stats().eventsReceived).toBe(heldAt);
    expect(heldAt).toBeLessThan(EVENTS);
    expect(maze.stats().clientsOverLimit).toBe(1);

    slow.peer.resume();
    const total = lines.join('');
    await slow.received.waitForLength(total.length, 20_000);
    await fast.received.waitForLength(total.length, 20_000);
    expect(slow.received.text).toBe(total);
    expect(fast.received.text).toBe(total);
    const stats = maze.stats();
    expect(stats.eventSourcePauses).toBeGreaterThanOrEqual(1);
    expect(stats).toMatchObject({ eventSourcePaused: false, clientsOverLimit: 0 });
    expect(problems).toEqual([]);
  });

  it('drops a client stuck over its limit past the slow-client timeout; the rest go on', async () => {
    const { maze, problems } = newMaze({ clientBufferLimit: 32 * 1024, slowClientTimeout: 80 });
    const stuck = await attachMemoryClient(maze, '1\n', { read: false });
    const fast = await attachMemoryClient(maze, '2\n');
    const closed = waitForClientEvent(maze, 'clientClosed', stuck.connection);
    const source = attachMemorySource(maze);
    const lines = broadcasts(EVENTS);
    for (let at = 0; at < lines.length; at += 500) {
      source.peer.write(lines.slice(at, at + 500).join(''));
    }
    await waitUntil(() => maze.stats().eventSourcePaused, 'the source to pause');
    await closed;
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientSlow,
        context: { connection: stuck.connection, userId: 1 },
      }),
    ]);
    const total = lines.join('');
    await fast.received.waitForLength(total.length, 20_000);
    expect(fast.received.text).toBe(total);
    expect(maze.stats()).toMatchObject({
      slowClientDisconnects: 1,
      clientsConnected: 1,
      eventSourcePaused: false,
      eventsApplied: EVENTS,
    });
  });

  it('pauses inside one big input chunk, not only after it', async () => {
    const limit = 64 * 1024;
    const { maze, problems } = newMaze({ clientBufferLimit: limit });
    const slow = await attachMemoryClient(maze, '1\n', { read: false });
    const fast = await attachMemoryClient(maze, '2\n');
    const source = attachMemorySource(maze);
    const lines = broadcasts(200_000);
    const total = lines.join('');
    // One chunk owing each client 2.3 MB: flushed and paused on the way.
    source.peer.write(total);
    await waitUntil(() => maze.stats().eventSourcePaused, 'the source to pause');
    const stats = maze.stats();
    expect(stats.eventsReceived).toBeLessThan(lines.length);
    expect(stats.outputQueuedBytes).toBeLessThan(limit + OUTPUT_FLUSH_BYTES + 64);

    slow.peer.resume();
    await slow.received.waitForLength(total.length, 20_000);
    await fast.received.waitForLength(total.length, 20_000);
    expect(slow.received.text).toBe(total);
    expect(fast.received.text).toBe(total);
    expect(problems).toEqual([]);
  });

  it('applies every line held at a pause before the source ends, even when the end comes at once', async () => {
    const { maze, problems } = newMaze({ clientBufferLimit: 64 * 1024 });
    const slow = await attachMemoryClient(maze, '1\n', { read: false });
    const fast = await attachMemoryClient(maze, '2\n');
    const source = attachMemorySource(maze);
    const total = broadcasts(200_000).join('');
    // One chunk and the end, as `cat events | nc` sends them: the end is read while the rest
    // of the chunk is held.
    source.peer.end(total);
    await waitUntil(() => maze.stats().eventSourcePaused, 'the source to pause');
    expect(maze.stats().eventSourceConnected).toBe(true);
    slow.peer.resume();
    await fast.received.waitForLength(total.length, 20_000);
    await slow.received.waitForLength(total.length, 20_000);
    expect(fast.received.text).toBe(total);
    expect(slow.received.text).toBe(total);
    await waitUntil(() => !maze.stats().eventSourceConnected, 'the source to be released');
    expect(maze.stats()).toMatchObject({ eventsApplied: 200_000, eventSourcesAccepted: 1 });
    expect(problems).toEqual([]);
  });

  it('holds the budget when one line releases the whole reorder buffer', async () => {
    const budget = 1024 * 1024;
    const { maze, problems } = newMaze({
      clientBufferLimit: 64 * budget,
      totalBufferLimit: budget,
    });
    const stalled = await Promise.all(
      Array.from({ length: 20 }, (_, i) => attachMemoryClient(maze, `${i + 1}\n`, { read: false })),
    );
    const source = attachMemorySource(maze);
    // 20,000 broadcasts of 200 bytes wait for #1: 4 MB for each client once #1 arrives.
    const padded = (sequence: number): string => `${String(sequence).padStart(196, '0')}|B\n`;
    const waiting = Array.from({ length: 20_000 }, (_, i) => padded(i + 2)).join('');
    source.peer.write(waiting);
    await waitUntil(() => maze.stats().pending === 20_000, 'the events to wait for #1');
    source.peer.write(padded(1));
    await waitUntil(() => maze.stats().eventSourcePaused, 'the source to pause');
    // Within the budget plus one flush, not 80 MB.
    expect(maze.stats().outputQueuedBytes).toBeLessThan(budget + OUTPUT_FLUSH_BYTES + 64 * 1024);
    // Identified while the rest waits: those events were applied before its id.
    const late = await attachMemoryClient(maze, '99\n');
    for (const client of stalled) client.peer.resume();
    const all = padded(1) + waiting;
    for (const client of stalled) await client.received.waitForLength(all.length, 20_000);
    for (const client of stalled) expect(client.received.text).toBe(all);
    source.peer.write('20002|B\n');
    await late.received.waitForLength('20002|B\n'.length);
    expect(late.received.text).toBe('20002|B\n');
    expect(problems).toEqual([]);
  });

  it('starts a new source paused while a client is still over its limit', async () => {
    const { maze } = newMaze({ clientBufferLimit: 32 * 1024 });
    const slow = await attachMemoryClient(maze, '1\n', { read: false });
    // A paused source cannot read its end, but it can be torn down.
    const first = new PassThrough();
    maze.attachEventSource(first);
    first.write(broadcasts(20_000).join(''));
    await waitUntil(() => maze.stats().eventsReceived === 20_000, 'the first batch');
    expect(maze.stats().eventSourcePaused).toBe(true);
    first.destroy();
    await waitUntil(() => !maze.stats().eventSourceConnected, 'the first source to go');
    const second = attachMemorySource(maze);
    second.peer.write('20001|B\n');
    await sleep(20);
    expect(maze.stats().eventsReceived).toBe(20_000);
    slow.peer.resume();
    await waitUntil(() => maze.stats().eventsReceived === 20_001, 'the second source');
  });
});

/**
 * Hardening, fuzzing both ports over real sockets (docs/protocol.md §2-7, 9): thousands of random and
 * mutated byte streams, cut into random chunks, from a seeded PRNG so a failure replays.
 * The process never crashes and nothing is left unhandled; well-behaved clients connected
 * alongside still receive exactly what the reference model computes from the same bytes
 * (the model frames each source's bytes by LF itself), and the server keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';
import { expectedDeliveries, framedLines, type ModelOp } from '../helpers/model.js';
import {
  connectTcp,
  deliveryMismatch,
  identifyUsers,
  lineOps,
  sleep,
  useTcpMazes,
  waitUntil,
  writeInPieces,
} from '../helpers/sockets.js';
import {
  fuzzBytes,
  generateEventLines,
  mulberry32,
  mutateLine,
  pick,
  type Rng,
  randomEventLine,
  randomInt,
} from '../helpers/streams.js';

const SEED = 20_240_605;
const IDENTIFY_TIMEOUT = 100;
const startMaze = useTcpMazes();

// Anything thrown or rejected outside a test's own awaits fails the suite (jest also fails
// a suite on an uncaught exception; these guards make the check explicit in each test).
const crashes: unknown[] = [];
const onCrash = (error: unknown): void => {
  crashes.push(error);
};
beforeAll(() => {
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
});
afterAll(() => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
});

/**
 * One client-port fuzz case: random bytes, a mutated id, or a valid id followed by junk;
 * then a clean end, a close, a reset, or silence until the server gives up on it.
 */
async function fuzzClient(port: number, seed: number): Promise<void> {
  const rng = mulberry32(seed);
  const peer = await connectTcp(port);
  const user = `${randomInt(rng, 1, 9)}\n`;
  const text = pick(rng, [
    () => fuzzBytes(rng, randomInt(rng, 1, 300)),
    () => mutateLine(rng, user) + fuzzBytes(rng, randomInt(rng, 0, 50)),
    () => user + fuzzBytes(rng, randomInt(rng, 0, 3_000)),
    () => '',
  ])();
  await writeInPieces(peer.socket, text, rng, 64);
  switch (randomInt(rng, 0, 3)) {
    case 0:
      peer.socket.end();
      break;
    case 1:
      peer.socket.destroy();
      break;
    case 2:
      peer.socket.resetAndDestroy();
      break;
    default:
      // Silent: the server closes it (identify timeout) unless it identified.
      await peer.received.waitForEnd(IDENTIFY_TIMEOUT * 2).catch(() => undefined);
  }
  await peer.close(1_000);
}

/** Runs `count` client fuzz cases, `parallel` at a time. */
async function fuzzClients(port: number, seed: number, count: number, parallel: number) {
  for (let at = 0; at < count; at += parallel) {
    await Promise.all(
      Array.from({ length: Math.min(parallel, count - at) }, (_, i) =>
        fuzzClient(port, seed + at + i),
      ),
    );
  }
}

/**
 * The bytes of one event-source session: valid events with fresh numbers, mutated ones
 * (each followed later by its valid original, so no number stays missing for good), stale
 * repeats and raw fuzz. `next` is the first fresh number; returns the next one too.
 */
function fuzzSession(rng: Rng, next: number, items: number): { text: string; next: number } {
  let text = '';
  let fresh = next;
  const backfill: string[] = [];
  for (let i = 0; i < items; i++) {
    const roll = rng();
    if (roll < 0.55) {
      text += randomEventLine(rng, fresh++, 8, rng() < 0.2 ? '\r\n' : '\n');
    } else if (roll < 0.75) {
      // Its own line, so a lost LF does not swallow the next event.
      const line = randomEventLine(rng, fresh++, 8);
      text += `${mutateLine(rng, line)}\n`;
      backfill.push(line);
    } else if (roll < 0.85) {
      text += randomEventLine(rng, randomInt(rng, Math.max(1, fresh - 50), fresh), 8);
    } else if (roll < 0.87) {
      // Probably over the line limit of the test.
      text += `${fuzzBytes(rng, randomInt(rng, 100, 700)).replace(/\n/g, '')}\n`;
    } else {
      text += `${fuzzBytes(rng, randomInt(rng, 1, 60))}\n`;
    }
    if (backfill.length > 0 && rng() < 0.3) text += `\n${backfill.shift()}`;
  }
  text += `\n${backfill.join('')}`;
  // Sometimes the source ends (cleanly) in the middle of a line. The server discards that
  // fragment, so its number stays fresh: the next session sends the event whole.
  const ending = rng();
  if (ending < 0.15) text += randomEventLine(rng, fresh, 8).replace(/\r?\n$/, '');
  else if (ending < 0.3) text += fuzzBytes(rng, randomInt(rng, 1, 20)).replace(/\n/g, '');
  return { text, next: fresh };
}

const EVENT_PROBLEMS = new Set<string>([
  ErrorCode.EventBadSequence,
  ErrorCode.EventBadBody,
  ErrorCode.EventDuplicate,
  ErrorCode.EventStale,
  ErrorCode.LineTooLong,
  ErrorCode.LineUnterminated,
]);
const CLIENT_PROBLEMS = new Set<string>([
  ErrorCode.ClientBadId,
  ErrorCode.ClientBadResume,
  ErrorCode.ClientIdTimeout,
  ErrorCode.StreamError,
]);

describe('fuzzing both ports', () => {
  it('keeps every well-behaved client exact while both ports take random and mutated bytes', async () => {
    const maxLineLength = 256;
    const maze = await startMaze({ identifyTimeout: IDENTIFY_TIMEOUT, maxLineLength });
    const { clients, ops } = await identifyUsers(maze, [1, 2, 3, 4, 5, 6, 7, 8, 3, 5]);
    const clientFuzz = fuzzClients(maze.server.clientAddress.port, SEED, 1_000, 50);

    const rng = mulberry32(SEED);
    const model: ModelOp[] = [...ops];
    let next = 1;
    let intruders = 0;
    for (let session = 0; session < 50; session++) {
      const fuzz = fuzzSession(rng, next, randomInt(rng, 20, 120));
      next = fuzz.next;
      const accepted = maze.maze.stats().eventSourcesAccepted;
      const source = await maze.connectSource();
      await waitUntil(
        () => maze.maze.stats().eventSourcesAccepted === accepted + 1,
        `session ${session} to be accepted`,
      );
      const sending = writeInPieces(source.socket, fuzz.text, rng, 512);
      if (rng() < 0.3) {
        // A second source meanwhile: refused, and nothing it sends may count.
        intruders++;
        const intruder = await maze.connectSource();
        intruder.socket.write(fuzzSession(rng, 1, 30).text, 'latin1');
        await intruder.received.waitForEnd();
      }
      await sending;
      source.socket.end();
      await maze.sourceReleased();
      model.push(...lineOps(framedLines(fuzz.text, maxLineLength)));
    }
    await clientFuzz;
    // Fuzz clients that identified and then closed look half-closed to the server until a
    // write to them is refused: broadcasts find them.
    const sweeper = await maze.connectSource();
    const onlyGoodLeft = (): boolean => maze.maze.stats().clientsConnected === 10;
    for (let round = 0; round < 100 && !onlyGoodLeft(); round++) {
      const line = `${next++}|B\n`;
      sweeper.socket.write(line);
      model.push(...lineOps([line]));
      await sleep(10);
    }

    const expected = expectedDeliveries(model);
    expect(await deliveryMismatch(clients, expected, 10_000)).toBeUndefined();
    await sleep(50);
    expect(await deliveryMismatch(clients, expected, 1)).toBeUndefined();
    // Every fresh number was sent in its valid form, so the stream got past all of them.
    const stats = maze.maze.stats();
    expect(stats.nextSequence).toBeGreaterThanOrEqual(next);
    expect(stats.eventsApplied).toBeGreaterThan(2_000);
    await waitUntil(
      () => maze.maze.stats().clientsConnected === 10 && maze.maze.stats().clientsIdentifying === 0,
      'only the well-behaved clients to be left',
    );
    expect(stats.eventSourcesRefused).toBe(intruders);
    const unexpected = maze.problems.filter(
      (problem) =>
        !(problem.context.connection?.startsWith('event-source#')
          ? EVENT_PROBLEMS.has(problem.code) || problem.code === ErrorCode.EventSourceBusy
          : CLIENT_PROBLEMS.has(problem.code)),
    );
    expect(unexpected).toEqual([]);
    expect(maze.codes().filter((code) => code === ErrorCode.EventSourceBusy)).toHaveLength(
      intruders,
    );
    expect(crashes).toEqual([]);
  });

  it('survives sources and clients that send junk and vanish at random, then serves exactly', async () => {
    const maze = await startMaze({
      identifyTimeout: IDENTIFY_TIMEOUT,
      maxLineLength: 128,
      reorderCapacity: 16,
      clientBufferLimit: 16 * 1024,
      slowClientTimeout: 200,
      resetOnDisconnect: true,
    });
    const rng = mulberry32(SEED + 1);
    const clientFuzz = fuzzClients(maze.server.clientAddress.port, SEED + 1_000, 500, 50);
    for (let round = 0; round < 100; round++) {
      // A few sources at once: one is accepted, the others refused; all vanish at random.
      await Promise.all(
        Array.from({ length: randomInt(rng, 1, 4) }, async () => {
          const source = await maze.connectSource();
          const text = pick(rng, [
            () => fuzzBytes(rng, randomInt(rng, 1, 4_000)),
            () => fuzzSession(rng, randomInt(rng, 1, 50), randomInt(rng, 1, 80)).text,
            () => generateEventLines({ count: 200, users: 9, seed: round }).join(''),
          ])();
          await writeInPieces(source.socket, text, rng, 700);
          if (rng() < 0.5) source.socket.resetAndDestroy();
          else source.socket.end();
          await source.close(1_000);
        }),
      );
    }
    await clientFuzz;
    await maze.sourceReleased();
    expect(maze.maze.stats()).toMatchObject({ nextSequence: 1, pending: 0, followEdges: 0 });

    // Everything is fresh again: a clean source and clients get exactly the model's share.
    const { clients, ops } = await identifyUsers(maze, [1, 2, 3, 2]);
    const lines = generateEventLines({ count: 3_000, users: 3, seed: SEED });
    const source = await maze.connectSource();
    await writeInPieces(source.socket, lines.join(''), rng, 4_096);
    const expected = expectedDeliveries([...ops, ...lineOps(lines)]);
    expect(await deliveryMismatch(clients, expected, 10_000)).toBeUndefined();
    expect(maze.maze.stats().eventSourcesAccepted).toBeGreaterThan(50);
    expect(maze.maze.stats().eventSourcesRefused).toBeGreaterThan(10);
    expect(maze.codes()).toContain(ErrorCode.SequenceGap);
    expect(crashes).toEqual([]);
  });
});

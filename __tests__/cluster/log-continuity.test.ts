/**
 * Continuity of the event log (lib/cluster/log-continuity.ts): which batches continue it, the
 * last one a resuming ingest finds, and an ingest and gateways on `MemoryEventLog` that a
 * foreign message and forged batches on the subject do not derail: the running gateway and
 * one started afterwards deliver what one maze delivers, a restarted ingest appends after
 * them. Every wait is bounded; every gateway, ingest and maze is closed.
 */
import { describe, expect, it } from '@jest/globals';
import { encodeBatch } from '../../lib/cluster/batch-codec.js';
import type { EventBatch, LogEntry } from '../../lib/cluster/event-log.js';
import { createGateway, type Gateway } from '../../lib/cluster/gateway.js';
import { createIngest, type Ingest } from '../../lib/cluster/ingest.js';
import {
  discontinuity,
  findResumeTail,
  LOG_TAIL_SCAN,
  lastContinuing,
} from '../../lib/cluster/log-continuity.js';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import { CORE_OPTIONS } from '../../lib/core/options.js';
import { ErrorCode, type Problem } from '../../lib/errors.js';
import { collectProblems, useClosing } from '../helpers/closing.js';
import {
  attachMemorySource,
  attachUsers,
  expectSameDeliveries,
  type MemoryClient,
  useMemoryMazes,
  WAIT_MS,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';
import { generateEventLines } from '../helpers/streams.js';

const track = useClosing();
const newMaze = useMemoryMazes();

function batch(position: number, first: number, last: number): LogEntry {
  return { position, firstSequence: first, lastSequence: last, lines: [`${first}|B\n`] };
}

function foreign(position: number): LogEntry {
  return { position, foreign: 'not a follower-maze batch' };
}

// What a log written by this version records (with the default options).
const DEFAULT_SETTINGS = {
  maxFollowEdges: CORE_OPTIONS.maxFollowEdges.default,
  startSequence: CORE_OPTIONS.startSequence.default,
  delimiter: CORE_OPTIONS.delimiter.default,
};

const FORGED = 'FMB1 9000000000 9000000000 1\n9000000000|B\n';

describe('discontinuity', () => {
  it('lets through only the batch that starts right after the last number applied', () => {
    expect(discontinuity(batch(1, 5, 9), undefined)).toBeUndefined();
    expect(discontinuity(batch(2, 10, 12), 9)).toBeUndefined();
    expect(discontinuity(foreign(2), 9)).toBe('not a follower-maze batch');
    for (const [first, last] of [
      [9_000_000_000, 9_000_000_000],
      [5, 9],
      [8, 12],
      [11, 12],
    ] as const) {
      expect(discontinuity(batch(2, first, last), 9)).toBe(
        `a batch of events ${first}..${last} does not continue the log at event 9 (it would need to start at 10)`,
      );
    }
  });
});

describe('lastContinuing', () => {
  it('ends the longest run of continuing batches, whatever lies between or after them', () => {
    const entries = [
      batch(1, 11, 20),
      foreign(2),
      batch(3, 9_000_000_000, 9_000_000_000),
      batch(4, 21, 30),
      batch(5, 11, 20),
      batch(6, 31, 40),
      foreign(7),
      batch(8, 15, 22),
    ];
    expect(lastContinuing(entries, false)?.position).toBe(6);
    expect(lastContinuing(entries.slice(0, 3), false)?.position).toBe(1);
    expect(lastContinuing([foreign(1), foreign(2)], false)).toBeUndefined();
  });

  it("starts the run at the log's first batch when the entries reach it", () => {
    const entries = [
      foreign(1),
      batch(2, 1, 5),
      batch(3, 100, 200),
      batch(4, 201, 300),
      batch(5, 6, 9),
    ];
    expect(lastContinuing(entries, true)?.position).toBe(5);
    expect(lastContinuing(entries, false)?.position).toBe(4);
  });

  it("starts it at the recorded startSequence, past a forged batch before the log's first", () => {
    const entries = [batch(1, 9_000_000_000, 9_000_000_000), batch(2, 1, 5), batch(3, 6, 9)];
    expect(lastContinuing(entries, true)?.position).toBe(1);
    expect(lastContinuing(entries, true, 1)?.position).toBe(3);
    expect(lastContinuing(entries, true, 2)).toBeUndefined();
    // A window that does not reach the log's start ignores it.
    expect(lastContinuing(entries.slice(1), false, 100)?.position).toBe(3);
  });
});

describe('findResumeTail', () => {
  it('finds the last continuing batch behind foreign messages and forged batches', async () => {
    const log = track(new MemoryEventLog());
    expect(await findResumeTail(log)).toBeUndefined();
    log.publish('hello\n');
    expect(await findResumeTail(log)).toEqual({
      position: 1,
      batch: undefined,
      foreign: 1,
      complete: true,
    });
    await log.append({ firstSequence: 1, lastSequence: 4, lines: ['2|B\n'] }, { position: 1 });
    await log.append({ firstSequence: 5, lastSequence: 5, lines: ['5|B\n'] }, { position: 2 });
    log.publish(FORGED);
    log.publish(encodeBatch({ firstSequence: 1, lastSequence: 4, lines: ['2|B\n'] }));
    log.publish('hello again\n');
    expect(await findResumeTail(log)).toEqual({
      position: 6,
      batch: { position: 3, firstSequence: 5, lastSequence: 5 },
      foreign: 3,
      complete: true,
    });
  });

  it('reads back a shorter stretch when retention dropped the start of its window', async () => {
    const log = track(new MemoryEventLog({ retainBatches: LOG_TAIL_SCAN / 2 }));
    for (let position = 0; position < LOG_TAIL_SCAN; position++) {
      const first = position + 1;
      const lines = [`${first}|B\n`];
      await log.append({ firstSequence: first, lastSequence: first, lines }, { position });
    }
    for (let count = 0; count < 100; count++) log.publish('hello\n');
    expect(log.firstPosition).toBeGreaterThan(1);
    expect(await findResumeTail(log)).toEqual({
      position: LOG_TAIL_SCAN + 100,
      batch: { position: LOG_TAIL_SCAN, firstSequence: LOG_TAIL_SCAN, lastSequence: LOG_TAIL_SCAN },
      foreign: 100,
      complete: true,
    });
  });
});

describe('more stray messages than LOG_TAIL_SCAN at the end of the log', () => {
  const STRAYS = LOG_TAIL_SCAN + 44;

  async function appendBatches(log: MemoryEventLog, count: number): Promise<void> {
    await log.recordSettings(DEFAULT_SETTINGS, 1);
    for (let index = 0; index < count; index++) {
      const first = index * 10 + 1;
      const lines = [`${first}|B\n`];
      await log.append(
        { firstSequence: first, lastSequence: first + 9, lines },
        { position: index },
      );
    }
  }

  it('do not hide the last continuing batch from a restarted ingest', async () => {
    const log = track(new MemoryEventLog());
    await appendBatches(log, 5);
    for (let count = 0; count < STRAYS; count++) log.publish('hello\n');
    expect(await findResumeTail(log)).toEqual({
      position: 5 + STRAYS,
      batch: { position: 5, firstSequence: 41, lastSequence: 50 },
      foreign: STRAYS,
      complete: true,
    });
    const ingest = track(await withTimeout(createIngest({ log }), WAIT_MS, 'createIngest'));
    expect(ingest.stats().nextSequence).toBe(51);
    expect(ingest.stats().foreignSkipped).toBe(STRAYS);
  });

  it('make an ingest refuse to start when retention kept none of its batches', async () => {
    const log = track(new MemoryEventLog({ retainBatches: STRAYS }));
    await appendBatches(log, 5);
    for (let count = 0; count < STRAYS; count++) log.publish('hello\n');
    expect(log.firstPosition).toBe(6);
    expect(await findResumeTail(log)).toEqual({
      position: 5 + STRAYS,
      batch: undefined,
      foreign: STRAYS,
      complete: false,
    });
    await expect(createIngest({ log })).rejects.toMatchObject({ code: ErrorCode.LogForeign });
  });
});

describe('findResumeTail with a recorded startSequence', () => {
  it("skips a forged batch before the log's first", async () => {
    const log = track(new MemoryEventLog());
    log.publish(FORGED);
    // As if its writer had recorded its settings before the forged batch came.
    const identity = { epoch: 'e', settings: DEFAULT_SETTINGS, firstPosition: 1 };
    expect(await findResumeTail(log, identity)).toEqual({
      position: 1,
      batch: undefined,
      foreign: 1,
      complete: true,
    });
    await log.append({ firstSequence: 1, lastSequence: 4, lines: ['2|B\n'] }, { position: 1 });
    expect(await findResumeTail(log, identity)).toEqual({
      position: 2,
      batch: { position: 2, firstSequence: 1, lastSequence: 4 },
      foreign: 0,
      complete: true,
    });
  });
});

describe('a gateway starting on a forged tail', () => {
  it('starts when the forged batch records another delimiter, and skips it', async () => {
    const log = track(new MemoryEventLog());
    await log.recordSettings(DEFAULT_SETTINGS, 1);
    await log.append({ firstSequence: 1, lastSequence: 1, lines: ['1|B\n'] }, { position: 0 });
    log.publish('FMB1 9000000000 9000000000 1 59\n9000000000;B\n');
    const gateway = track(await withTimeout(createGateway({ log }), WAIT_MS, 'createGateway'));
    await withTimeout(gateway.ready, WAIT_MS, 'the gateway ready');
    expect(gateway.stats()).toMatchObject({ logPosition: 2, batchesApplied: 1, logForeign: 1 });
  });
});

describe('a foreign message and forged batches on the log', () => {
  const USERS = 10;
  const PART = 1_000;

  function eventsText(from: number, to: number): string {
    return generateEventLines({ count: to - from + 1, users: USERS, seed: from, start: from }).join(
      '',
    );
  }

  async function newGateway(
    log: MemoryEventLog,
  ): Promise<{ gateway: Gateway; problems: Problem[] }> {
    const gateway = track(await withTimeout(createGateway({ log }), WAIT_MS, 'createGateway'));
    const problems = collectProblems(gateway);
    await withTimeout(gateway.ready, WAIT_MS, 'the gateway ready');
    return { gateway, problems };
  }

  async function newIngest(log: MemoryEventLog): Promise<{ ingest: Ingest; problems: Problem[] }> {
    const ingest = track(await withTimeout(createIngest({ log }), WAIT_MS, 'createIngest'));
    return { ingest, problems: collectProblems(ingest) };
  }

  async function send(ingest: Ingest, text: string, appended: number): Promise<void> {
    const source = attachMemorySource(ingest);
    source.peer.write(text);
    await source.end();
    await waitUntil(
      () => ingest.stats().eventsAppended === appended,
      `${appended} events appended`,
    );
  }

  function foreignPositions(problems: readonly Problem[]): (string | undefined)[] {
    return problems
      .filter((problem) => problem.code === ErrorCode.LogForeign)
      .map((problem) => problem.context.connection);
  }

  it('never derail the gateways, one started afterwards, or the ingest, restarted or not', async () => {
    const { maze } = newMaze();
    const direct = attachMemorySource(maze);
    const reference: MemoryClient[][] = [await attachUsers(maze, USERS)];
    const log = track(new MemoryEventLog());
    const first = await newIngest(log);
    const running = await newGateway(log);
    const served: MemoryClient[][] = [await attachUsers(running.gateway, USERS)];

    direct.peer.write(eventsText(1, PART));
    await send(first.ingest, eventsText(1, PART), PART);
    const reader = log.read(1);
    const firstBatch = await withTimeout(reader.next(), WAIT_MS, 'the first batch');
    await reader.close();
    const end = (await log.tail())?.position ?? 0;
    await waitUntil(() => running.gateway.stats().logPosition === end, 'the gateway at the end');
    log.publish('hello\n');
    log.publish(FORGED);
    log.publish(encodeBatch(firstBatch as EventBatch));
    await waitUntil(() => running.gateway.stats().logForeign === 3, 'three entries skipped');
    expect(foreignPositions(running.problems)).toEqual(
      [1, 2, 3].map((offset) => `log position ${end + offset}`),
    );
    expect(running.problems[1]?.message).toBe(
      `skipped log position ${end + 2}: a batch of events 9000000000..9000000000 does not continue the log at event ${PART} (it would need to start at ${PART + 1})`,
    );

    // The ingest's next append is fenced by them: it skips them and appends after.
    direct.peer.write(eventsText(PART + 1, 2 * PART));
    await send(first.ingest, eventsText(PART + 1, 2 * PART), 2 * PART);
    expect(first.ingest.stats()).toMatchObject({ foreignSkipped: 3, stopped: false });
    expect(foreignPositions(first.problems)).toHaveLength(1);
    await waitUntil(() => maze.stats().eventsApplied === 2 * PART, 'the reference');

    // A gateway started now starts, and serves what the reference serves from here.
    const late = await newGateway(log);
    expect(late.gateway.stats()).toMatchObject({ logForeign: 3, eventsApplied: 2 * PART });
    served.push(await attachUsers(late.gateway, USERS));
    reference.push(await attachUsers(maze, USERS));

    // A restarted ingest finds a forged batch and a foreign message at the tail: it starts,
    // says so, and appends after them.
    await first.ingest.close();
    log.publish(FORGED);
    log.publish('hello\n');
    const second = await newIngest(log);
    expect(second.ingest.stats().nextSequence).toBe(2 * PART + 1);
    await waitUntil(() => second.problems.length > 0, 'the start report');
    expect(second.problems[0]).toMatchObject({
      code: ErrorCode.LogForeign,
      message: expect.stringContaining('holds 2 message(s) this ingest did not write'),
    });
    direct.peer.write(eventsText(2 * PART + 1, 3 * PART));
    await send(second.ingest, eventsText(2 * PART + 1, 3 * PART), PART);

    await direct.end();
    for (const { gateway } of [running, late]) {
      await waitUntil(() => gateway.stats().eventsApplied === 3 * PART, 'every event applied');
      expect(gateway.stats().logForeign).toBe(5);
      expect(gateway.stopped).toBe(false);
    }
    for (const [index, clients] of served.entries()) {
      expect(
        await expectSameDeliveries(clients, reference[index] as MemoryClient[]),
      ).toBeGreaterThan(PART);
    }
  });

  it("skip a forged batch placed before the ingest's first append", async () => {
    const log = track(new MemoryEventLog());
    // Started before the ingest recorded its settings: it reads them at its first batch.
    const early = await newGateway(log);
    const first = await newIngest(log);
    log.publish(FORGED);
    await send(first.ingest, eventsText(1, PART), PART);
    expect(first.ingest.stats()).toMatchObject({ foreignSkipped: 1, stopped: false });
    const late = await newGateway(log);
    const end = (await log.tail())?.position;
    for (const { gateway, problems } of [early, late]) {
      await waitUntil(() => gateway.stats().eventsApplied === PART, 'every event applied');
      expect(gateway.stats()).toMatchObject({ logForeign: 1, logPosition: end });
      expect(foreignPositions(problems)).toEqual(['log position 1']);
    }
    await first.ingest.close();
    const second = await newIngest(log);
    expect(second.ingest.stats().nextSequence).toBe(PART + 1);
  });

  it('cost a gateway one wait for the record, not a request each, however many come first', async () => {
    const log = track(new MemoryEventLog());
    let identities = 0;
    const identity = log.identity.bind(log);
    log.identity = () => {
      identities++;
      return identity();
    };
    const early = await newGateway(log);
    const asked = identities;
    const FORGED_COUNT = 200;
    for (let first = 1; first <= FORGED_COUNT; first++) {
      log.publish(
        encodeBatch({ firstSequence: first, lastSequence: first, lines: [`${first}|B\n`] }),
      );
    }
    const writer = await newIngest(log);
    await send(writer.ingest, eventsText(1, PART), PART);
    await waitUntil(() => early.gateway.stats().eventsApplied === PART, 'every event applied');
    expect(early.gateway.stats()).toMatchObject({ logForeign: FORGED_COUNT });
    // The gateway waited at the first of them (and the ingest asked a few times too).
    expect(identities - asked).toBeLessThan(20);
  });

  it('skip well-formed batches published before the ingest started, even at its startSequence', async () => {
    const { maze } = newMaze();
    const direct = attachMemorySource(maze);
    const reference = await attachUsers(maze, USERS);
    const log = track(new MemoryEventLog());
    // A gateway creates the log; batches that start the log as its writer would are
    // published before the ingest's first batch is in.
    const early = await newGateway(log);
    const served = [await attachUsers(early.gateway, USERS)];
    const forged = ['FMB1 1 2 2\n1|F|3|4\n2|B\n', 'FMB1 3 9000000000 1\n9000000000|B\n'];
    for (const payload of forged) log.publish(payload);
    const first = await newIngest(log);
    expect((await log.identity()).settings).toBeUndefined();
    expect(first.ingest.stats()).toMatchObject({ nextSequence: 1, foreignSkipped: 2 });
    // Nothing applied before the writer's record, which comes with its first batch.
    expect(early.gateway.stats()).toMatchObject({ batchesApplied: 0, logForeign: 0 });
    direct.peer.write(eventsText(1, PART));
    await send(first.ingest, eventsText(1, PART), PART);
    expect(await log.identity()).toMatchObject({ settings: DEFAULT_SETTINGS, firstPosition: 3 });
    await waitUntil(() => early.gateway.stats().eventsApplied === PART, 'the early gateway');
    expect(early.gateway.stats()).toMatchObject({ logForeign: 2 });
    expect(early.problems[0]?.message).toMatch(
      /^skipped log position 1: it was there before the log's writer appended its first batch/,
    );
    // One started now skips them too: they stand before the log's first position.
    const late = await newGateway(log);
    expect(late.gateway.stats()).toMatchObject({ logForeign: 2, eventsApplied: PART });
    expect(late.problems[0]?.message).toMatch(
      /^skipped log position 1: it was there before the log's writer appended its first batch/,
    );
    await first.ingest.close();
    const second = await newIngest(log);
    expect(second.ingest.stats().nextSequence).toBe(PART + 1);
    await direct.end();
    await waitUntil(() => maze.stats().eventsApplied === PART, 'the reference');
    await waitUntil(() => early.gateway.stats().eventsApplied === PART, 'every event applied');
    for (const clients of served) {
      expect(await expectSameDeliveries(clients, reference)).toBeGreaterThan(PART / 10);
    }
  });
});

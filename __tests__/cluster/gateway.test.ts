/**
 * The cluster's gateway (lib/cluster/gateway.ts) against `MemoryEventLog` over in-memory
 * clients: an ingest and gateways together deliver what one maze delivers; catching up before
 * clients are accepted; backpressure that stops the pulling; read failures retried without
 * loss or duplication; a log the gateway cannot follow stops it. Every wait is bounded; every
 * gateway, ingest and maze is closed.
 */
import { duplexPair } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { knownDescriptorLimit, maxClientsFor } from '../../lib/adapter/descriptor-limit.js';
import {
  type EventBatch,
  type EventLog,
  iterateReader,
  type LogReader,
  type ReadOptions,
} from '../../lib/cluster/event-log.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../lib/cluster/gateway.js';
import { createIngest, type Ingest } from '../../lib/cluster/ingest.js';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import { MemorySnapshotStore } from '../../lib/cluster/snapshot-store.js';
import { createSnapshotWriter } from '../../lib/cluster/snapshot-writer.js';
import { streamEpochOf } from '../../lib/cluster/stream-epoch.js';
import { ErrorCode, MazeError, type Problem } from '../../lib/errors.js';
import { gatewayMonitorSources } from '../../lib/monitor/cluster-sources.js';
import { collectProblems, useClosing } from '../helpers/closing.js';
import { appendRange } from '../helpers/event-log-contract.js';
import { FlakyClient } from '../helpers/resume.js';
import {
  attachMemoryClient,
  attachMemorySource,
  attachUsers,
  expectSameDeliveries,
  sleep,
  useMemoryMazes,
  WAIT_MS,
  waitForClientEvent,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';
import {
  generateEventLines,
  injectFaults,
  mulberry32,
  shuffleInBatches,
} from '../helpers/streams.js';

interface TestGateway {
  readonly gateway: Gateway;
  readonly problems: Problem[];
}

const track = useClosing();

async function newGateway(options: GatewayOptions): Promise<TestGateway> {
  const gateway = track(await withTimeout(createGateway(options), WAIT_MS, 'createGateway'));
  return { gateway, problems: collectProblems(gateway) };
}

function newIngest(log: EventLog): Promise<Ingest> {
  return withTimeout(createIngest({ log }), WAIT_MS, 'createIngest').then(track);
}

/**
 * `count` batches of `perBatch` broadcasts of 1 KiB each, numbered from 1, appended at
 * positions 0, 1, …; returns the batches.
 */
async function appendKibBroadcasts(
  log: EventLog,
  count: number,
  perBatch: number,
): Promise<EventBatch[]> {
  const batches = Array.from({ length: count }, (_, index) => {
    const first = perBatch * index + 1;
    const lines = Array.from(
      { length: perBatch },
      (_, offset) => `${String(first + offset).padStart(1020, '0')}|B\n`,
    );
    return { firstSequence: first, lastSequence: first + perBatch - 1, lines };
  });
  // As an ingest does before its first append (nothing if the log records settings already).
  await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
  for (const [position, batch] of batches.entries()) await log.append(batch, { position });
  return batches;
}

const codes = (problems: readonly Problem[]) => problems.map((problem) => problem.code);

describe('Gateway: ingest and gateways deliver what one maze delivers', () => {
  const newMaze = useMemoryMazes();

  it('on a shuffled stream with faults, LF and CRLF, to clients of two gateways', async () => {
    const users = 12;
    const rng = mulberry32(7);
    const valid = generateEventLines({ count: 3_000, users, seed: 11 }).map((line, index) =>
      index % 3 === 0 ? line.replace('\n', '\r\n') : line,
    );
    const lines = shuffleInBatches(injectFaults(valid, { rng, rate: 0.05, users }), 40, rng);
    const text = lines.join('');

    const { maze } = newMaze();
    const reference = await attachUsers(maze, users);
    const log = new MemoryEventLog();
    const ingest = await newIngest(log);
    const gateways = [await newGateway({ log }), await newGateway({ log })];
    await Promise.all(gateways.map(({ gateway }) => gateway.ready));
    const served = await Promise.all(gateways.map(({ gateway }) => attachUsers(gateway, users)));

    const direct = attachMemorySource(maze);
    direct.peer.write(text);
    await direct.end();
    const source = attachMemorySource(ingest);
    source.peer.write(text);
    await source.end();
    await ingest.close();

    const applied = maze.stats().eventsApplied;
    expect(applied).toBeGreaterThan(2_000);
    for (const { gateway } of gateways) {
      await waitUntil(() => gateway.stats().eventsApplied === applied, `${applied} events applied`);
    }
    for (const clients of served) await expectSameDeliveries(clients, reference);
    expect(reference.some((client) => client.received.text.includes('\r\n'))).toBe(true);
  });
});

describe('Gateway: clients that resume', () => {
  it('get on any gateway, and on one started later, what a client that never dropped gets', async () => {
    const users = 6;
    const rng = mulberry32(21);
    const lines = shuffleInBatches(generateEventLines({ count: 3_000, users, seed: 5 }), 30, rng);
    const log = new MemoryEventLog();
    const ingest = await newIngest(log);
    const resumeBytes = 16 * 1024 * 1024;
    const gateways = [
      await newGateway({ log, resumeBytes }),
      await newGateway({ log, resumeBytes }),
    ].map((g) => g.gateway);
    await Promise.all(gateways.map((gateway) => gateway.ready));
    const steady = await attachMemoryClient(gateways[0] as Gateway, '4\n');
    const flaky = new FlakyClient(4);
    await flaky.connect(gateways[1] as Gateway);
    const source = attachMemorySource(ingest);
    let resumes = 0;
    for (let at = 0; at < lines.length; at += 250) {
      source.peer.write(lines.slice(at, at + 250).join(''));
      await waitUntil(
        () => ingest.stats().eventsAppended >= Math.min(at + 250, 3_000) - 250,
        'appends',
      );
      if (at === 1_500) {
        // A gateway started now replays the log from its start, so its history reaches back too.
        const late = await newGateway({ log, resumeBytes });
        await late.gateway.ready;
        gateways.push(late.gateway);
      }
      flaky.drop();
      const next = gateways[resumes++ % gateways.length] as Gateway;
      // A gateway behind the client's last number would say "ahead": wait until it is not.
      await waitUntil(
        () => next.stats().nextSequence > flaky.lastSequence,
        'the next gateway to reach the client',
      );
      await flaky.connect(next);
    }
    await source.end();
    for (const gateway of gateways) {
      await waitUntil(() => gateway.stats().eventsApplied === 3_000, 'every event applied');
    }
    await waitUntil(() => flaky.text.length >= steady.received.text.length, 'the flaky client');
    expect(steady.received.text.length).toBeGreaterThan(1_000);
    expect(flaky.text).toBe(steady.received.text);
    const resumed = gateways.map((gateway) => gateway.stats().clientsResumed);
    expect(resumed.every((count) => count > 0)).toBe(true);
    expect(gateways.map((gateway) => gateway.stats().resumesRefused)).toEqual([0, 0, 0]);
  });
});

describe('Gateway: limits and accept failures', () => {
  it('lowers maxClients as a maze does, and counts ERR_ACCEPT in acceptFailures', async () => {
    const huge = 1_000_000_000;
    const { gateway, problems } = await newGateway({ log: new MemoryEventLog(), maxClients: huge });
    const known = knownDescriptorLimit();
    expect(gateway.options.maxClients).toBe(known === undefined ? huge : maxClientsFor(known));
    await gateway.ready;
    gateway.report({
      code: ErrorCode.AcceptFailed,
      message: 'client port failed to accept a connection: accept EMFILE; still listening',
      context: { connection: 'client-port' },
    });
    expect(gateway.stats()).toMatchObject({ acceptFailures: 1, problems: 1 });
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.AcceptFailed]);
    expect(gatewayMonitorSources(gateway).statMetrics).toHaveProperty('acceptFailures');
  });
});

describe('Gateway: catching up', () => {
  it('emits caughtUp at once for an empty log, to a listener added after createGateway', async () => {
    const { gateway } = await newGateway({ log: new MemoryEventLog() });
    const position = await withTimeout(
      new Promise<number>((resolve) => gateway.once('caughtUp', resolve)),
      WAIT_MS,
      'caughtUp',
    );
    expect(position).toBe(0);
    await gateway.ready;
  });

  it('applies the log written before it started, then serves clients only new events', async () => {
    const log = new MemoryEventLog();
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
    // Before the gateway: user 2 follows user 1, and a broadcast nobody may get again.
    await log.append(
      { firstSequence: 1, lastSequence: 2, lines: ['1|F|2|1\n', '2|B\n'] },
      { position: 0 },
    );
    const { gateway } = await newGateway({ log });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    expect(gateway.stats()).toMatchObject({ caughtUp: true, logPosition: 1, catchUpPosition: 1 });

    const follower = await attachMemoryClient(gateway, '2\n');
    await log.append(
      { firstSequence: 3, lastSequence: 4, lines: ['3|S|1\r\n', '4|B\n'] },
      {
        position: 1,
      },
    );
    await follower.received.waitForLength('3|S|1\r\n4|B\n'.length);
    expect(follower.received.text).toBe('3|S|1\r\n4|B\n');
  });

  it('refuses clients until it has caught up with the tail found at start', async () => {
    const log = new MemoryEventLog();
    await appendRange(log, 1, 3);
    const reader = new GatedLog(log);
    const { gateway } = await newGateway({ log: reader });
    const applied: number[] = [];
    gateway.on('applied', (position) => applied.push(position));
    expect(() => gateway.attachClient(duplexPair()[0])).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidState }),
    );
    expect(gateway.stats().caughtUp).toBe(false);
    const sources = gatewayMonitorSources(gateway);
    expect(sources.health()).toEqual({
      ready: false,
      reason: 'catching up with the event log (position 0 of 3)',
    });
    reader.open();
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    expect(gateway.stats()).toMatchObject({ logPosition: 3, batchesApplied: 3 });
    expect(applied).toEqual([1, 2, 3]);
    expect(sources.health()).toEqual({ ready: true });
    expect(sources.stats()).toMatchObject({ logPosition: 3, caughtUp: true });
    await gateway.close();
    expect(sources.health()).toEqual({ ready: false, reason: 'the gateway is shutting down' });
  });
});

describe('Gateway: backpressure', () => {
  it('stops pulling the log while a client is over its limit, then delivers everything', async () => {
    const log = new MemoryEventLog();
    const { gateway } = await newGateway({ log, clientBufferLimit: 1024 });
    await gateway.ready;
    const slow = await attachMemoryClient(gateway, '1\n', { read: false });
    // 200 batches of four 1 KiB broadcasts: far over a 16 KiB stream buffer.
    const batches = await appendKibBroadcasts(log, 200, 4);
    await waitUntil(() => gateway.stats().logReadingPaused, 'the gateway to hold its input');
    const held = gateway.stats().logPosition;
    expect(held).toBeLessThan(batches.length / 2);
    await sleep(50);
    expect(gateway.stats().logPosition).toBe(held);

    slow.peer.resume();
    const expected = batches.flatMap((batch) => batch.lines).join('');
    await slow.received.waitForLength(expected.length);
    expect(slow.received.text).toBe(expected);
    expect(gateway.stats()).toMatchObject({
      logPosition: batches.length,
      logReadingPaused: false,
    });
  });
});

describe('Gateway: closing', () => {
  it('closes at once while flow control holds its reading, and applies no more', async () => {
    const log = new MemoryEventLog();
    const { gateway } = await newGateway({ log, clientBufferLimit: 1024, shutdownTimeout: 200 });
    await gateway.ready;
    await attachMemoryClient(gateway, '1\n', { read: false });
    await appendKibBroadcasts(log, 2, 32);
    await waitUntil(() => gateway.stats().logReadingPaused, 'the gateway to hold its input');
    expect(gateway.stats().logPosition).toBe(1);
    await withTimeout(gateway.close(), WAIT_MS, 'close');
    await sleep(20);
    expect(gateway.stats()).toMatchObject({ logPosition: 1, clientsConnected: 0 });
  });

  it('closes at once while it waits to read again, and reads no more', async () => {
    const inner = new MemoryEventLog();
    const log = new FailingReadsLog(inner, 0);
    const { gateway, problems } = await newGateway({ log });
    await gateway.ready;
    await appendRange(inner, 1, 1);
    await waitUntil(() => problems.length === 1, 'the read failure');
    expect(gatewayMonitorSources(gateway).health()).toEqual({
      ready: false,
      reason: 'reading the event log failed; retrying',
    });
    const started = Date.now();
    await withTimeout(gateway.close(), WAIT_MS, 'close');
    expect(Date.now() - started).toBeLessThan(200);
    await sleep(300);
    expect(log.readers).toBe(1);
    expect(gateway.stats().logPosition).toBe(0);
  });
});

describe('Gateway: one configuration and one epoch per log', () => {
  const BOTH_BOUNDS =
    'maxFollowEdges 8388608 (recorded by its writer), this gateway has 10: give every process of the cluster the same maxFollowEdges';

  it('refuses another maxFollowEdges than the writer recorded, naming both values, without a snapshot', async () => {
    const log = new MemoryEventLog();
    await newIngest(log);
    await appendRange(log, 1, 3);
    await expect(createGateway({ log, maxFollowEdges: 10 })).rejects.toThrow(
      new MazeError(
        ErrorCode.LogConfig,
        `the event log was made with other settings: ${BOTH_BOUNDS}`,
      ),
    );
    // The writer's bound is accepted.
    const { gateway } = await newGateway({ log, maxFollowEdges: 2 ** 23 });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
  });

  it('refuses another maxFollowEdges than the writer recorded, naming both values, with a snapshot', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    await newIngest(log);
    const writer = track(await createSnapshotWriter({ log, store, snapshotEvents: 1 }));
    await appendRange(log, 1, 3);
    await waitUntil(() => store.saves > 0, 'a snapshot');
    await writer.close();
    await expect(createGateway({ log, snapshots: store, maxFollowEdges: 10 })).rejects.toThrow(
      BOTH_BOUNDS,
    );
  });

  it('stops when the writer records another maxFollowEdges after it started on an empty log', async () => {
    const log = new MemoryEventLog();
    const { gateway } = await newGateway({ log, maxFollowEdges: 10 });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    // The writer records its settings once its first batch is in.
    attachMemorySource(await newIngest(log)).peer.write('1|B\n');
    const problem = await withTimeout(stopped, WAIT_MS, 'stopped');
    expect(problem.code).toBe(ErrorCode.LogConfig);
    expect(problem.message).toContain(BOTH_BOUNDS);
    expect(gateway.stats()).toMatchObject({ batchesApplied: 0 });
  });

  it('stops, closes its clients and applies nothing of the log created again under it', async () => {
    const log = new MemoryEventLog();
    await newIngest(log);
    const { epoch } = await log.identity();
    const { gateway, problems } = await newGateway({ log, resumeBytes: 1 << 20 });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    const client = await attachMemoryClient(gateway, '1\n');
    const closed = waitForClientEvent(gateway, 'clientClosed', client.connection);
    await appendRange(log, 1, 3);
    await waitUntil(() => gateway.stats().logPosition === 3, 'three batches applied');
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));

    log.replace();
    const newEpoch = (await log.identity()).epoch;
    expect(newEpoch).not.toBe(epoch);
    await newIngest(log);
    // The new log passes the old position: a gateway reading on would skip its first three.
    await appendRange(log, 1, 5);

    const problem = await withTimeout(stopped, WAIT_MS, 'stopped');
    expect(problem.code).toBe(ErrorCode.LogReplaced);
    expect(problem.message).toContain(
      `the event log was deleted and created again: it is epoch ${newEpoch}, not ${epoch} as when the process started`,
    );
    await withTimeout(closed, WAIT_MS, 'the client closed');
    expect(client.received.text).toBe('1|B\n11|B\n21|B\n');
    expect(gateway.stats()).toMatchObject({ logPosition: 3, batchesApplied: 3 });
    expect(gateway.stopped).toBe(true);
    expect(codes(problems)).toEqual([ErrorCode.LogReplaced]);
  });
});

describe('Gateway: the record of the writer’s settings', () => {
  const SETTINGS = { maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' };

  it('stops when another record replaces the one it read: two writers recorded, one after the other', async () => {
    const log = new MemoryEventLog();
    await appendRange(log, 1, 2);
    const { gateway, problems } = await newGateway({ log });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    // A second writer's update lands last: readers started before it judge by position 1.
    log.rewriteRecord({ settings: SETTINGS, firstPosition: 2 });
    const problem = await withTimeout(stopped, WAIT_MS, 'stopped');
    expect(problem.code).toBe(ErrorCode.LogConfig);
    expect(problem.message).toContain(
      'the event log\'s record of its writer\'s settings changed after this gateway read it: it was {"maxFollowEdges":8388608,"startSequence":1,"delimiter":"|","firstPosition":1}, it is {"maxFollowEdges":8388608,"startSequence":1,"delimiter":"|","firstPosition":2}',
    );
    expect(problem.message).toContain('restart this gateway');
    expect(codes(problems)).toEqual([ErrorCode.LogConfig]);
  });

  it('stops when the record disappears (the stream’s description edited), as does the snapshot writer', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    await appendRange(log, 1, 2);
    const { gateway } = await newGateway({ log });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    const writer = track(await createSnapshotWriter({ log, store }));
    const writerProblems = collectProblems(writer);
    await waitUntil(() => writer.stats().snapshotLogPosition === 2, 'the snapshot writer at 2');
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    log.rewriteRecord(undefined);
    const problem = await withTimeout(stopped, WAIT_MS, 'stopped');
    expect(problem.code).toBe(ErrorCode.LogConfig);
    expect(problem.message).toContain('it is none');
    expect(problem.message).toContain('put the record back as it was, or delete the stream');
    await waitUntil(() => writer.stopped, 'the snapshot writer stopped');
    expect(writerProblems[0]?.message).toContain(
      "the event log's record of its writer's settings changed after this snapshot writer read it",
    );
  });

  it('refuses to start from a snapshot of a log whose record was removed, as does the snapshot writer', async () => {
    const log = new MemoryEventLog();
    const store = new MemorySnapshotStore();
    const writer = track(await createSnapshotWriter({ log, store, snapshotEvents: 1 }));
    await appendRange(log, 1, 3);
    await waitUntil(() => store.saves > 0, 'a snapshot');
    await writer.close();
    log.rewriteRecord(undefined);
    const removed =
      /^the event log records no writer's settings, yet a snapshot of it was taken at position \d: its record was removed/;
    await expect(createGateway({ log, snapshots: store })).rejects.toMatchObject({
      code: ErrorCode.LogConfig,
      message: expect.stringMatching(removed),
    });
    await expect(createSnapshotWriter({ log, store })).rejects.toMatchObject({
      code: ErrorCode.LogConfig,
      message: expect.stringMatching(removed),
    });
  });

  it('waiting at a batch for the record, says so once, naming the position, then applies it', async () => {
    const log = new MemoryEventLog();
    // A batch in the log, no record yet: its writer's, or a stray one.
    await log.append({ firstSequence: 1, lastSequence: 1, lines: ['1|B\n'] }, { position: 0 });
    const { gateway, problems } = await newGateway({ log });
    await waitUntil(() => problems.length > 0, 'the wait reported');
    expect(problems).toEqual([
      {
        code: ErrorCode.LogUnrecorded,
        message: expect.stringMatching(
          /^waiting at position 1 for the event log's writer to record its settings/,
        ),
        context: {},
      },
    ]);
    expect(gatewayMonitorSources(gateway).health()).toEqual({
      ready: false,
      reason: "waiting at position 1 for the event log's writer to record its settings",
    });
    await log.recordSettings(SETTINGS, 1);
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    expect(gateway.stats()).toMatchObject({ batchesApplied: 1 });
    expect(gatewayMonitorSources(gateway).health()).toEqual({ ready: true });
    expect(codes(problems)).toEqual([ErrorCode.LogUnrecorded]);
  });
});

describe('Gateway: a log created again under a reader that does not check epochs', () => {
  it('stops at the identity check before reading again', async () => {
    const inner = new MemoryEventLog();
    const log = new EpochBlindLog(inner);
    const { gateway, problems } = await newGateway({ log });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    await appendRange(inner, 1, 2);
    await waitUntil(() => gateway.stats().logPosition === 2, 'two batches applied');
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    inner.replace();
    await appendRange(inner, 1, 4);
    expect((await withTimeout(stopped, WAIT_MS, 'stopped')).message).toContain(
      'as when this gateway started',
    );
    expect(codes(problems)).toEqual([ErrorCode.LogFailed, ErrorCode.LogReplaced]);
    expect(gateway.stats().logPosition).toBe(2);
  });
});

describe('Gateway: the epoch its clients resume against', () => {
  it('is the log’s, the same on every gateway of it', async () => {
    const log = new MemoryEventLog();
    const { epoch } = await log.identity();
    const first = (await newGateway({ log })).gateway;
    const second = (await newGateway({ log })).gateway;
    expect(first.epoch).toBe(streamEpochOf(epoch));
    expect(second.epoch).toBe(first.epoch);
    expect(first.epoch).toMatch(/^\d{1,20}$/);
  });

  it('on a log created again, answers a resume from the old one with !GAP|epoch, and resumes its own exactly', async () => {
    const log = new MemoryEventLog();
    await newIngest(log);
    const old = (await newGateway({ log, resumeBytes: 1 << 20 })).gateway;
    await withTimeout(old.ready, WAIT_MS, 'ready');
    // User 1 follows nobody: the broadcasts are its notifications.
    const client = await attachMemoryClient(old, '1|-\n');
    await appendRange(log, 1, 3);
    const before = `!EPOCH|${old.epoch}|0\n1|B\n11|B\n21|B\n`;
    await client.received.waitForLength(before.length);
    expect(client.received.text).toBe(before);
    const stopped = new Promise<Problem>((resolve) => old.once('stopped', resolve));

    log.replace();
    await newIngest(log);
    // The new log passes the client's number: read against it, 30 would look resumable.
    await appendRange(log, 1, 5);
    expect((await withTimeout(stopped, WAIT_MS, 'stopped')).code).toBe(ErrorCode.LogReplaced);
    const { gateway, problems } = await newGateway({ log, resumeBytes: 1 << 20 });
    await withTimeout(gateway.ready, WAIT_MS, 'ready');
    expect(gateway.epoch).not.toBe(old.epoch);
    expect(gateway.epoch).toBe(streamEpochOf((await log.identity()).epoch));

    const stale = await attachMemoryClient(gateway, `1|30|${old.epoch}\n`);
    const current = await attachMemoryClient(gateway, `1|40|${gateway.epoch}\n`);
    await appendRange(log, 6, 6);
    const staleExpected = `!EPOCH|${gateway.epoch}|50\n!GAP|epoch|51\n51|B\n`;
    const currentExpected = `!EPOCH|${gateway.epoch}|40\n41|B\n51|B\n`;
    await stale.received.waitForLength(staleExpected.length);
    await current.received.waitForLength(currentExpected.length);
    expect(stale.received.text).toBe(staleExpected);
    expect(current.received.text).toBe(currentExpected);
    expect(gateway.stats()).toMatchObject({ clientsResumed: 1, resumesRefused: 1 });
    expect(problems).toEqual([]);
  });
});

describe('Gateway: log failures', () => {
  it('reads again after a transient failure, from the next position, without loss or duplicate', async () => {
    const inner = new MemoryEventLog();
    const log = new FailingReadsLog(inner, 2);
    const { gateway, problems } = await newGateway({ log });
    await gateway.ready;
    const client = await attachMemoryClient(gateway, '1\n');
    await appendRange(inner, 1, 4);
    // User 1 follows nobody: the broadcasts are its notifications.
    const expected = '1|B\n11|B\n21|B\n31|B\n';
    await client.received.waitForLength(expected.length);
    expect(client.received.text).toBe(expected);
    expect(codes(problems)).toEqual([ErrorCode.LogFailed]);
    expect(gateway.stats()).toMatchObject({ readRetries: 1, logPosition: 4, following: true });
  });

  it('stops before it is ready when the log no longer holds its first position', async () => {
    const log = new MemoryEventLog({ retainBatches: 2 });
    await appendRange(log, 1, 5);
    const { gateway, problems } = await newGateway({ log });
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    await expect(withTimeout(gateway.ready, WAIT_MS, 'ready')).rejects.toMatchObject({
      code: ErrorCode.LogTruncated,
    });
    expect((await withTimeout(stopped, WAIT_MS, 'stopped')).code).toBe(ErrorCode.LogTruncated);
    expect(codes(problems)).toEqual([ErrorCode.LogTruncated]);
    expect(gateway.stats()).toMatchObject({ following: false, caughtUp: false });
    expect(gateway.stopped).toBe(true);
    expect(gateway.closed).toBe(true);
    expect(gatewayMonitorSources(gateway).health()).toEqual({
      ready: false,
      reason: 'the gateway cannot follow the log',
    });
  });

  it('skips a batch the log hands out again after a retry, delivering it once', async () => {
    const inner = new MemoryEventLog();
    const log = new FailingReadsLog(inner, 2, { rewind: 1 });
    const { gateway } = await newGateway({ log });
    await gateway.ready;
    const client = await attachMemoryClient(gateway, '1\n');
    await appendRange(inner, 1, 4);
    const expected = '1|B\n11|B\n21|B\n31|B\n';
    await client.received.waitForLength(expected.length);
    await sleep(20);
    expect(client.received.text).toBe(expected);
    expect(gateway.stats()).toMatchObject({ batchesApplied: 4, logPosition: 4 });
  });

  it('stops and closes its clients when retention drops what it has not read yet', async () => {
    const log = new MemoryEventLog({ retainBatches: 4 });
    const { gateway, problems } = await newGateway({ log, clientBufferLimit: 1024 });
    await gateway.ready;
    const slow = await attachMemoryClient(gateway, '1\n', { read: false });
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    await appendKibBroadcasts(log, 40, 4);
    slow.peer.resume();
    expect((await withTimeout(stopped, WAIT_MS, 'stopped')).code).toBe(ErrorCode.LogTruncated);
    await slow.received.waitForEnd();
    expect(codes(problems)).toEqual([ErrorCode.LogTruncated]);
    expect(gateway.stats()).toMatchObject({ clientsConnected: 0, following: false });
  });

  it('stops when its reader ends without close() (the log closed under it)', async () => {
    const log = new MemoryEventLog();
    const { gateway } = await newGateway({ log });
    await gateway.ready;
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    await log.close();
    expect((await withTimeout(stopped, WAIT_MS, 'stopped')).code).toBe(ErrorCode.LogFailed);
    expect(gateway.stopped).toBe(true);
  });

  it('reports a stale line in the log and delivers nothing twice', async () => {
    const log = new MemoryEventLog();
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 5, delimiter: '|' }, 1);
    const { gateway, problems } = await newGateway({ log });
    await gateway.ready;
    const client = await attachMemoryClient(gateway, '1\n');
    await log.append({ firstSequence: 5, lastSequence: 5, lines: ['5|B\n'] }, { position: 0 });
    await log.append(
      { firstSequence: 6, lastSequence: 7, lines: ['6|B\n', '5|B\n'] },
      { position: 1 },
    );
    await log.append({ firstSequence: 8, lastSequence: 8, lines: ['8|B\n'] }, { position: 2 });
    await client.received.waitForLength('5|B\n6|B\n8|B\n'.length);
    expect(client.received.text).toBe('5|B\n6|B\n8|B\n');
    expect(codes(problems)).toEqual([ErrorCode.EventStale]);
    expect(problems[0]?.context.connection).toBe('log position 2');
  });
});

/** A log whose readers wait, without reading, until `open()`. */
class GatedLog implements EventLog {
  #open: () => void = () => {};
  readonly #opened = new Promise<void>((resolve) => {
    this.#open = resolve;
  });

  constructor(readonly inner: EventLog) {}

  open(): void {
    this.#open();
  }

  append: EventLog['append'] = (batch, fence) => this.inner.append(batch, fence);
  tail: EventLog['tail'] = () => this.inner.tail();
  identity: EventLog['identity'] = () => this.inner.identity();
  recordSettings: EventLog['recordSettings'] = (settings, firstPosition) =>
    this.inner.recordSettings(settings, firstPosition);
  close: EventLog['close'] = () => this.inner.close();

  read(fromPosition: number, options?: ReadOptions): LogReader {
    const reader = this.inner.read(fromPosition, options);
    const opened = this.#opened;
    const gated: LogReader = {
      next: async () => {
        await opened;
        return reader.next();
      },
      close: () => reader.close(),
      [Symbol.asyncIterator]: () => iterateReader(gated),
    };
    return gated;
  }
}

/** A log whose readers ignore the epoch they are given, as a log of another program may. */
class EpochBlindLog implements EventLog {
  constructor(readonly inner: EventLog) {}

  append: EventLog['append'] = (batch, fence) => this.inner.append(batch, fence);
  tail: EventLog['tail'] = () => this.inner.tail();
  identity: EventLog['identity'] = () => this.inner.identity();
  recordSettings: EventLog['recordSettings'] = (settings, firstPosition) =>
    this.inner.recordSettings(settings, firstPosition);
  close: EventLog['close'] = () => this.inner.close();
  read: EventLog['read'] = (fromPosition, options) =>
    this.inner.read(fromPosition, { ...options, epoch: undefined });
}

/**
 * A log whose first reader hands out `batches` batches, then fails with `ERR_LOG_FAILED`;
 * later readers start `rewind` positions before the one asked for (a log that hands out a
 * batch again).
 */
class FailingReadsLog implements EventLog {
  readers = 0;

  constructor(
    readonly inner: EventLog,
    readonly batches: number,
    readonly options: { readonly rewind?: number } = {},
  ) {}

  append: EventLog['append'] = (batch, fence) => this.inner.append(batch, fence);
  tail: EventLog['tail'] = () => this.inner.tail();
  identity: EventLog['identity'] = () => this.inner.identity();
  recordSettings: EventLog['recordSettings'] = (settings, firstPosition) =>
    this.inner.recordSettings(settings, firstPosition);
  close: EventLog['close'] = () => this.inner.close();

  read(fromPosition: number, options?: ReadOptions): LogReader {
    const failing = this.readers++ === 0;
    const from = failing ? fromPosition : Math.max(1, fromPosition - (this.options.rewind ?? 0));
    const reader = this.inner.read(from, options);
    let left = this.batches;
    const failingReader: LogReader = {
      next: async () => {
        if (failing && left-- === 0) {
          await reader.close();
          throw new MazeError(ErrorCode.LogFailed, 'the connection to NATS was closed');
        }
        return reader.next();
      },
      close: () => reader.close(),
      [Symbol.asyncIterator]: () => iterateReader(failingReader),
    };
    return failingReader;
  }
}

describe('Gateway: the delimiter recorded in the log', () => {
  it('delivers what an ingest with the same delimiter appended, byte for byte', async () => {
    const log = new MemoryEventLog();
    const ingest = await withTimeout(
      createIngest({ log, delimiter: ';' }),
      WAIT_MS,
      'createIngest',
    ).then(track);
    const { gateway } = await newGateway({ log, delimiter: ';' });
    await gateway.ready;
    const follower = await attachMemoryClient(gateway, '1\n');
    const followee = await attachMemoryClient(gateway, '3\n');
    const source = attachMemorySource(ingest);
    source.peer.write('2;S;3\r\n1;F;1;3\n');
    await followee.received.waitForLength('1;F;1;3\n'.length);
    await follower.received.waitForLength('2;S;3\r\n'.length);
    expect(followee.received.text).toBe('1;F;1;3\n');
    expect(follower.received.text).toBe('2;S;3\r\n');
    expect(await log.tail()).toMatchObject({ delimiter: ';' });
  });

  it('refuses to start on a log written with another delimiter: ERR_LOG_CONFIG', async () => {
    // Its batches say the delimiter, whatever its record says.
    const log = new MemoryEventLog();
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
    await log.append(
      { firstSequence: 1, lastSequence: 1, lines: ['1;B\n'], delimiter: ';' },
      {
        position: 0,
      },
    );
    await expect(createGateway({ log })).rejects.toMatchObject({
      code: ErrorCode.LogConfig,
      message: expect.stringMatching(
        /^the event log holds lines delimited by ";" \(position 1\), this gateway splits on "\|": give every process of the cluster the same delimiter$/,
      ),
    });
    await expect(createGateway({ log, delimiter: ';' })).rejects.toThrow(
      'delimiter "|" (recorded by its writer), this gateway has ";"',
    );
  });

  it('stops, never misparses, at a batch with another delimiter appended after it started', async () => {
    const log = new MemoryEventLog();
    const { gateway, problems } = await newGateway({ log });
    await gateway.ready;
    const client = await attachMemoryClient(gateway, '1\n');
    const stopped = new Promise<Problem>((resolve) => gateway.once('stopped', resolve));
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
    await log.append({ firstSequence: 1, lastSequence: 1, lines: ['1|B\n'] }, { position: 0 });
    await log.append(
      { firstSequence: 2, lastSequence: 2, lines: ['2;B\n'], delimiter: ';' },
      {
        position: 1,
      },
    );
    expect((await withTimeout(stopped, WAIT_MS, 'stopped')).code).toBe(ErrorCode.LogConfig);
    await client.received.waitForEnd();
    expect(client.received.text).toBe('1|B\n');
    expect(codes(problems)).toEqual([ErrorCode.LogConfig]);
    expect(gateway.stats()).toMatchObject({ eventsApplied: 1, eventsDiscarded: 0 });
  });

  it('refuses an ingest with another delimiter than the log’s: ERR_LOG_CONFIG', async () => {
    const log = new MemoryEventLog();
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
    await log.append(
      { firstSequence: 1, lastSequence: 1, lines: ['1;B\n'], delimiter: ';' },
      {
        position: 0,
      },
    );
    await expect(createIngest({ log, delimiter: ',' })).rejects.toMatchObject({
      code: ErrorCode.LogConfig,
      message: expect.stringContaining('this ingest splits on ","'),
    });
  });
});

describe('Gateway: authenticated clients', () => {
  it('identifies clients by its authenticate hook and refuses the others', async () => {
    const log = new MemoryEventLog();
    const ingest = await newIngest(log);
    const { gateway, problems } = await newGateway({
      log,
      authenticate: async (credential) =>
        credential === 'tok-5' ? { userId: 5 } : { refused: 'signature' },
    });
    await gateway.ready;
    const five = await attachMemoryClient(gateway, 'tok-5\n');
    const forger = await attachMemoryClient(gateway, undefined);
    const closed = waitForClientEvent(gateway, 'clientClosed', forger.connection);
    forger.peer.write('5\n');
    await closed;
    const source = attachMemorySource(ingest);
    source.peer.write('1|P|1|5\n');
    await source.end();
    await five.received.waitForLength('1|P|1|5\n'.length);
    expect(five.received.text).toBe('1|P|1|5\n');
    expect(forger.received.text).toBe('');
    expect(codes(problems)).toEqual([ErrorCode.ClientAuth]);
    expect(gateway.stats()).toMatchObject({ authAccepted: 1, authSignature: 1 });
  });
});

/**
 * `JetStreamEventLog` and `connectEventLog()` against a real `nats-server`, beyond the shared
 * contract: the stream it creates or refuses, the tail and the reads across a NATS restart
 * (file storage), a foreign payload in the stream, and the one clear error when NATS is
 * unreachable or runs without JetStream. Skipped without `nats-server` unless
 * `FOLLOWER_MAZE_REQUIRE_NATS=1`. Every wait is bounded; every connection is closed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeBatch } from '../../lib/cluster/batch-codec.js';
import { connectEventLog } from '../../lib/cluster/connect.js';
import type { EventLog } from '../../lib/cluster/event-log.js';
import { createGateway } from '../../lib/cluster/gateway.js';
import { createIngest } from '../../lib/cluster/ingest.js';
import type { JetStreamEventLog } from '../../lib/cluster/jetstream-event-log.js';
import { EVENT_LOG_PULL_EXPIRES_MS } from '../../lib/cluster/jetstream-reader.js';
import { findResumeTail } from '../../lib/cluster/log-continuity.js';
import { SNAPSHOTS_KEPT } from '../../lib/cluster/snapshot-store.js';
import { ErrorCode } from '../../lib/errors.js';
import { appendRange, batchOf, take } from '../helpers/event-log-contract.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { attachMemorySource, unusedPort, waitUntil, withTimeout } from '../helpers/sockets.js';

/** Bound on anything that waits for a NATS restart: reconnecting takes ~2 s. */
const RESTART_WAIT_MS = 20_000;

/** `attempt()`'s first result, asking again after each failure until `RESTART_WAIT_MS`. */
async function eventually<T>(attempt: () => Promise<T>, what: string): Promise<T> {
  const deadline = Date.now() + RESTART_WAIT_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing (${error})`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** `inner` with some of its methods replaced. */
function delegating(inner: EventLog, replaced: Partial<EventLog>): EventLog {
  return {
    append: (batch, fence) => inner.append(batch, fence),
    tail: () => inner.tail(),
    identity: () => inner.identity(),
    recordSettings: (settings, firstPosition) => inner.recordSettings(settings, firstPosition),
    read: (fromPosition, options) => inner.read(fromPosition, options),
    close: () => inner.close(),
    ...replaced,
  };
}

describeWithNats('JetStreamEventLog on nats-server', () => {
  describe('with JetStream', withJetStream);
  describe('connectEventLog without a usable NATS', withoutJetStream);
});

function withJetStream(): void {
  let server: NatsServer;
  let admin: NatsConnection;
  const opened: JetStreamEventLog[] = [];
  let streams = 0;

  /** The log on a stream of its own, through `connectEventLog()` as the CLI does it. */
  async function open(
    stream = `JS_${++streams}`,
    retention: { natsMaxAge?: number; natsMaxBytes?: number } = {},
  ): Promise<JetStreamEventLog> {
    const log = await connectEventLog({
      natsUrl: server.url,
      natsStream: stream,
      natsSubject: `js.${stream}`,
      ...retention,
    });
    opened.push(log);
    return log;
  }

  beforeAll(async () => {
    server = await startNatsServer();
    admin = await connect({ servers: server.url, maxReconnectAttempts: -1 });
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
  });
  afterAll(async () => {
    await admin?.close();
    await server?.stop();
  });

  it('creates the stream: the one subject, file storage, one replica', async () => {
    await open('CREATED');
    const info = await (await jetstreamManager(admin)).streams.info('CREATED');
    expect(info.config).toMatchObject({
      subjects: ['js.CREATED'],
      storage: 'file',
      num_replicas: 1,
    });
  });

  it('sets the retention a writer asks for, again when it changes, and no other', async () => {
    const manager = await jetstreamManager(admin);
    await open('KEPT', { natsMaxAge: 3_600, natsMaxBytes: 10_000_000 });
    expect((await manager.streams.info('KEPT')).config).toMatchObject({
      max_age: 3_600 * 1e9,
      max_bytes: 10_000_000,
      duplicate_window: 120 * 1e9,
    });
    await open('KEPT', { natsMaxAge: 60 });
    expect((await manager.streams.info('KEPT')).config).toMatchObject({
      max_age: 60 * 1e9,
      max_bytes: -1,
      duplicate_window: 60 * 1e9,
    });
    // A reader's open (a gateway gives no retention) leaves the stream's alone.
    await open('KEPT');
    expect((await manager.streams.info('KEPT')).config).toMatchObject({ max_age: 60 * 1e9 });
    await open('KEPT', { natsMaxAge: 0, natsMaxBytes: 0 });
    expect((await manager.streams.info('KEPT')).config).toMatchObject({
      max_age: 0,
      max_bytes: -1,
    });
  });

  it('keeps the newest snapshots in the Object Store beside the stream, whole', async () => {
    const log = await open('SNAPPED');
    const store = await log.openSnapshots();
    expect(await store.list()).toEqual([]);
    // An object not named after a position is not a snapshot.
    await (await new Objm(admin).open('SNAPPED_SNAPSHOTS')).putBlob(
      { name: 'graph' },
      new Uint8Array(5),
    );
    expect(await store.list()).toEqual([]);
    // Several chunks' worth (Object Store cuts objects into 128 KiB chunks).
    const big = new Uint8Array(3_000_000).map((_, index) => index % 251);
    await store.save(big, 9);
    expect((await store.list()).map((stored) => stored.name)).toEqual(['graph-0000000000000009']);
    for (const position of [10, 11, 12]) await store.save(big.subarray(0, position), position);
    await store.save(big.subarray(0, 1_000_001), 100);
    const other = await (await open('SNAPPED')).openSnapshots();
    // The newest SNAPSHOTS_KEPT, newest first.
    const kept = await other.list();
    expect(kept).toEqual([
      { name: 'graph-0000000000000100', bytes: 1_000_001 },
      { name: 'graph-0000000000000012', bytes: 12 },
      { name: 'graph-0000000000000011', bytes: 11 },
    ]);
    expect(await other.read(kept[0]?.name ?? '')).toEqual(big.subarray(0, 1_000_001));
    expect(await other.read('graph-0000000000000009')).toBeUndefined();
    const buckets = await (await jetstreamManager(admin)).streams.names().next();
    expect(buckets).toContain('OBJ_SNAPPED_SNAPSHOTS');
  });

  it('keeps the snapshot bucket bounded: no delete marker outlives its save', async () => {
    const store = await (await open('BOUNDED')).openSnapshots();
    const bucket = await new Objm(admin).open('BOUNDED_SNAPSHOTS');
    // A marker a save cut short left behind.
    await bucket.putBlob({ name: 'graph-0000000000000001' }, new Uint8Array(3));
    await bucket.delete('graph-0000000000000001');
    const manager = await jetstreamManager(admin);
    expect((await manager.streams.info('OBJ_BOUNDED_SNAPSHOTS')).state.messages).toBe(1);
    for (let position = 2; position <= 12; position++) {
      await store.save(new Uint8Array(position), position);
    }
    expect((await store.list()).map((stored) => stored.name)).toEqual([
      'graph-0000000000000012',
      'graph-0000000000000011',
      'graph-0000000000000010',
    ]);
    // One meta and one chunk message per kept snapshot, nothing else.
    expect((await manager.streams.info('OBJ_BOUNDED_SNAPSHOTS')).state.messages).toBe(
      2 * SNAPSHOTS_KEPT,
    );
    expect(await store.read('graph-0000000000000010')).toEqual(new Uint8Array(10));
  });

  it('refuses a stream that has other subjects (ERR_LOG_CONFIG)', async () => {
    const manager = await jetstreamManager(admin);
    await manager.streams.add({ name: 'OTHER', subjects: ['other.>'] });
    await expect(open('OTHER')).rejects.toMatchObject({
      code: ErrorCode.LogConfig,
      message: expect.stringContaining('stream OTHER exists with subjects ["other.>"]'),
    });
  });

  it('refuses a batch over the server max_payload (ERR_LOG_BAD_BATCH)', async () => {
    const log = await open();
    const line = `1|S|${'x'.repeat(1024 * 1024)}\n`;
    await expect(
      log.append({ firstSequence: 1, lastSequence: 1, lines: [line] }, { position: 0 }),
    ).rejects.toMatchObject({
      code: ErrorCode.LogBadBatch,
      message: expect.stringContaining('max_payload'),
    });
  });

  it('hands a foreign message in the stream out as a LogForeign entry, in tail() and read()', async () => {
    const log = await open('FOREIGN');
    await appendRange(log, 1, 1);
    await jetstream(admin).publish('js.FOREIGN', 'not a batch');
    const foreign = {
      position: 2,
      foreign: expect.stringContaining('not a follower-maze batch'),
    };
    expect(await log.tail()).toEqual(foreign);
    const reader = log.read(1);
    await take(reader, 1);
    expect(await withTimeout(reader.next(), 5_000, 'the foreign entry')).toEqual(foreign);
    await log.append(batchOf(2), { position: 2 });
    expect(await withTimeout(reader.next(), 5_000, 'the batch after it')).toMatchObject({
      position: 3,
      firstSequence: 11,
    });
    await reader.close();
  });

  it('marks the stream it creates; a batch read before the writer records its settings waits for them', async () => {
    // A gateway makes the stream, before any ingest ran on it.
    const log = await open('MARKED');
    expect(await log.identity()).toMatchObject({ settings: undefined, firstPosition: 1 });
    expect((await (await jetstreamManager(admin)).streams.info('MARKED')).config.description).toBe(
      'follower-maze log, settings not recorded yet',
    );
    const forged = { firstSequence: 1, lastSequence: 2, lines: ['1|F|3|4\n', '2|B\n'] };
    await jetstream(admin).publish('js.MARKED', encodeBatch(forged));
    let identities = 0;
    const counted = delegating(log, {
      identity: () => {
        identities++;
        return log.identity();
      },
    });
    const gateway = await createGateway({ log: counted });
    let ready = false;
    void gateway.ready.then(() => {
      ready = true;
    });
    try {
      // Its catch-up target is the forged batch: it asks for the record there, again and again.
      const asked = identities;
      await waitUntil(() => identities >= asked + 2, 'the gateway waiting for the record', 5_000);
      expect(ready).toBe(false);
      expect(gateway.stats()).toMatchObject({ logPosition: 0, batchesApplied: 0 });
      const settings = { maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' };
      const ours = { firstSequence: 1, lastSequence: 1, lines: ['1|B\n'] };
      await log.append(ours, { position: 1 });
      const identity = await log.recordSettings(settings, 2);
      expect(identity).toMatchObject({ settings, firstPosition: 2 });
      expect(await log.recordSettings({ ...settings, maxFollowEdges: 5 }, 3)).toEqual(identity);
      await withTimeout(gateway.ready, 5_000, 'the gateway ready');
      await waitUntil(() => gateway.stats().logPosition === 2, 'the gateway at 2', 5_000);
      expect(gateway.stats()).toMatchObject({ batchesApplied: 1, logForeign: 1 });
      expect(await findResumeTail(log, identity)).toEqual({
        position: 2,
        batch: { position: 2, firstSequence: 1, lastSequence: 1 },
        foreign: 0,
        complete: true,
      });
      expect(
        (await (await jetstreamManager(admin)).streams.info('MARKED')).config.description,
      ).toBe(`follower-maze log settings ${JSON.stringify({ ...settings, firstPosition: 2 })}`);
    } finally {
      await gateway.close();
    }
  });

  it('stops a running gateway when the stream’s description no longer holds the record it read', async () => {
    const log = await open('EDITED');
    await appendRange(log, 1, 2);
    const gateway = await createGateway({ log });
    try {
      await withTimeout(gateway.ready, 5_000, 'the gateway ready');
      const stopped = new Promise<{ code: string; message: string }>((resolve) =>
        gateway.once('stopped', resolve),
      );
      // Last writer wins: another ingest's record, or an operator's edit, lands over it.
      const record = {
        maxFollowEdges: 2 ** 23,
        startSequence: 1,
        delimiter: '|',
        firstPosition: 2,
      };
      await (await jetstreamManager(admin)).streams.update('EDITED', {
        description: `follower-maze log settings ${JSON.stringify(record)}`,
      });
      const problem = await withTimeout(stopped, 5_000, 'the gateway stopped');
      expect(problem.code).toBe(ErrorCode.LogConfig);
      expect(problem.message).toContain(`it is ${JSON.stringify(record)}`);
    } finally {
      await gateway.close();
    }
  });

  it('an ingest whose NATS user may not update the stream says so and appends nothing past its first batch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'follower-maze-update-'));
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'pwingest\n', { mode: 0o600 });
    const limited = await startNatsServer({
      config: [
        'authorization {',
        '  users = [{ user: ingest, password: pwingest, permissions: {',
        '    publish = { allow: [">"], deny: ["$JS.API.STREAM.UPDATE.>"] }, subscribe = ">"',
        '  } }]',
        '}',
      ].join('\n'),
    });
    const log = await connectEventLog({
      natsUrl: limited.url,
      natsUser: 'ingest',
      natsPasswordFile: passwordFile,
      natsStream: 'NO_UPDATE',
      natsSubject: 'js.NO_UPDATE',
    });
    const ingest = await createIngest({ log });
    const problems: { code: string; message: string }[] = [];
    ingest.on('problem', (problem) => problems.push(problem));
    try {
      const source = attachMemorySource(ingest);
      source.peer.write('1|B\n');
      await waitUntil(() => ingest.stats().eventsAppended === 1, 'the first batch', 10_000);
      source.peer.write('2|B\n3|B\n');
      await waitUntil(() => problems.length >= 2, 'the record refused twice', 20_000);
      expect(problems[0]?.message).toContain(
        "this process's NATS user must be allowed to publish on $JS.API.STREAM.UPDATE.NO_UPDATE",
      );
      expect(await log.tail()).toEqual({ position: 1, firstSequence: 1, lastSequence: 1 });
      expect(ingest.stats().eventsAppended).toBe(1);
    } finally {
      await ingest.close();
      await log.close();
      await limited.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('takes a stream made without the mark as one whose writer has recorded nothing; refuses a broken record', async () => {
    const manager = await jetstreamManager(admin);
    // An operator's stream: what it holds before the writer's first batch is not the log's.
    await manager.streams.add({ name: 'UNMARKED', subjects: ['js.UNMARKED'] });
    await jetstream(admin).publish('js.UNMARKED', encodeBatch(batchOf(1)));
    const log = await open('UNMARKED');
    expect(await log.identity()).toMatchObject({ settings: undefined, firstPosition: 1 });
    const ingest = await createIngest({ log });
    const source = attachMemorySource(ingest);
    try {
      source.peer.write('1|B\n');
      await waitUntil(() => ingest.stats().eventsAppended === 1, 'the batch appended', 5_000);
      expect(ingest.stats()).toMatchObject({ foreignSkipped: 1, nextSequence: 2 });
    } finally {
      await source.end();
      await ingest.close();
    }
    expect(await log.identity()).toMatchObject({
      settings: { startSequence: 1 },
      firstPosition: 2,
    });

    await manager.streams.update('UNMARKED', { description: 'follower-maze log settings {' });
    await expect(log.identity()).rejects.toMatchObject({
      code: ErrorCode.LogConfig,
      message: expect.stringContaining(
        'stream UNMARKED has the description "follower-maze log settings {", not a record of its writer\'s settings',
      ),
    });
    await expect(createIngest({ log })).rejects.toMatchObject({ code: ErrorCode.LogConfig });
  });

  it('never starts the log with a batch published between the ingest reading the tail and its first append', async () => {
    const inner = await open('WINDOW');
    await jetstream(admin).publish('js.WINDOW', 'hello');
    const forged = { firstSequence: 1, lastSequence: 9_000_000_000, lines: ['1|B\n'] };
    let published = false;
    // Publishes right after the ingest has read the tail, as a client racing it could.
    const log = delegating(inner, {
      tail: async () => {
        const tail = await inner.tail();
        if (!published) {
          published = true;
          await jetstream(admin).publish('js.WINDOW', encodeBatch(forged));
        }
        return tail;
      },
    });
    const ingest = await createIngest({ log });
    expect(published).toBe(true);
    const source = attachMemorySource(ingest);
    try {
      source.peer.write('1|B\n2|B\n');
      await waitUntil(() => ingest.stats().eventsAppended === 2, 'the batch appended', 5_000);
      expect(ingest.stats()).toMatchObject({ foreignSkipped: 2, stopped: false, nextSequence: 3 });
    } finally {
      await source.end();
      await ingest.close();
    }
    const identity = await inner.identity();
    expect(identity).toMatchObject({ firstPosition: 3 });
    expect(await findResumeTail(inner, identity)).toMatchObject({
      position: 3,
      batch: { position: 3, firstSequence: 1, lastSequence: 2 },
    });
    const restarted = await createIngest({ log: inner });
    expect(restarted.stats().nextSequence).toBe(3);
    await restarted.close();
    const gateway = await createGateway({ log: inner });
    try {
      await withTimeout(gateway.ready, 5_000, 'the gateway ready');
      expect(gateway.stats()).toMatchObject({ logPosition: 3, eventsApplied: 2, logForeign: 2 });
    } finally {
      await gateway.close();
    }
  });

  it('does not stall an ingest whose next message id someone published first', async () => {
    const log = await open('TAKEN_ID');
    const ingest = await createIngest({ log });
    const source = attachMemorySource(ingest);
    try {
      // The id a guessable scheme would give the ingest's first batch (events 1 to 3).
      await jetstream(admin).publish('js.TAKEN_ID', 'hello', { msgID: 'seq-1-3' });
      source.peer.write('1|B\n2|B\n3|B\n');
      await waitUntil(() => ingest.stats().eventsAppended === 3, 'the batch appended', 5_000);
      expect(ingest.stats()).toMatchObject({ batchesAppended: 1, foreignSkipped: 1 });
      expect(await log.tail()).toEqual({ position: 2, firstSequence: 1, lastSequence: 3 });
    } finally {
      await source.end();
      await ingest.close();
    }
  });

  it('says when its connection to NATS goes down and when it is back', async () => {
    const log = await open('WATCHED');
    const changes: boolean[] = [];
    log.watchConnection(({ connected }) => changes.push(connected));
    expect(log.connected).toBe(true);
    await server.restart();
    await eventually(async () => {
      if (changes.join() !== 'false,true') throw new Error(`changes so far: ${changes.join()}`);
    }, 'a disconnect and a reconnect');
    expect(log.connected).toBe(true);
  });

  it('has a waiting reader read again as soon as NATS is back, not when its pull expires', async () => {
    const writer = await open('AFRESH');
    const readerLog = await open('AFRESH');
    await appendRange(writer, 1, 1);
    const reader = readerLog.read(1);
    await take(reader, 1);
    const waiting = reader.next();
    // Down long enough for the reader to ask again (every 250 ms) of no server at all.
    await server.restart(1_000);
    const appended = await eventually(
      () => appendRange(writer, 2, 2),
      'an append after the restart',
    );
    expect(appended).toEqual([2]);
    // The pull in flight died with the old server; without reading afresh on reconnect it
    // answers only when it expires (EVENT_LOG_PULL_EXPIRES_MS, 5 s).
    const batch = await withTimeout(
      waiting,
      EVENT_LOG_PULL_EXPIRES_MS / 2,
      'the batch after the restart',
    );
    expect(batch?.position).toBe(2);
    await reader.close();
  });

  it('keeps the log across a NATS restart: the tail, new appends and a live reader', async () => {
    const log = await open('RESTART');
    await appendRange(log, 1, 3);
    const reader = log.read(1);
    expect((await take(reader, 3)).map((batch) => batch.position)).toEqual([1, 2, 3]);

    await server.restart();

    // A restarted ingest connects afresh and resumes from the tail.
    const resumed = await withTimeout(open('RESTART'), RESTART_WAIT_MS, 'a new connection');
    const tail = await resumed.tail();
    expect(tail).toEqual({ position: 3, firstSequence: 21, lastSequence: 30 });
    expect(await resumed.append(batchOf(4), { position: 3 })).toEqual({
      position: 4,
      duplicate: false,
    });
    // The connection that lived through the restart reconnects (a request sent before it
    // has may time out: the caller asks again); so does its reader.
    expect(await eventually(() => log.tail(), 'the tail on the old connection')).toEqual({
      position: 4,
      firstSequence: 31,
      lastSequence: 40,
    });
    const next = await withTimeout(reader.next(), RESTART_WAIT_MS, 'batch 4 after the restart');
    expect(next).toEqual({ position: 4, ...batchOf(4) });
    await reader.close();
  });
}

function withoutJetStream(): void {
  let plain: NatsServer;

  beforeAll(async () => {
    plain = await startNatsServer({ jetstream: false });
  });
  afterAll(async () => {
    await plain?.stop();
  });

  it('says so at once when NATS is unreachable (ERR_LOG_UNAVAILABLE)', async () => {
    const url = `nats://127.0.0.1:${await unusedPort()}`;
    const started = Date.now();
    await expect(
      withTimeout(connectEventLog({ natsUrl: url }), 10_000, 'the refusal'),
    ).rejects.toMatchObject({
      code: ErrorCode.LogUnavailable,
      message: expect.stringMatching(/^cannot connect to NATS at .*: .*refused/),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('says so when JetStream is disabled (ERR_LOG_UNAVAILABLE)', async () => {
    const started = Date.now();
    await expect(
      withTimeout(connectEventLog({ natsUrl: plain.url }), 10_000, 'the refusal'),
    ).rejects.toMatchObject({
      code: ErrorCode.LogUnavailable,
      message: expect.stringContaining('start nats-server with -js'),
    });
    expect(Date.now() - started).toBeLessThan(5_000);
  });
}

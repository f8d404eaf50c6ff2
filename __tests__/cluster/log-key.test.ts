/**
 * Batches signed with the log key (lib/cluster/log-key.ts, the `hmac=` field of
 * lib/cluster/batch-codec.ts): the key and its file, signing and checking a batch (another
 * key, no tag, altered bytes: refused; the key: decoded), and an ingest and gateways on a
 * `MemoryEventLog` with a key that skip forged batches which would otherwise continue the log,
 * deliver what one maze delivers, and apply a batch that carries the key's tag. Every wait is
 * bounded; every gateway, ingest and maze is closed.
 */
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { decodeBatch, encodeBatch, encodedSize } from '../../lib/cluster/batch-codec.js';
import type { EventBatch } from '../../lib/cluster/event-log.js';
import { createGateway, type Gateway } from '../../lib/cluster/gateway.js';
import { createIngest, type Ingest } from '../../lib/cluster/ingest.js';
import { logKeyOf, MIN_LOG_KEY_BYTES, readLogKeyFile } from '../../lib/cluster/log-key.js';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import { MemorySnapshotStore } from '../../lib/cluster/snapshot-store.js';
import { createSnapshotWriter } from '../../lib/cluster/snapshot-writer.js';
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

const SECRET = randomBytes(32);
const KEY = logKeyOf(SECRET);
const OTHER_KEY = logKeyOf(randomBytes(32));
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

const dir = mkdtempSync(join(tmpdir(), 'follower-maze-log-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keyFile(name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  chmodSync(path, 0o600);
  return path;
}

function reasonOf(payload: Uint8Array): string {
  const result = decodeBatch(payload, KEY);
  if (result.ok) throw new Error(`decoded ${JSON.stringify(text(payload))}`);
  return result.reason;
}

describe('the log key', () => {
  it('needs at least MIN_LOG_KEY_BYTES bytes', () => {
    expect(() => logKeyOf(Buffer.alloc(MIN_LOG_KEY_BYTES - 1, 1))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidOption }),
    );
    expect(() => logKeyOf('x'.repeat(MIN_LOG_KEY_BYTES))).not.toThrow();
  });

  it('never shows its bytes when printed', () => {
    const hex = SECRET.toString('hex');
    expect(inspect(KEY)).not.toContain(hex);
    expect(JSON.stringify({ KEY })).not.toContain(hex);
  });

  it('is read from a file, less one trailing line break', () => {
    const hex = SECRET.toString('hex');
    const batch = { firstSequence: 1, lastSequence: 1, lines: ['1|B\n'] };
    const signed = encodeBatch(batch, logKeyOf(hex));
    for (const [name, content] of [
      ['plain', hex],
      ['lf', `${hex}\n`],
      ['crlf', `${hex}\r\n`],
    ] as const) {
      const key = readLogKeyFile(keyFile(name, content));
      expect(decodeBatch(signed, key)).toEqual({ ok: true, batch });
    }
    expect(decodeBatch(signed, readLogKeyFile(keyFile('two', `${hex}\n\n`))).ok).toBe(false);
  });

  it('refuses a missing, empty or short file (ERR_INVALID_OPTION), naming it', () => {
    for (const [path, why] of [
      [join(dir, 'missing'), /cannot read the logKeyFile .*missing/],
      [keyFile('empty', ''), /the logKeyFile .*empty is empty/],
      [keyFile('newline', '\n'), /the logKeyFile .*newline is empty/],
      [
        keyFile('short', 'short\n'),
        /the logKeyFile .*short: a log key needs at least 32 bytes, got 5/,
      ],
    ] as const) {
      expect(() => readLogKeyFile(path)).toThrow(
        expect.objectContaining({
          code: ErrorCode.InvalidOption,
          message: expect.stringMatching(why),
        }),
      );
    }
  });
});

describe('signed batches', () => {
  const batch: EventBatch = { firstSequence: 7, lastSequence: 9, lines: ['7|B\n', '9|F|1|2\r\n'] };

  it('carry the HMAC-SHA-256 of the payload without the tag, in the header', () => {
    const payload = text(encodeBatch(batch, KEY));
    expect(payload).toMatch(/^FMB1 7 9 2 hmac=[0-9a-f]{64}\n7\|B\n9\|F\|1\|2\r\n$/);
    expect(encodedSize(batch, KEY)).toBe(payload.length);
    const semicolons = { ...batch, delimiter: ';', lines: ['7;B\n', '9;F;1;2\n'] };
    expect(text(encodeBatch(semicolons, KEY))).toMatch(/^FMB1 7 9 2 59 hmac=[0-9a-f]{64}\n/);
    expect(decodeBatch(encodeBatch(semicolons, KEY), KEY)).toEqual({
      ok: true,
      batch: semicolons,
    });
  });

  it('decode with the key, and without a key (the tag unchecked)', () => {
    expect(decodeBatch(encodeBatch(batch, KEY), KEY)).toEqual({ ok: true, batch });
    expect(decodeBatch(encodeBatch(batch, KEY))).toEqual({ ok: true, batch });
  });

  it('are refused when unsigned, signed with another key, or altered', () => {
    expect(reasonOf(encodeBatch(batch))).toBe(
      'the batch is not signed, and this log needs the log key',
    );
    const forged = 'the batch is not signed with the log key (another key, or its bytes altered)';
    expect(reasonOf(encodeBatch(batch, OTHER_KEY))).toBe(forged);
    const signed = text(encodeBatch(batch, KEY));
    for (const altered of [
      signed.replace('7|B', '7|S'),
      signed.replace('FMB1 7 9', 'FMB1 8 9'),
      signed.replace(/hmac=./, (field) => `hmac=${field.endsWith('0') ? '1' : '0'}`),
    ]) {
      expect(altered).not.toBe(signed);
      expect(reasonOf(Buffer.from(altered, 'latin1'))).toBe(forged);
    }
  });
});

describe('a log with a key', () => {
  const USERS = 10;
  const PART = 1_000;

  function eventsText(from: number, to: number): string {
    return generateEventLines({ count: to - from + 1, users: USERS, seed: from, start: from }).join(
      '',
    );
  }

  /** A broadcast batch of event `sequence`: the next one the log would take. */
  function next(sequence: number): EventBatch {
    return { firstSequence: sequence, lastSequence: sequence, lines: [`${sequence}|B\n`] };
  }

  async function newGateway(
    log: MemoryEventLog,
  ): Promise<{ gateway: Gateway; problems: Problem[] }> {
    const gateway = track(await withTimeout(createGateway({ log }), WAIT_MS, 'createGateway'));
    const problems = collectProblems(gateway);
    await withTimeout(gateway.ready, WAIT_MS, 'the gateway ready');
    return { gateway, problems };
  }

  async function newIngest(log: MemoryEventLog): Promise<Ingest> {
    return track(await withTimeout(createIngest({ log }), WAIT_MS, 'createIngest'));
  }

  async function send(ingest: Ingest, events: string, appended: number): Promise<void> {
    const source = attachMemorySource(ingest);
    source.peer.write(events);
    await source.end();
    await waitUntil(
      () => ingest.stats().eventsAppended === appended,
      `${appended} events appended`,
    );
  }

  it('skips forged batches that would continue it, and applies one signed with the key', async () => {
    const { maze } = newMaze();
    const direct = attachMemorySource(maze);
    const reference: MemoryClient[][] = [await attachUsers(maze, USERS)];
    const log = track(new MemoryEventLog({ logKey: SECRET }));
    const first = await newIngest(log);
    const running = await newGateway(log);
    const served: MemoryClient[][] = [await attachUsers(running.gateway, USERS)];

    direct.peer.write(eventsText(1, PART));
    await send(first, eventsText(1, PART), PART);
    const end = (await log.tail())?.position ?? 0;
    await waitUntil(() => running.gateway.stats().logPosition === end, 'the gateway at the end');
    const tampered = text(encodeBatch(next(PART + 1), KEY)).replace('|B', '|S');
    log.publish(encodeBatch(next(PART + 1), OTHER_KEY));
    log.publish(encodeBatch(next(PART + 1)));
    log.publish(tampered);
    await waitUntil(() => running.gateway.stats().logForeign === 3, 'three batches skipped');
    expect(running.problems.map(({ code, message }) => ({ code, message }))).toEqual([
      {
        code: ErrorCode.LogForeign,
        message: `skipped log position ${end + 1}: not a follower-maze batch: the batch is not signed with the log key (another key, or its bytes altered)`,
      },
      {
        code: ErrorCode.LogForeign,
        message: `skipped log position ${end + 2}: not a follower-maze batch: the batch is not signed, and this log needs the log key`,
      },
      {
        code: ErrorCode.LogForeign,
        message: `skipped log position ${end + 3}: not a follower-maze batch: the batch is not signed with the log key (another key, or its bytes altered)`,
      },
    ]);

    // The ingest's next append is fenced by them: it skips them and appends after.
    direct.peer.write(eventsText(PART + 1, 2 * PART));
    await send(first, eventsText(PART + 1, 2 * PART), 2 * PART);
    expect(first.stats()).toMatchObject({ foreignSkipped: 3, stopped: false });

    // A restarted ingest does not resume after a forged batch at the tail.
    await first.close();
    log.publish(encodeBatch(next(2 * PART + 1), OTHER_KEY));
    const second = await newIngest(log);
    expect(second.stats().nextSequence).toBe(2 * PART + 1);
    await second.close();

    await waitUntil(() => maze.stats().eventsApplied === 2 * PART, 'the reference');
    const late = await newGateway(log);
    expect(late.gateway.stats()).toMatchObject({ logForeign: 4, eventsApplied: 2 * PART });
    served.push(await attachUsers(late.gateway, USERS));
    reference.push(await attachUsers(maze, USERS));

    // The key's holder writes the log: its batch is applied.
    log.publish(encodeBatch(next(2 * PART + 1), KEY));
    direct.peer.write(`${2 * PART + 1}|B\n`);
    await direct.end();
    for (const { gateway } of [running, late]) {
      await waitUntil(() => gateway.stats().eventsApplied === 2 * PART + 1, 'every event applied');
      expect(gateway.stats().logForeign).toBe(4);
      expect(gateway.stopped).toBe(false);
    }
    const [runningClients, lateClients] = served as [MemoryClient[], MemoryClient[]];
    const [before, after] = reference as [MemoryClient[], MemoryClient[]];
    expect(await expectSameDeliveries(runningClients, before)).toBeGreaterThan(PART);
    // Connected after the forged batches: the broadcast, once per user.
    expect(await expectSameDeliveries(lateClients, after)).toBe(USERS);
  });

  it('is followed by the snapshot writer, which skips a forged batch and snapshots the next one', async () => {
    const log = track(new MemoryEventLog({ logKey: SECRET }));
    const writer = track(
      await createSnapshotWriter({ log, store: new MemorySnapshotStore(), snapshotEvents: 1 }),
    );
    const problems = collectProblems(writer);
    await log.recordSettings({ maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' }, 1);
    await log.append(
      { firstSequence: 1, lastSequence: 2, lines: ['1|F|1|2\n', '2|B\n'] },
      { position: 0 },
    );
    log.publish(
      encodeBatch({ firstSequence: 3, lastSequence: 3, lines: ['3|F|3|2\n'] }, OTHER_KEY),
    );
    await log.append({ firstSequence: 3, lastSequence: 3, lines: ['3|B\n'] }, { position: 2 });
    await waitUntil(() => writer.stats().snapshotPosition === 3, 'the snapshot after position 3');
    expect(writer.stats()).toMatchObject({ snapshotsSaved: 2, snapshotWriterStopped: false });
    // Had it applied the forged batch, the real one at position 3 would not continue the
    // log: no snapshot there. Skips are the ingest's to report.
    expect(problems).toEqual([]);
  });
});

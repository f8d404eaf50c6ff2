/**
 * Who may write the log, with the built binary on a real nats-server configured as
 * docs/cluster.md ("Who may write") shows: the ingest and the gateways run with their own
 * NATS users and a log key (`--log-key-file`). A batch that would continue the log but is
 * signed with another key, published with the ingest's own NATS credentials, is skipped by
 * the running gateway and one started afterwards (from a snapshot the ingest saved, keeping
 * only the newest in its bucket), and the ingest appends after it; a
 * gateway's user, or a client without credentials, cannot publish on the subject at all:
 * nats-server refuses it. Every client's notifications are compared byte for byte with a
 * maze in this process fed the same events. Every wait is bounded; every process, socket and
 * server is closed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeBatch } from '../../lib/cluster/batch-codec.js';
import { logKeyOf } from '../../lib/cluster/log-key.js';
import { SNAPSHOTS_KEPT } from '../../lib/cluster/snapshot-store.js';
import {
  clientsOn,
  gateway,
  ingest,
  lastStats,
  sendThrough,
  stop,
} from '../helpers/cluster-processes.js';
import { page, section } from '../helpers/markdown.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { eventsText, ReferenceMaze } from '../helpers/reference-maze.js';
import {
  expectSameDeliveries,
  useMemoryMazes,
  useTcpPeers,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';

const USERS = 25;
const PHASE = 1_000;
const WAIT_MS = 30_000;
const STATS = ['--stats-interval', '50'];
/** The stream of the documented configuration; the e2e helpers give it subject `e2e.<stream>`. */
const STREAM = 'FOLLOWER_MAZE';
const SUBJECT = `e2e.${STREAM}`;
// Starting with a letter: nats-server reads a variable's value that starts with a digit as a number.
const INGEST_PASSWORD = `pw${randomBytes(12).toString('hex')}`;
const GATEWAY_PASSWORD = `pw${randomBytes(12).toString('hex')}`;

/** The nats-server configuration docs/cluster.md shows, on this suite's subject. */
function documentedConfig(): string {
  const text = section(page('docs/cluster.md'), 'Who may write');
  const block = /^```text\n([\s\S]*?)^```/m.exec(text)?.[1];
  if (block === undefined) throw new Error('no configuration block under "Who may write"');
  expect(block).toContain('"follower-maze.events"');
  return block.replaceAll('"follower-maze.events"', `"${SUBJECT}"`);
}

const peers = useTcpPeers();
const newMaze = useMemoryMazes();

/** A connection as `user`, closed after `use`. */
async function as<T>(
  nats: NatsServer,
  user: string,
  pass: string,
  use: (connection: NatsConnection) => Promise<T>,
): Promise<T> {
  const connection = await connect({ servers: nats.url, user, pass });
  try {
    return await use(connection);
  } finally {
    await connection.close();
  }
}

/** What nats-server answers `connection`'s publish of `payload` on the subject with. */
async function refusal(connection: NatsConnection, payload: Uint8Array): Promise<string> {
  const refused = (async () => {
    for await (const status of connection.status()) {
      if (status.type === 'error') return String(status.error);
    }
    return 'the connection closed without an error';
  })();
  connection.publish(SUBJECT, payload);
  await connection.flush();
  return withTimeout(refused, WAIT_MS, 'the refusal');
}

describeWithNats('cluster mode with NATS users and a log key (built binaries)', () => {
  let nats: NatsServer;
  const dir = mkdtempSync(join(tmpdir(), 'follower-maze-auth-'));
  const keyFile = join(dir, 'log.key');
  const ingestPasswordFile = join(dir, 'ingest.password');
  const gatewayPasswordFile = join(dir, 'gateway.password');
  const asIngest = ['--nats-user', 'ingest', '--nats-password-file', ingestPasswordFile];
  const asGateway = ['--nats-user', 'gateway', '--nats-password-file', gatewayPasswordFile];
  const withKey = ['--log-key-file', keyFile];

  const key = randomBytes(32).toString('hex');

  beforeAll(async () => {
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    writeFileSync(ingestPasswordFile, `${INGEST_PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(gatewayPasswordFile, `${GATEWAY_PASSWORD}\n`, { mode: 0o600 });
    nats = await startNatsServer({
      config: documentedConfig(),
      env: { INGEST_NATS_PASSWORD: INGEST_PASSWORD, GATEWAY_NATS_PASSWORD: GATEWAY_PASSWORD },
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets only the ingest write: a forged batch is skipped, a foreign publish refused', async () => {
    const reference = new ReferenceMaze(newMaze().maze, USERS);
    // Snapshots every 50 events: many saved, the oldest deleted, as the ingest's user.
    const first = await ingest(nats, STREAM, [
      ...STATS,
      ...asIngest,
      ...withKey,
      '--snapshot-events',
      '50',
    ]);
    const running = await gateway(nats, STREAM, [...STATS, ...asGateway, ...withKey]);
    const servedRunning = await clientsOn(running, USERS, peers, WAIT_MS);
    const expectedRunning = await reference.clients();
    const source = await peers.connect(first.port);
    const phase1 = eventsText(1, PHASE, 1, USERS);
    reference.send(phase1);
    await sendThrough(first, source, phase1, PHASE, WAIT_MS);

    // The next batch, signed with another key, by a client with the ingest's NATS user.
    const forged = encodeBatch(
      { firstSequence: PHASE + 1, lastSequence: PHASE + 1, lines: [`${PHASE + 1}|B\n`] },
      logKeyOf(randomBytes(32)),
    );
    const lastPosition = await as(nats, 'ingest', INGEST_PASSWORD, async (connection) => {
      connection.publish(SUBJECT, forged);
      await connection.flush();
      return (await (await jetstreamManager(connection)).streams.info(STREAM)).state.last_seq;
    });
    await waitUntil(
      () => lastStats(running).logForeign === '1',
      'the forged batch skipped',
      WAIT_MS,
    );
    await running.waitForLine('stderr', /ERR_LOG_FOREIGN.*not signed with the log key/, WAIT_MS);

    // A gateway's user, and a client without one, cannot publish on the subject at all.
    expect(
      await as(nats, 'gateway', GATEWAY_PASSWORD, (connection) => refusal(connection, forged)),
    ).toMatch(`Permissions Violation for Publish to "${SUBJECT}"`);
    await expect(connect({ servers: nats.url })).rejects.toThrow(/Authorization Violation/i);
    expect(
      await as(nats, 'ingest', INGEST_PASSWORD, async (connection) => {
        return (await (await jetstreamManager(connection)).streams.info(STREAM)).state.last_seq;
      }),
    ).toBe(lastPosition);

    // A gateway started afterwards, as the gateway's user, starts from the snapshot of the
    // first phase, skips the forged batch after it too, and serves what the reference serves.
    await reference.applied(PHASE);
    await waitUntil(
      () => Number(lastStats(first).snapshotsSaved ?? 0) > 0,
      'the first snapshot',
      WAIT_MS,
    );
    const late = await gateway(nats, STREAM, [...STATS, ...asGateway, ...withKey]);
    const servedLate = await clientsOn(late, USERS, peers, WAIT_MS);
    await waitUntil(
      () => lastStats(late).startSnapshotPosition !== undefined,
      'a stats line of the late gateway',
      WAIT_MS,
    );
    expect(Number(lastStats(late).startSnapshotPosition)).toBeGreaterThan(0);
    const expectedLate = await reference.clients();

    // The ingest, fenced by the forged batch, skips it and appends after it, in slices of
    // 100 events each appended before the next: a batch, and mostly a snapshot, each.
    for (let from = PHASE + 1; from <= 2 * PHASE; from += 100) {
      const slice = eventsText(from, from + 99, from, USERS);
      reference.send(slice);
      await sendThrough(first, source, slice, from + 99, WAIT_MS);
    }
    await first.waitForLine('stderr', /ERR_LOG_FOREIGN.*1 message\(s\)/, WAIT_MS);
    await waitUntil(
      () => Number(lastStats(first).snapshotsSaved ?? 0) > SNAPSHOTS_KEPT,
      'more snapshots than the bucket keeps',
      WAIT_MS,
    );
    const phase3 = eventsText(2 * PHASE + 1, 3 * PHASE, 3, USERS);
    reference.send(phase3);
    await sendThrough(first, source, phase3, 3 * PHASE, WAIT_MS);
    source.socket.end();

    await reference.applied(3 * PHASE);
    expect(await expectSameDeliveries(servedRunning, expectedRunning, WAIT_MS)).toBeGreaterThan(
      PHASE,
    );
    expect(await expectSameDeliveries(servedLate, expectedLate, WAIT_MS)).toBeGreaterThan(
      PHASE / 10,
    );
    for (const process of [running, late]) {
      // The late gateway applied only what followed its snapshot.
      await waitUntil(
        () => lastStats(process).nextSequence === String(3 * PHASE + 1),
        'every event applied',
        WAIT_MS,
      );
      expect(lastStats(process).logForeign).toBe('1');
    }
    expect(lastStats(running).eventsApplied).toBe(String(3 * PHASE));
    expect(lastStats(first).snapshotFailures).toBe('0');
    for (const process of [first, running, late]) {
      expect(await stop(process)).toBe(0);
      // The banner, the stats lines and every report: never the key nor a password.
      const output = [...process.stdout, ...process.rawStderr].join('\n');
      for (const secret of [key, INGEST_PASSWORD, GATEWAY_PASSWORD]) {
        expect(output).not.toContain(secret);
      }
    }
    // The bucket holds the kept snapshots, one meta and one chunk each, no delete marker.
    expect(
      await as(nats, 'ingest', INGEST_PASSWORD, async (connection) => {
        const manager = await jetstreamManager(connection);
        return (await manager.streams.info(`OBJ_${STREAM}_SNAPSHOTS`)).state.messages;
      }),
    ).toBe(2 * SNAPSHOTS_KEPT);
  }, 120_000);
});

/**
 * Snapshots that fail their checks, with the built binaries on a real nats-server: the
 * newest snapshot in the Object Store bucket cut short by 8 bytes, replaced by garbage or by
 * a header claiming a huge graph (or every snapshot replaced by garbage). A gateway started
 * afterwards reports it (ERR_SNAPSHOT_BAD), starts from the older snapshot (or the log from
 * position 1) and its clients get exactly what a maze in this process fed the same events
 * sends; an ingest restarted beside it starts, reports it too, and appends what reaches
 * them. With every snapshot garbage and the log's first position dropped by retention, a
 * gateway exits 1 saying what to do, and an ingest reports it and appends without its
 * snapshot writer. Every wait is bounded; every process, socket and server
 * is closed.
 */
import { beforeAll, expect, it } from '@jest/globals';
import { Objm } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { run } from '../helpers/binary.js';
import {
  clientsOn,
  gateway,
  ingest,
  lastStats,
  logFlags,
  sendThrough,
  stop,
} from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer, streamInfo } from '../helpers/nats.js';
import { eventsText } from '../helpers/reference-maze.js';
import {
  attachMemorySource,
  attachUsers,
  expectSameDeliveries,
  useMemoryMazes,
  useTcpPeers,
  waitUntil,
} from '../helpers/sockets.js';
import { mulberry32 } from '../helpers/streams.js';

const USERS = 25;
const WAIT_MS = 30_000;
const STATS = ['--stats-interval', '50'];
/** Events per phase; a snapshot is due every `SNAPSHOT_EVENTS`, so each phase saves one. */
const PHASE = 2_500;
const PHASES = 4;
const SNAPSHOT_EVENTS = '1000';

let nats: NatsServer;
const peers = useTcpPeers();
const newMaze = useMemoryMazes();

/** Ways a stored snapshot goes bad. */
const DAMAGE = {
  'cut short by 8 bytes': (bytes: Uint8Array) => bytes.subarray(0, bytes.length - 8),
  garbage: (bytes: Uint8Array) => {
    const rng = mulberry32(bytes.length);
    return bytes.map(() => Math.floor(rng() * 256));
  },
  'a header claiming a huge graph': () =>
    new TextEncoder().encode('FMS1 5 9000 9007199254740991 9007199254740991 8388608\n'),
} as const;

/**
 * Replaces the newest snapshot (or every one) in the bucket of `stream` by `damage` of it;
 * the names of the snapshots there, newest first.
 */
async function damageSnapshots(
  nats: NatsServer,
  stream: string,
  damage: (bytes: Uint8Array) => Uint8Array,
  every: boolean,
): Promise<string[]> {
  const admin = await connect({ servers: nats.url });
  try {
    const bucket = await new Objm(admin).open(`${stream}_SNAPSHOTS`);
    const names = (await bucket.list())
      .filter((info) => !info.deleted)
      .map((info) => info.name)
      .sort()
      .reverse();
    for (const name of every ? names : names.slice(0, 1)) {
      const bytes = await bucket.getBlob(name);
      if (bytes === null) throw new Error(`snapshot ${name} vanished`);
      await bucket.putBlob({ name }, damage(bytes));
    }
    return names;
  } finally {
    await admin.close();
  }
}

/** The position in a snapshot's object name (`graph-<position>`). */
function positionOf(name: string | undefined): number {
  return Number(name?.slice('graph-'.length));
}

/**
 * Runs an ingest with `flags` on `stream` through `PHASES` phases of events (each also given
 * to `sent`), a snapshot saved after each, then stops it, so no save races what follows.
 */
async function snapshotPhases(
  stream: string,
  flags: readonly string[],
  seed: number,
  sent: (text: string) => void,
): Promise<void> {
  const first = await ingest(nats, stream, [...flags]);
  const source = await peers.connect(first.port);
  for (let phase = 0; phase < PHASES; phase++) {
    const text = eventsText(phase * PHASE + 1, (phase + 1) * PHASE, seed * 10 + phase, USERS);
    sent(text);
    await sendThrough(first, source, text, (phase + 1) * PHASE, WAIT_MS);
    await waitUntil(
      () => Number(lastStats(first).snapshotsSaved ?? 0) > phase,
      `snapshot ${phase + 1}`,
      WAIT_MS,
    );
  }
  source.socket.end();
  expect(await stop(first)).toBe(0);
}

describeWithNats('cluster mode with snapshots that fail their checks (built binaries)', () => {
  beforeAll(async () => {
    nats = await startNatsServer();
  });

  const cases = [
    ...Object.entries(DAMAGE).map(([what, damage]) => ({ what, damage, every: false })),
    { what: 'garbage, every one of them', damage: DAMAGE.garbage, every: true },
  ];
  for (const [index, { what, damage, every }] of cases.entries()) {
    it(`starts gateways and an ingest that deliver exactly, the newest snapshot ${what}`, async () => {
      const stream = `SNAP_BAD_${index}`;
      const flags = [...STATS, '--snapshot-events', SNAPSHOT_EVENTS];
      const reference = newMaze().maze;
      const referenceSource = attachMemorySource(reference);

      await snapshotPhases(stream, flags, index, (text) => referenceSource.peer.write(text));
      const names = await damageSnapshots(nats, stream, damage, every);
      expect(names).toHaveLength(3);

      const server = await gateway(nats, stream, STATS);
      await server.waitForLine('stderr', /ERR_SNAPSHOT_BAD/, WAIT_MS);
      const clients = await clientsOn(server, USERS, peers, WAIT_MS);
      const started = Number(lastStats(server).startSnapshotPosition);
      expect(started).toBe(every ? 0 : positionOf(names[1]));
      const refused = every ? 3 : 1;
      expect(server.stderr.filter((line) => line.includes('ERR_SNAPSHOT_BAD'))).toHaveLength(
        refused,
      );
      expect(Number(lastStats(server).startSnapshotsRefused)).toBe(refused);

      const second = await ingest(nats, stream, flags);
      await second.waitForLine('stderr', /ERR_SNAPSHOT_BAD/, WAIT_MS);
      await waitUntil(
        () => lastStats(second).snapshotsRefused !== undefined,
        'a stats line of the ingest',
        WAIT_MS,
      );
      // Restoring as the gateway did, it refuses the same snapshots.
      expect(Number(lastStats(second).snapshotsRefused)).toBe(refused);
      await waitUntil(
        () => reference.stats().nextSequence > PHASES * PHASE,
        'the reference to apply every phase',
        WAIT_MS,
      );
      const expected = await attachUsers(reference, USERS);
      const last = eventsText(PHASES * PHASE + 1, (PHASES + 1) * PHASE, index * 10 + 9, USERS);
      referenceSource.peer.write(last);
      const source = await peers.connect(second.port);
      await sendThrough(second, source, last, PHASE, WAIT_MS);
      await waitUntil(
        () => reference.stats().nextSequence > (PHASES + 1) * PHASE,
        'the reference to apply the last phase',
        WAIT_MS,
      );
      expect(await expectSameDeliveries(clients, expected, WAIT_MS)).toBeGreaterThan(100);
      source.socket.end();
      for (const process of [second, server]) expect(await stop(process)).toBe(0);
    }, 120_000);
  }

  it('stops a gateway, saying what to do, but not the ingest, when no snapshot is usable and retention dropped position 1', async () => {
    const stream = 'SNAP_BAD_LOST';
    const flags = [...STATS, '--snapshot-events', SNAPSHOT_EVENTS, '--nats-max-bytes', '60000'];
    await snapshotPhases(stream, flags, 9, () => {});
    expect((await streamInfo(nats, stream)).state.first_seq).toBeGreaterThan(1);
    await damageSnapshots(nats, stream, DAMAGE.garbage, true);
    const refused = run(['gateway', ...logFlags(nats, stream), '--client-port', '0']);
    const { code } = await refused.finished(WAIT_MS);
    expect(code).toBe(1);
    expect(refused.stderr.join('\n')).toMatch(
      /no snapshot in bucket SNAP_BAD_LOST_SNAPSHOTS is usable \(graph-\d{16}: .*\) and the event log no longer holds position 1: nothing can rebuild the follow graph\. Delete the stream and its snapshot bucket, then start the ingest again with the whole event source/,
    );

    // The ingest needs no graph to append: it says so and goes on without its writer.
    const restarted = await ingest(nats, stream, flags);
    await restarted.waitForLine('stderr', /the snapshot writer cannot start/, WAIT_MS);
    await waitUntil(
      () => lastStats(restarted).snapshotWriterStopped !== undefined,
      'a stats line of the ingest',
      WAIT_MS,
    );
    expect(lastStats(restarted).snapshotWriterStopped).toBe('true');
    const source = await peers.connect(restarted.port);
    const next = PHASES * PHASE + 1;
    await sendThrough(restarted, source, eventsText(next, next + 99, 99, USERS), 100, WAIT_MS);
    source.socket.end();
    expect(await stop(restarted)).toBe(0);
  }, 120_000);
});

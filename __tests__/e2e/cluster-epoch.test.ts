/**
 * One configuration and one epoch per stream, with the built binary on a real nats-server:
 * - a gateway with another --max-follow-edges than the ingest recorded refuses to start,
 *   naming both values, with a snapshot or without;
 * - the stream deleted and created again under a running gateway (the ingest restarted on
 *   it): the gateway stops with ERR_LOG_REPLACED, closes its clients and exits 1, and its
 *   clients got exactly the events of the old stream, nothing of the new one; a gateway
 *   started then refuses the old stream's snapshots and reads the new stream from its start.
 * Every wait is bounded; every process, socket and server is closed.
 */
import { beforeAll, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { run } from '../helpers/binary.js';
import {
  clientsOn,
  gateway,
  ingest,
  lastStats,
  logFlags,
  type Started,
  sendThrough,
  stop,
} from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { eventsText } from '../helpers/reference-maze.js';
import {
  attachMemorySource,
  attachUsers,
  expectSameDeliveries,
  type TcpPeer,
  useMemoryMazes,
  useTcpPeers,
  waitUntil,
  withTimeout,
  writeAll,
} from '../helpers/sockets.js';

const USERS = 25;
const WAIT_MS = 30_000;
const STATS = ['--stats-interval', '50'];

const peers = useTcpPeers();
const newMaze = useMemoryMazes();

/** Sends `text` to `events` from a new source and waits until it appended `count` events. */
async function sendFromNewSource(events: Started, text: string, count: number): Promise<TcpPeer> {
  const source = await peers.connect(events.port);
  await sendThrough(events, source, text, count, WAIT_MS);
  return source;
}

async function deleteStream(nats: NatsServer, stream: string): Promise<void> {
  const admin = await connect({ servers: nats.url });
  try {
    expect(await (await jetstreamManager(admin)).streams.delete(stream)).toBe(true);
  } finally {
    await admin.close();
  }
}

describeWithNats(
  'cluster mode: one configuration and one epoch per stream (built binaries)',
  () => {
    let nats: NatsServer;

    beforeAll(async () => {
      nats = await startNatsServer();
    });

    it('refuses a gateway with another --max-follow-edges, snapshot or not, naming both values', async () => {
      const stream = 'EPOCH_BOUND';
      const events = await ingest(nats, stream, [...STATS, '--snapshot-events', '1000']);
      // The command line names the flag beside the option.
      const refusal =
        /the event log was made with other settings: maxFollowEdges \(--max-follow-edges[^)]*\) 8388608 \(recorded by its writer\), this gateway has 10/;
      const refused = async (): Promise<void> => {
        const other = run([
          'gateway',
          ...logFlags(nats, stream),
          '--client-port',
          '0',
          '--max-follow-edges',
          '10',
        ]);
        const { code } = await other.finished(WAIT_MS);
        expect(code).toBe(1);
        expect(other.stderr.join('\n')).toMatch(refusal);
      };
      // The writer records its settings with its first batch: then, without a snapshot.
      const source = await sendFromNewSource(events, eventsText(1, 500, 1, USERS), 500);
      expect(lastStats(events).snapshotsSaved ?? '0').toBe('0');
      await refused();
      await writeAll(source.socket, eventsText(501, 5_000, 1, USERS), WAIT_MS);
      source.socket.end();
      await waitUntil(
        () => Number(lastStats(events).snapshotsSaved ?? 0) > 0,
        'a snapshot',
        WAIT_MS,
      );
      await refused();
      expect(await stop(events)).toBe(0);
    }, 120_000);

    it('stops a gateway whose stream is deleted and created again: clients closed, exit 1, nothing of the new stream delivered', async () => {
      const stream = 'EPOCH_RECREATED';
      const reference = newMaze().maze;
      const referenceSource = attachMemorySource(reference);
      const server = await gateway(nats, stream, STATS);
      const clients = await clientsOn(server, USERS, peers, WAIT_MS);
      const expected = await attachUsers(reference, USERS);

      const first = await ingest(nats, stream, [...STATS, '--snapshot-events', '1000']);
      const old = eventsText(1, 20_000, 1, USERS);
      referenceSource.peer.write(old);
      (await sendFromNewSource(first, old, 20_000)).socket.end();
      await waitUntil(
        () => lastStats(server).logPosition === lastStats(first).batchesAppended,
        'the gateway at the end of the old stream',
        WAIT_MS,
      );
      await waitUntil(
        () => Number(lastStats(first).snapshotsSaved ?? 0) > 0,
        'a snapshot of the old stream',
        WAIT_MS,
      );
      expect(await stop(first)).toBe(0);
      expect(await expectSameDeliveries(clients, expected, WAIT_MS)).toBeGreaterThan(1_000);

      // The stream only: its snapshot bucket stays, with the old stream's snapshots.
      await deleteStream(nats, stream);
      const second = await ingest(nats, stream, STATS);
      // More than the old stream held: a gateway reading on would find its positions again.
      (await sendFromNewSource(second, eventsText(1, 40_000, 2, USERS), 40_000)).socket.end();

      expect(await withTimeout(server.exited, WAIT_MS, 'the gateway to exit')).toBe(1);
      const said = server.stderr.join('\n');
      expect(said).toMatch(/ERR_LOG_REPLACED/);
      expect(said).toMatch(
        /the event log was deleted and created again: it is epoch \S+, not \S+ as when (the process|this gateway) started/,
      );
      await Promise.all(
        clients.map((client) => withTimeout(client.received.done, WAIT_MS, 'a client closed')),
      );
      // Exactly the old stream's notifications: nothing of the new one, nothing skipped.
      for (const [index, client] of clients.entries()) {
        expect(client.received.text).toBe(
          (expected[index] as (typeof expected)[number]).received.text,
        );
      }
      // A gateway started now follows the new stream, from its start: the old stream's
      // snapshots, at positions the new one holds too, are refused, never applied.
      const fresh = await gateway(nats, stream, STATS);
      expect(lastStats(second).batchesAppended).toBeDefined();
      await waitUntil(
        () => lastStats(fresh).logPosition === lastStats(second).batchesAppended,
        'a new gateway at the end of the new stream',
        WAIT_MS,
      );
      expect(lastStats(fresh)).toMatchObject({
        startSnapshotPosition: '0',
        eventsApplied: '40000',
        logForeign: '0',
      });
      expect(Number(lastStats(fresh).startSnapshotsRefused)).toBeGreaterThan(0);
      expect(fresh.stderr.join('\n')).toMatch(
        /ERR_SNAPSHOT_BAD.*it was taken from another stream \(epoch \S+, this one is \S+\)/,
      );
      for (const process of [second, fresh]) expect(await stop(process)).toBe(0);
    }, 120_000);

    it('stops a gateway whose nats-server came back without its store, once the ingest made the stream again', async () => {
      const stream = 'EPOCH_STORE_LOST';
      const lost = await startNatsServer();
      const reference = newMaze().maze;
      const referenceSource = attachMemorySource(reference);
      const server = await gateway(lost, stream, STATS);
      const clients = await clientsOn(server, USERS, peers, WAIT_MS);
      const expected = await attachUsers(reference, USERS);
      const first = await ingest(lost, stream, STATS);
      const old = eventsText(1, 20_000, 3, USERS);
      referenceSource.peer.write(old);
      (await sendFromNewSource(first, old, 20_000)).socket.end();
      await waitUntil(
        () => lastStats(server).logPosition === lastStats(first).batchesAppended,
        'the gateway at the end of the old stream',
        WAIT_MS,
      );
      expect(await stop(first)).toBe(0);
      expect(await expectSameDeliveries(clients, expected, WAIT_MS)).toBeGreaterThan(1_000);

      // The same address, an empty store: the gateway reconnects to a server without its stream.
      await lost.stop();
      const again = await startNatsServer({ port: lost.port });
      const second = await ingest(again, stream, STATS);
      (await sendFromNewSource(second, eventsText(1, 40_000, 4, USERS), 40_000)).socket.end();

      expect(await withTimeout(server.exited, WAIT_MS, 'the gateway to exit')).toBe(1);
      expect(server.stderr.join('\n')).toMatch(/ERR_LOG_REPLACED: .*deleted and created again/);
      await Promise.all(
        clients.map((client) => withTimeout(client.received.done, WAIT_MS, 'a client closed')),
      );
      for (const [index, client] of clients.entries()) {
        expect(client.received.text).toBe(
          (expected[index] as (typeof expected)[number]).received.text,
        );
      }
      expect(await stop(second)).toBe(0);
      await again.stop();
    }, 120_000);
  },
);

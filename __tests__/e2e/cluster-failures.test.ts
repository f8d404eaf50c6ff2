/**
 * Cluster mode through restarts and failures, with the built binary on a real nats-server:
 * every client's notifications are compared byte for byte with a maze in this process fed
 * the same events, connected at the same points.
 * - The ingest stopped with SIGTERM, then killed with SIGKILL once it has appended what it
 *   read: each new ingest resumes exactly where the log ends, and a source that resends old
 *   numbers finds them stale.
 * - The ingest stopped with SIGTERM the moment its source wrote megabytes and half-closed,
 *   most of it still unread: all of it is in the log, and clients on two gateways get it.
 * - A gateway killed with SIGKILL: the other gateway's clients miss nothing; restarted, its
 *   clients reconnect and get exactly what is applied after they identify.
 * - nats-server restarted mid-stream (file storage): nothing lost, duplicated or reordered.
 * A source is ended before a SIGTERM unless the test says otherwise: an ingest reads an open
 * one to its end, for up to --shutdown-timeout. Every wait is bounded; every process, socket
 * and server is closed.
 */
import { beforeAll, expect, it } from '@jest/globals';
import {
  clientsOn,
  gateway,
  ingest,
  kill,
  lastStats,
  type Started,
  sendThrough,
  stop,
} from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { eventsText, ReferenceMaze } from '../helpers/reference-maze.js';
import {
  expectSameDeliveries,
  type TcpPeer,
  useMemoryMazes,
  useTcpPeers,
  waitUntil,
  writeAll,
} from '../helpers/sockets.js';

const USERS = 25;
const WAIT_MS = 30_000;
const STATS = ['--stats-interval', '50'];

const peers = useTcpPeers();
const newMaze = useMemoryMazes();

/** Sends `text` from a new event source to `events` and waits until it appended `count` events. */
async function sendFromNewSource(events: Started, text: string, count: number): Promise<TcpPeer> {
  const source = await peers.connect(events.port);
  await sendThrough(events, source, text, count, WAIT_MS);
  return source;
}

describeWithNats('cluster mode through restarts and failures (built binaries)', () => {
  let nats: NatsServer;

  beforeAll(async () => {
    nats = await startNatsServer();
  });

  it('resumes the log exactly after the ingest is stopped (SIGTERM) or killed (SIGKILL)', async () => {
    const stream = 'FAIL_INGEST';
    const reference = new ReferenceMaze(newMaze().maze, USERS);
    const server = await gateway(nats, stream, STATS);
    const clients = await clientsOn(server, USERS, peers, WAIT_MS);
    const expected = await reference.clients();

    const first = await ingest(nats, stream, STATS);
    const phase1 = eventsText(1, 20_000, 1, USERS);
    reference.send(phase1);
    (await sendFromNewSource(first, phase1, 20_000)).socket.end();
    expect(await stop(first)).toBe(0);

    // A restarted ingest continues the log; the old numbers a source sends again are stale.
    const second = await ingest(nats, stream, STATS);
    const phase2 = `${eventsText(19_990, 20_000, 1, USERS)}${eventsText(20_001, 40_000, 2, USERS)}`;
    reference.send(phase2);
    await sendFromNewSource(second, phase2, 20_000);
    expect(await kill(second)).toBe(137);

    const third = await ingest(nats, stream, STATS);
    const phase3 = eventsText(40_001, 60_000, 3, USERS);
    reference.send(phase3);
    (await sendFromNewSource(third, phase3, 20_000)).socket.end();
    await reference.applied(60_000, WAIT_MS);
    expect(await expectSameDeliveries(clients, expected, WAIT_MS)).toBeGreaterThan(1_000);
    expect(Number(lastStats(third).eventsDiscarded ?? 0)).toBe(0);
    for (const process of [third, server]) expect(await stop(process)).toBe(0);
  }, 120_000);

  it('appends every event the source wrote before a SIGTERM of the ingest, read or not', async () => {
    const stream = 'FAIL_INGEST_DRAIN';
    const reference = new ReferenceMaze(newMaze().maze, USERS);
    const servers = [await gateway(nats, stream, STATS), await gateway(nats, stream, STATS)];
    const clients = await Promise.all(
      servers.map((server) => clientsOn(server, USERS, peers, WAIT_MS)),
    );
    const expected = await reference.clients();

    const first = await ingest(nats, stream, STATS);
    const phase1 = eventsText(1, 200_000, 8, USERS);
    reference.send(phase1);
    const source = await peers.connect(first.port);
    // The signal follows the last byte into the kernel: megabytes are still unread then.
    await new Promise<void>((resolve) => source.socket.end(phase1, resolve));
    expect(await stop(first)).toBe(0);
    expect(first.stderr.filter((line) => line.startsWith('problem '))).toEqual([]);

    // Restarted in the source's reconnect gap: the log ends with the last event written.
    const second = await ingest(nats, stream, STATS);
    await waitUntil(() => lastStats(second).nextSequence !== undefined, 'a stats line');
    expect(lastStats(second).nextSequence).toBe('200001');
    const phase2 = eventsText(200_001, 210_000, 9, USERS);
    reference.send(phase2);
    (await sendFromNewSource(second, phase2, 10_000)).socket.end();
    await reference.applied(210_000, WAIT_MS);
    for (const served of clients)
      expect(await expectSameDeliveries(served, expected, WAIT_MS)).toBeGreaterThan(10_000);
    for (const process of [second, ...servers]) expect(await stop(process)).toBe(0);
  }, 120_000);

  it('keeps the other gateway exact when one is killed, and serves again once restarted', async () => {
    const stream = 'FAIL_GATEWAY';
    const reference = new ReferenceMaze(newMaze().maze, USERS);
    const events = await ingest(nats, stream, STATS);
    const doomed = await gateway(nats, stream, STATS);
    const survivor = await gateway(nats, stream, STATS);
    await clientsOn(doomed, USERS, peers, WAIT_MS);
    const clients = await clientsOn(survivor, USERS, peers, WAIT_MS);
    const expected = await reference.clients();

    const phase1 = eventsText(1, 20_000, 4, USERS);
    reference.send(phase1);
    const source = await peers.connect(events.port);
    const sending = writeAll(source.socket, phase1, WAIT_MS);
    await waitUntil(() => Number(lastStats(doomed).eventsApplied ?? 0) > 0, 'some events applied');
    expect(await kill(doomed)).toBe(137);
    await sending;

    // Restarted (on a new port): its clients reconnect and get what is applied from then on.
    await waitUntil(
      () => lastStats(events).eventsAppended === '20000',
      'phase 1 appended',
      WAIT_MS,
    );
    const restarted = await gateway(nats, stream, STATS);
    const reconnected = await clientsOn(restarted, USERS, peers, WAIT_MS);
    await reference.applied(20_000, WAIT_MS);
    const expectedAfter = await reference.clients();
    const phase2 = eventsText(20_001, 40_000, 5, USERS);
    reference.send(phase2);
    await writeAll(source.socket, phase2, WAIT_MS);
    await reference.applied(40_000, WAIT_MS);
    expect(await expectSameDeliveries(clients, expected, WAIT_MS)).toBeGreaterThan(1_000);
    expect(await expectSameDeliveries(reconnected, expectedAfter, WAIT_MS)).toBeGreaterThan(1_000);
    source.socket.end();
    for (const process of [events, survivor, restarted]) expect(await stop(process)).toBe(0);
  }, 120_000);

  it('loses, repeats and reorders nothing when nats-server restarts mid-stream', async () => {
    const stream = 'FAIL_NATS';
    const reference = new ReferenceMaze(newMaze().maze, USERS);
    const events = await ingest(nats, stream, STATS);
    const servers = [await gateway(nats, stream, STATS), await gateway(nats, stream, STATS)];
    const clients = await Promise.all(
      servers.map((server) => clientsOn(server, USERS, peers, WAIT_MS)),
    );
    const expected = await reference.clients();

    const phase1 = eventsText(1, 20_000, 6, USERS);
    reference.send(phase1);
    const source = await sendFromNewSource(events, phase1, 20_000);
    // Restarted while the next events stream in: appends in flight lose their server.
    const phase2 = eventsText(20_001, 40_000, 7, USERS);
    reference.send(phase2);
    const sending = writeAll(source.socket, phase2, WAIT_MS);
    await nats.restart();
    await sending;
    // Each process says it lost NATS, then that it is back.
    for (const process of [events, ...servers]) {
      await process.waitForLine('stderr', /ERR_LOG_UNAVAILABLE.*lost the connection to NATS/);
      await process.waitForLine('stderr', /connected to NATS at .* again/, WAIT_MS);
    }
    await reference.applied(40_000, WAIT_MS);
    for (const served of clients)
      expect(await expectSameDeliveries(served, expected, WAIT_MS)).toBeGreaterThan(1_000);
    source.socket.end();
    for (const process of [events, ...servers]) expect(await stop(process)).toBe(0);
  }, 120_000);
});

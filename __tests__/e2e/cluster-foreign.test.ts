/**
 * Cluster mode with messages on the log's subject that no ingest wrote, with the built
 * binary on a real nats-server: a stray `hello` and a well-formed forged batch
 * (`FMB1 9000000000 …`) published by another NATS client. The running gateway delivers the
 * next 1,000 events exactly, a gateway started afterwards starts and delivers, and an ingest
 * restarted with such messages at the tail starts and appends, its events reaching every
 * gateway; every client's notifications are compared byte for byte with a maze in this
 * process fed the same events. Every wait is bounded; every process, socket and server is
 * closed.
 */
import { beforeAll, expect, it } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import {
  clientsOn,
  gateway,
  ingest,
  lastStats,
  sendThrough,
  stop,
} from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { eventsText, ReferenceMaze } from '../helpers/reference-maze.js';
import {
  expectSameDeliveries,
  useMemoryMazes,
  useTcpPeers,
  waitUntil,
} from '../helpers/sockets.js';

const USERS = 25;
const PHASE = 1_000;
const WAIT_MS = 30_000;
const STATS = ['--stats-interval', '50'];
const HELLO = 'hello';
const FORGED = 'FMB1 9000000000 9000000000 1\n9000000000|B\n';

const peers = useTcpPeers();
const newMaze = useMemoryMazes();

/** Publishes `payloads` on `subject` as any NATS client may: no message id, no fence. */
async function publishForeign(
  nats: NatsServer,
  subject: string,
  payloads: string[],
): Promise<void> {
  const connection = await connect({ servers: nats.url });
  try {
    for (const payload of payloads) connection.publish(subject, payload);
    await connection.flush();
  } finally {
    await connection.close();
  }
}

describeWithNats('cluster mode with foreign messages on the subject (built binaries)', () => {
  let nats: NatsServer;

  beforeAll(async () => {
    nats = await startNatsServer();
  });

  it('keeps every gateway exact and the ingest appending, restarted or not', async () => {
    const stream = 'FOREIGN';
    const subject = `e2e.${stream}`;
    const reference = new ReferenceMaze(newMaze().maze, USERS);
    const running = await gateway(nats, stream, STATS);
    const servedRunning = await clientsOn(running, USERS, peers, WAIT_MS);
    const expectedRunning = await reference.clients();

    const first = await ingest(nats, stream, STATS);
    const source = await peers.connect(first.port);
    const phase1 = eventsText(1, PHASE, 1, USERS);
    reference.send(phase1);
    await sendThrough(first, source, phase1, PHASE, WAIT_MS);

    await publishForeign(nats, subject, [HELLO, FORGED]);
    await waitUntil(() => lastStats(running).logForeign === '2', 'two skipped', WAIT_MS);
    await running.waitForLine('stderr', /ERR_LOG_FOREIGN.*9000000000\.\.9000000000/, WAIT_MS);

    // The running gateway delivers the next 1,000 events exactly; the ingest skips the two.
    const phase2 = eventsText(PHASE + 1, 2 * PHASE, 2, USERS);
    reference.send(phase2);
    await sendThrough(first, source, phase2, 2 * PHASE, WAIT_MS);
    await first.waitForLine('stderr', /ERR_LOG_FOREIGN.*2 message\(s\)/, WAIT_MS);
    expect(lastStats(first).foreignSkipped).toBe('2');

    // A gateway started afterwards starts, and serves what the reference serves from here.
    await reference.applied(2 * PHASE);
    const late = await gateway(nats, stream, STATS);
    const servedLate = await clientsOn(late, USERS, peers, WAIT_MS);
    const expectedLate = await reference.clients();

    // A restarted ingest finds a forged batch and a foreign message at the tail and appends.
    source.socket.end();
    expect(await stop(first)).toBe(0);
    await publishForeign(nats, subject, [FORGED, HELLO]);
    const second = await ingest(nats, stream, STATS);
    await second.waitForLine('stderr', /ERR_LOG_FOREIGN.*2 message\(s\)/, WAIT_MS);
    const phase3 = eventsText(2 * PHASE + 1, 3 * PHASE, 3, USERS);
    reference.send(phase3);
    const again = await peers.connect(second.port);
    await sendThrough(second, again, phase3, PHASE, WAIT_MS);
    again.socket.end();

    await reference.applied(3 * PHASE);
    expect(await expectSameDeliveries(servedRunning, expectedRunning, WAIT_MS)).toBeGreaterThan(
      PHASE,
    );
    expect(await expectSameDeliveries(servedLate, expectedLate, WAIT_MS)).toBeGreaterThan(
      PHASE / 10,
    );
    for (const process of [running, late]) {
      await waitUntil(() => lastStats(process).logForeign === '4', 'four skipped', WAIT_MS);
    }
    for (const process of [second, running, late]) expect(await stop(process)).toBe(0);
  }, 120_000);
});

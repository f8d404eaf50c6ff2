/**
 * Cluster mode end to end with the built binary (docs/protocol.md §11): a real nats-server,
 * `follower-maze ingest` and three `follower-maze gateway` processes, verified by
 * `follower-maze simulate` with its clients spread over the gateways, LF and CRLF; a gateway
 * started late catches up with the log (follows made before it started included); every
 * process exits 0 on SIGTERM (its event source ended first: an ingest reads an open one to its
 * end, for up to --shutdown-timeout). Each test writes its own stream on the suite's nats-server.
 */
import { beforeAll, expect, it } from '@jest/globals';
import { run } from '../helpers/binary.js';
import {
  clientsOn,
  gateway,
  ingest,
  lastStats,
  logFlags,
  simulate,
  stop,
} from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer, streamInfo } from '../helpers/nats.js';
import {
  attachMemorySource,
  attachUsers,
  expectSameDeliveries,
  sleep,
  type TcpPeer,
  unusedPort,
  useMemoryMazes,
  useTcpPeers,
  waitUntil,
  withTimeout,
  writeAll,
} from '../helpers/sockets.js';
import { generateEventLines, mulberry32, shuffleInBatches } from '../helpers/streams.js';

const SIMULATION_MS = 60_000;

describeWithNats('cluster mode (built binaries on a real nats-server)', () => {
  let nats: NatsServer;
  const peers = useTcpPeers();
  const newMaze = useMemoryMazes();

  beforeAll(async () => {
    nats = await startNatsServer();
  });

  it.each(['lf', 'crlf'])(
    'delivers every notification exactly through 1 ingest and 3 gateways (%s)',
    async (terminator) => {
      const stream = `E2E_${terminator.toUpperCase()}`;
      const events = await ingest(nats, stream);
      const gateways = await Promise.all([1, 2, 3].map(() => gateway(nats, stream)));
      const { code, summary } = await simulate(
        [
          '--event-port',
          String(events.port),
          '--client-port',
          gateways.map((started) => started.port).join(','),
          '--total-events',
          '20000',
          '--concurrency-level',
          '30',
          '--number-of-users',
          '200',
          '--event-terminator',
          terminator,
          '--id-terminator',
          terminator,
          '--log-interval',
          '0',
        ],
        SIMULATION_MS,
      );
      expect({ code, ok: summary.ok, failure: summary.failure }).toEqual({
        code: 0,
        ok: true,
        failure: undefined,
      });
      expect(summary.notifications).toBeGreaterThan(20_000);
      for (const process of [events, ...gateways]) expect(await stop(process)).toBe(0);
    },
    SIMULATION_MS + 30_000,
  );

  it(
    'delivers every notification through an ingest and 2 gateways given --delimiter ;',
    async () => {
      const stream = 'E2E_DELIMITER';
      const events = await ingest(nats, stream, ['--delimiter', ';']);
      const gateways = await Promise.all(
        [1, 2].map(() => gateway(nats, stream, ['--delimiter', ';'])),
      );
      const { code, summary } = await simulate(
        [
          '--event-port',
          String(events.port),
          '--client-port',
          gateways.map((started) => started.port).join(','),
          '--total-events',
          '10000',
          '--concurrency-level',
          '20',
          '--number-of-users',
          '100',
          '--delimiter',
          ';',
          '--log-interval',
          '0',
        ],
        SIMULATION_MS,
      );
      expect({ code, ok: summary.ok, failure: summary.failure }).toEqual({
        code: 0,
        ok: true,
        failure: undefined,
      });
      expect(summary.notifications).toBeGreaterThan(10_000);
      for (const process of [events, ...gateways]) expect(await stop(process)).toBe(0);
    },
    SIMULATION_MS + 30_000,
  );

  it('refuses a gateway or an ingest whose --delimiter is not the stream’s: ERR_LOG_CONFIG', async () => {
    const stream = 'E2E_DELIMITER_MISMATCH';
    // Started on the empty stream, before anything says which delimiter it holds.
    const early = await gateway(nats, stream);
    const events = await ingest(nats, stream, ['--delimiter', ';']);
    const source = await peers.connect(events.port);
    source.socket.write('1;B\n');
    // The early gateway stops instead of misparsing the first batch: at the settings the
    // ingest recorded (checked every second), or at that batch, whichever it reads first.
    expect(await withTimeout(early.exited, 15_000, 'the early gateway to stop')).toBe(1);
    const recorded = /delimiter ";" \(recorded by its writer\), this gateway has "\|"/;
    const batch = /delimited by ";" \(position 1\), this gateway splits on "\|"/;
    expect(early.stderr.join('\n')).toMatch(
      new RegExp(`ERR_LOG_CONFIG.*(${recorded.source}|${batch.source})`),
    );
    // A gateway started now refuses the stream at once (a failed start: its message alone).
    const late = run(['gateway', ...logFlags(nats, stream), '--client-port', '0']);
    expect(await withTimeout(late.exited, 15_000, 'the late gateway to exit')).toBe(1);
    expect(late.stderr.join('\n')).toMatch(recorded);
    source.socket.end();
    expect(await stop(events)).toBe(0);
    // So does an ingest that would append lines of another delimiter to it.
    const other = run(['ingest', ...logFlags(nats, stream), '--event-port', '0']);
    expect(await withTimeout(other.exited, 15_000, 'the other ingest to exit')).toBe(1);
    expect(other.stderr.join('\n')).toMatch(/delimited by ";" .*, this ingest splits on "\|"/);
  }, 60_000);

  it('starts a late gateway that applies the log first, follows included', async () => {
    const stream = 'E2E_LATE';
    const events = await ingest(nats, stream);
    const early = await gateway(nats, stream);
    const source = await peers.connect(events.port);
    // Before the late gateway exists: user 7 follows user 8, and many events after it.
    const filler = Array.from({ length: 5_000 }, (_, index) => `${index + 2}|P|1|2\n`).join('');
    source.socket.write(`1|F|7|8\r\n${filler}`);
    let sequence = 5_002;
    // A client gets the events applied after it identified: send until one arrives.
    const sendUntil = (peer: TcpPeer, line: (n: number) => string, what: string) =>
      waitUntil(
        () => {
          if (peer.received.text === '') source.socket.write(line(sequence++));
          return peer.received.text !== '';
        },
        what,
        15_000,
      );
    const witness = await peers.connect(early.port);
    witness.socket.write('2\n');
    await sendUntil(witness, (n) => `${n}|P|1|2\n`, 'the early gateway to apply the log');

    const late = await gateway(nats, stream);
    const follower = await peers.connect(late.port);
    follower.socket.write('7\n');
    await sendUntil(follower, (n) => `${n}|S|8\n`, 'a status update of user 8 at the late gateway');
    // User 2 got 5,000 private messages before the late gateway started: none again.
    const recipient = await peers.connect(late.port);
    recipient.socket.write('2\n');
    await sendUntil(recipient, (n) => `${n}|P|1|2\n`, 'a new private message at the late gateway');
    await sleep(50);
    expect(follower.received.text).toMatch(/^(\d+\|S\|8\n)+$/);
    expect(recipient.received.text).toMatch(/^(\d+\|P\|1\|2\n)+$/);
    expect(Number(recipient.received.text.split('|')[0])).toBeGreaterThan(5_001);
    source.socket.end();
    for (const process of [events, early, late]) expect(await stop(process)).toBe(0);
  }, 60_000);

  it('starts a gateway after 1M events, from the newest snapshot once retention dropped the first batches', async () => {
    const stream = 'E2E_SNAPSHOT';
    const events = await ingest(nats, stream, [
      '--nats-max-bytes',
      '4000000',
      '--snapshot-events',
      '100000',
      '--stats-interval',
      '100',
    ]);
    const users = 40;
    const rng = mulberry32(4);
    const before = shuffleInBatches(
      generateEventLines({ count: 1_000_000, users, seed: 21 }),
      100,
      rng,
    ).join('');
    const after = shuffleInBatches(
      generateEventLines({ count: 20_000, users, seed: 22, start: 1_000_001 }),
      100,
      rng,
    ).join('');
    const { maze } = newMaze();
    const reference = attachMemorySource(maze);
    reference.peer.write(before);
    const source = await peers.connect(events.port);
    await writeAll(source.socket, before, SIMULATION_MS);
    await waitUntil(() => maze.stats().eventsApplied === 1_000_000, 'the reference', 30_000);
    // Every event appended, and the snapshot writer through the whole log.
    await waitUntil(
      () => {
        const stats = lastStats(events);
        return (
          stats.eventsAppended === '1000000' &&
          stats.snapshotLogPosition === stats.batchesAppended &&
          stats.snapshotPosition !== '0'
        );
      },
      'the ingest to append everything and snapshot it',
      30_000,
    );
    // Retention has dropped the first batches: only a snapshot can stand for them.
    expect((await streamInfo(nats, stream)).state.first_seq).toBeGreaterThan(1);

    const late = await gateway(nats, stream, ['--stats-interval', '50']);
    await waitUntil(() => lastStats(late).startSnapshotPosition !== undefined, 'a stats line');
    expect(Number(lastStats(late).startSnapshotPosition)).toBeGreaterThan(0);
    // The gateway left the ingest's retention alone.
    expect((await streamInfo(nats, stream)).config.max_bytes).toBe(4_000_000);
    const expected = await attachUsers(maze, users);
    const received = await clientsOn(late, users, peers, 15_000);
    reference.peer.write(after);
    await writeAll(source.socket, after, SIMULATION_MS);
    await waitUntil(() => maze.stats().eventsApplied === 1_020_000, 'the reference', 15_000);
    expect(await expectSameDeliveries(received, expected, 15_000)).toBeGreaterThan(20_000);
    source.socket.end();
    for (const process of [events, late]) expect(await stop(process)).toBe(0);
  }, 120_000);

  it('exits 1 naming --nats-subject when another stream takes the subject', async () => {
    expect(await stop(await ingest(nats, 'E2E_FIRST'))).toBe(0);
    const taken = run([
      'ingest',
      '--nats-url',
      nats.url,
      '--nats-stream',
      'E2E_OTHER',
      '--nats-subject',
      'e2e.E2E_FIRST',
      '--event-port',
      '0',
    ]);
    expect(await withTimeout(taken.exited, 15_000, 'the exit')).toBe(1);
    expect(taken.stderr.join('\n')).toMatch(
      /another stream already takes subject .*\(natsSubject \(--nats-subject, FOLLOWER_MAZE_NATS_SUBJECT\)\)/,
    );
  });

  it('waits for NATS at startup: reports, answers 503, then serves once NATS is there', async () => {
    const port = await unusedPort();
    const waiting = run([
      'gateway',
      '--nats-url',
      `nats://127.0.0.1:${port}`,
      '--client-port',
      '0',
      '--monitor-port',
      '0',
    ]);
    await waiting.waitForLine('stderr', /ERR_LOG_UNAVAILABLE.*trying again in \d+ ms/);
    const monitor = /http:\/\/[\d.:]+/.exec(
      await waiting.waitForLine('stderr', /follower-maze monitor: http/),
    )?.[0];
    const health = await fetch(`${monitor}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toContain(
      `connecting to NATS at nats://127.0.0.1:${port}`,
    );

    const late = await startNatsServer({ port });
    try {
      await waiting.waitForLine('stdout', /^follower-maze listening: clients on/, 30_000);
      const ready = await fetch(`${monitor}/healthz`, { signal: AbortSignal.timeout(5_000) });
      expect(ready.status).toBe(200);
      expect(await stop(waiting)).toBe(0);
    } finally {
      await late.stop();
    }
  }, 60_000);

  it('stops at once, exit 0, on SIGTERM while it waits for NATS', async () => {
    const waiting = run(['ingest', '--nats-url', `nats://127.0.0.1:${await unusedPort()}`]);
    await waiting.waitForLine('stderr', /ERR_LOG_UNAVAILABLE/);
    expect(await stop(waiting)).toBe(0);
  });

  it('exits 2 without a NATS URL', async () => {
    const missing = run(['ingest', '--event-port', '0']);
    expect(await withTimeout(missing.exited, 15_000, 'the exit')).toBe(2);
    expect(missing.stderr.join('\n')).toMatch(
      /natsUrl \(--nats-url, FOLLOWER_MAZE_NATS_URL\) is required/,
    );
  });
});

/**
 * `follower-maze serve --nats-url` with the built binary on a real nats-server: one process
 * whose state survives restarts. Verified by `follower-maze simulate`; restarted with
 * SIGTERM and SIGKILL, it keeps the follow graph and the sequence position (old numbers are
 * stale); a SIGTERM right after the source wrote and half-closed still delivers all of it.
 * Every wait is bounded; every process and socket is closed.
 */
import { beforeAll, expect, it } from '@jest/globals';
import { run } from '../helpers/binary.js';
import { kill, lastStats, logFlags, serve, simulate, stop } from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { connectTcp, useTcpPeers, waitUntil, withTimeout } from '../helpers/sockets.js';
import { broadcasts } from '../helpers/streams.js';

const WAIT_MS = 20_000;

/** `serve` on the log `stream`, on free ports read back from its startup line. */
function serveOnLog(nats: NatsServer, stream: string, extra: string[] = []) {
  return serve([...logFlags(nats, stream), ...extra, '--stats-interval', '50'], { ms: WAIT_MS });
}

describeWithNats('serve --nats-url (built binary on a real nats-server)', () => {
  let nats: NatsServer;
  const peers = useTcpPeers();

  beforeAll(async () => {
    nats = await startNatsServer();
  });

  it('passes the simulator', async () => {
    const server = await serveOnLog(nats, 'SERVE_SIM');
    const { code, summary } = await simulate(
      [
        '--event-port',
        String(server.eventPort),
        '--client-port',
        String(server.clientPort),
        '--total-events',
        '50000',
        '--concurrency-level',
        '30',
      ],
      60_000,
    );
    expect(code).toBe(0);
    expect(summary.ok).toBe(true);
    expect(await stop(server)).toBe(0);
  }, 90_000);

  it('passes the simulator given the same --delimiter, and records it with the stream', async () => {
    const server = await serveOnLog(nats, 'SERVE_DELIMITER', ['--delimiter', ';']);
    const ports = [
      '--event-port',
      String(server.eventPort),
      '--client-port',
      String(server.clientPort),
    ];
    const { code, summary } = await simulate(
      [...ports, '--total-events', '5000', '--concurrency-level', '10', '--delimiter', ';'],
      60_000,
    );
    expect({ code, ok: summary.ok }).toEqual({ code: 0, ok: true });
    expect(await stop(server)).toBe(0);
    // Restarted with the default on the same stream, it refuses the stream's lines.
    const restarted = run([
      '--event-port',
      '0',
      '--client-port',
      '0',
      ...logFlags(nats, 'SERVE_DELIMITER'),
    ]);
    expect(await withTimeout(restarted.exited, WAIT_MS, 'the refusal')).toBe(1);
    expect(restarted.stderr.join('\n')).toMatch(/delimited by ";" .*, this ingest splits on "\|"/);
  }, 90_000);

  it('delivers every event the source wrote before a SIGTERM, read or not, to its clients', async () => {
    const server = await serveOnLog(nats, 'SERVE_DRAIN');
    const client = await peers.connect(server.clientPort);
    client.socket.write('1\n');
    await waitUntil(() => lastStats(server).clientsConnected === '1', 'the client');
    const source = await peers.connect(server.eventPort);
    const sent = broadcasts(200_000).join('');
    // The signal follows the last byte into the kernel: much of it is still unread then.
    await new Promise<void>((resolve) => source.socket.end(sent, resolve));
    expect(await stop(server)).toBe(0);
    await client.received.waitForEnd();
    // The source's connection line says it was read to its end; the client got all of it.
    const read = Number(
      /disconnected after (\d+) line/.exec(
        server.stderr.find((line) => line.includes('disconnected after')) ?? '',
      )?.[1],
    );
    expect(read).toBe(200_000);
    expect(client.received.lines).toHaveLength(read);
    expect(client.received.text === sent).toBe(true);
    expect(server.stderr.filter((line) => line.startsWith('problem '))).toEqual([]);
  }, 60_000);

  it('stops accepting on both ports at a SIGTERM and appends and delivers what an open source still sends', async () => {
    const server = await serveOnLog(nats, 'SERVE_OPEN_SOURCE', ['--shutdown-timeout', '1000']);
    const client = await peers.connect(server.clientPort);
    client.socket.write('1\n');
    await waitUntil(() => lastStats(server).clientsConnected === '1', 'the client');
    const source = await peers.connect(server.eventPort);
    source.socket.write('1|B\n');
    await waitUntil(() => client.received.text !== '', 'the first event');
    server.child.kill('SIGTERM');
    await server.waitForLine('stderr', /SIGTERM received, shutting down/);
    await expect(connectTcp(server.clientPort, 1_000)).rejects.toThrow(/ECONNREFUSED/);
    await expect(connectTcp(server.eventPort, 1_000)).rejects.toThrow(/ECONNREFUSED/);
    source.socket.write('2|B\n');
    expect(await withTimeout(server.exited, WAIT_MS, 'the server to exit')).toBe(0);
    await client.received.waitForEnd();
    expect(client.received.text).toBe('1|B\n2|B\n');
    expect(server.stderr.filter((line) => line.startsWith('problem '))).toEqual([
      'problem ERR_SHUTDOWN_UNDRAINED [event-source#1 line 2]: shut down with input not drained: the event source was still open after 1000 ms (what it had not sent yet is lost), 0 byte(s) read but not applied; dropped',
    ]);
  }, 60_000);

  it('keeps follows and the sequence across a restart (SIGTERM) and a kill (SIGKILL)', async () => {
    // A snapshot after every batch: each restart starts from one, then reads the log after it.
    const snapshotEveryBatch = ['--snapshot-events', '1'];
    let server = await serveOnLog(nats, 'SERVE_RESTART', snapshotEveryBatch);
    let source = await peers.connect(server.eventPort);
    source.socket.write('1|F|7|8\n2|F|9|8\n3|U|9|8\n');
    await waitUntil(() => lastStats(server).eventsAppended === '3', 'three events appended');
    // The snapshot of them saved: the writer waits for the log's settings record, which
    // follows the first append.
    await waitUntil(() => Number(lastStats(server).snapshotsSaved) > 0, 'a snapshot');
    // Ended first: a SIGTERM reads an open source to its end, for up to --shutdown-timeout.
    source.socket.end();
    expect(await stop(server)).toBe(0);

    // Each round starts after the previous one's end: a stop, a stop, a kill.
    for (const [restart, next] of [
      ['SIGTERM', 4],
      ['SIGKILL', 5],
      ['SIGTERM', 6],
    ] as const) {
      server = await serveOnLog(nats, 'SERVE_RESTART', snapshotEveryBatch);
      await waitUntil(() => lastStats(server).startSnapshotPosition !== undefined, 'stats');
      expect(Number(lastStats(server).startSnapshotPosition)).toBeGreaterThan(0);
      const follower = await peers.connect(server.clientPort);
      const unfollowed = await peers.connect(server.clientPort);
      follower.socket.write('7\n');
      unfollowed.socket.write('9\n');
      await waitUntil(() => lastStats(server).clientsConnected === '2', 'two clients');
      source = await peers.connect(server.eventPort);
      // An old number first: stale, delivered to nobody.
      source.socket.write(`3|S|8\n${next}|S|8\n`);
      await waitUntil(() => follower.received.text !== '', 'the status update', WAIT_MS);
      expect(follower.received.text).toBe(`${next}|S|8\n`);
      expect(unfollowed.received.text).toBe('');
      await waitUntil(() => lastStats(server).eventsAppended === '1', 'the update appended');
      source.socket.end();
      if (restart === 'SIGTERM') expect(await stop(server)).toBe(0);
      else expect(await kill(server)).toBe(137);
      await peers.closeAll();
    }
  }, 90_000);
});

/**
 * A resume never spans two streams, with the built binaries on a real nats-server: every
 * gateway of a stream gives its resume-aware clients the same epoch (the stream's creation
 * time in nanoseconds), and a gateway on the stream deleted and created again answers a
 * resume from the old one with `!GAP|epoch|…`, although the new stream holds the client's
 * number. Every wait is bounded; every process, socket and server is closed.
 */
import { beforeAll, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { gateway, ingest, lastStats, type Started, stop } from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';
import { eventsText } from '../helpers/reference-maze.js';
import { useTcpPeers, waitUntil, writeAll } from '../helpers/sockets.js';

const USERS = 25;
const WAIT_MS = 30_000;
const STATS = ['--stats-interval', '50'];
const HISTORY = [...STATS, '--resume-bytes', String(16 * 1024 * 1024)];
const EPOCH_LINE = /^!EPOCH\|(\d{1,20})\|\d{1,16}\n/;

const peers = useTcpPeers();

/** Sends `count` events from a new source to `events` and waits until they are appended. */
async function append(events: Started, count: number, seed: number): Promise<void> {
  const source = await peers.connect(events.port);
  await writeAll(source.socket, eventsText(1, count, seed, USERS), WAIT_MS);
  await waitUntil(
    () => lastStats(events).eventsAppended === String(count),
    `the ingest to append ${count} events`,
    WAIT_MS,
  );
  source.socket.end();
}

/** Connects to `server` with `idLine`; resolves with the epoch of its epoch line and what followed. */
async function epochOf(server: Started, idLine: string, after = ''): Promise<string> {
  const client = await peers.connect(server.port);
  client.socket.write(idLine);
  await waitUntil(
    () => EPOCH_LINE.test(client.received.text) && client.received.text.includes(after),
    `the epoch line${after === '' ? '' : ` and ${JSON.stringify(after)}`}`,
    WAIT_MS,
  );
  return (EPOCH_LINE.exec(client.received.text) as RegExpExecArray)[1] as string;
}

describeWithNats(
  'cluster mode: resumes checked against the stream’s epoch (built binaries)',
  () => {
    let nats: NatsServer;

    beforeAll(async () => {
      nats = await startNatsServer();
    });

    it('gives one epoch on every gateway, and a new one once the stream is made again: an old resume gets !GAP|epoch', async () => {
      const stream = 'RESUME_EPOCH';
      const startedAt = Date.now();
      const first = await ingest(nats, stream, STATS);
      const gateways = [await gateway(nats, stream, HISTORY), await gateway(nats, stream, HISTORY)];
      await append(first, 2_000, 11);
      const [a, b] = gateways as [Started, Started];
      const epoch = await epochOf(a, '1|-\n');
      expect(await epochOf(b, '2|-\r\n')).toBe(epoch);
      // The stream's creation time, in nanoseconds since 1970.
      const createdMs = Number(BigInt(epoch) / 1_000_000n);
      expect(createdMs).toBeGreaterThanOrEqual(startedAt - 1_000);
      expect(createdMs).toBeLessThanOrEqual(Date.now());
      // The same epoch resumes exactly on the other gateway: nothing missed, no gap line.
      await waitUntil(() => lastStats(b).nextSequence === '2001', 'gateway b at the end', WAIT_MS);
      expect(await epochOf(b, `3|2000|${epoch}\n`, '|2000\n')).toBe(epoch);
      await waitUntil(() => lastStats(b).clientsResumed === '1', 'the exact resume', WAIT_MS);
      expect(lastStats(b).resumesRefused).toBe('0');
      expect(await stop(first)).toBe(0);
      for (const server of gateways) await stop(server);

      const admin = await connect({ servers: nats.url });
      try {
        expect(await (await jetstreamManager(admin)).streams.delete(stream)).toBe(true);
      } finally {
        await admin.close();
      }
      const second = await ingest(nats, stream, STATS);
      await append(second, 3_000, 12);
      const fresh = await gateway(nats, stream, HISTORY);
      await waitUntil(() => lastStats(fresh).nextSequence === '3001', 'the new gateway', WAIT_MS);
      // 1,500 is a number of the new stream too: read against it, it would be replayed.
      const renewed = await epochOf(fresh, `1|1500|${epoch}\n`, '|3000\n!GAP|epoch|3001\n');
      expect(renewed).not.toBe(epoch);
      expect(BigInt(renewed)).toBeGreaterThan(BigInt(epoch));
      for (const server of [second, fresh]) expect(await stop(server)).toBe(0);
    }, 120_000);
  },
);

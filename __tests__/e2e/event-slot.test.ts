/**
 * The event port is not up for grabs (docs/protocol.md, "Idle event source"), with the built
 * binary over real TCP: once the real source has gone, a newcomer that holds the slot with
 * an empty line (or an invalid one) every 150 ms keeps it only until `--source-idle-timeout`
 * has passed since it connected. The real source, retrying every 200 ms as a producer does,
 * is refused until then, gets back in after it, and its events are delivered. Every wait is
 * bounded; every process and socket is closed.
 */
import { describe, expect, it } from '@jest/globals';
import { lastStats, serve, stop } from '../helpers/cluster-processes.js';
import { sleep, type TcpPeer, useTcpPeers, waitUntil } from '../helpers/sockets.js';

const IDLE_TIMEOUT_MS = 1_000;
const JUNK_EVERY_MS = 150;
const RETRY_EVERY_MS = 200;
/** Longest the returning source may try: the timeout, and room for a loaded machine. */
const RETURN_WITHIN_MS = 10_000;
const peers = useTcpPeers();

describe('serve --source-idle-timeout (built binary)', () => {
  it.each([
    ['empty lines', '\n'],
    ['invalid lines', 'x|B\n'],
  ])(
    'gives the event slot back to a returning source despite a holder sending %s',
    async (_, junk) => {
      const server = await serve([
        '--source-idle-timeout',
        String(IDLE_TIMEOUT_MS),
        '--stats-interval',
        '50',
      ]);
      const client = await peers.connect(server.clientPort);
      client.socket.write('7\n');
      await waitUntil(() => lastStats(server).clientsConnected === '1', 'the client identified');
      const real = await peers.connect(server.eventPort);
      real.socket.write('1|B\n');
      await client.received.waitForLength(4);
      await real.close();
      await waitUntil(() => lastStats(server).eventSourceConnected === 'false', 'the source gone');

      // Before the holder connects: the server counts its idle time from later still.
      const connectedAt = Date.now();
      const holder = await peers.connect(server.eventPort);
      const junkTimer = setInterval(() => holder.socket.write(junk), JUNK_EVERY_MS);
      try {
        await waitUntil(() => lastStats(server).eventSourceConnected === 'true', 'the holder in');
        let refused = 0;
        let back: TcpPeer | undefined;
        while (back === undefined) {
          expect(Date.now() - connectedAt).toBeLessThan(RETURN_WITHIN_MS);
          const attempt = await peers.connect(server.eventPort);
          attempt.socket.write('2|B\n');
          // Refused: the server ends it at once. Accepted: it stays open and 2|B arrives.
          await waitUntil(
            () => attempt.socket.readableEnded || client.received.text.length > 4,
            'the attempt to be refused or served',
          );
          if (client.received.text.length > 4) back = attempt;
          else {
            refused++;
            await sleep(RETRY_EVERY_MS);
          }
        }
        // Refused while the holder was within its timeout, then back in after it.
        expect(refused).toBeGreaterThan(0);
        expect(Date.now() - connectedAt).toBeGreaterThan(IDLE_TIMEOUT_MS);
        expect(client.received.text).toBe('1|B\n2|B\n');
        await holder.received.waitForEnd();
        expect(server.stderr.join('\n')).toMatch(
          new RegExp(
            `problem ERR_EVENT_SOURCE_IDLE .*event source sent no valid event for \\d+ ms \\(idle timeout ${IDLE_TIMEOUT_MS} ms\\)`,
          ),
        );
        await back.close();
      } finally {
        clearInterval(junkTimer);
      }
      expect(await stop(server)).toBe(0);
    },
    30_000,
  );
});

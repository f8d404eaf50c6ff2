/**
 * Node's own handshake timer on each TLS server of ours (the TLS ports of `listen()` and the
 * monitor's HTTPS): armed at the longest timer Node takes (`NODE_HANDSHAKE_TIMEOUT`), so it
 * never decides before the handshake deadline of ours does; never Node's default of 120 s,
 * which the option left out, or set to 0, gives. Seeing that behaviour would take 120 s, so
 * these tests read the timer Node arms on each socket it accepts: `setTimeout(ms,
 * _handleTimeout)` of the server's `TLSSocket` when the connection is taken (cleared once the
 * handshake is done).
 */
import { readFileSync } from 'node:fs';
import { type ConnectionOptions, connect, createServer, TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { startMonitor } from '../../lib/monitor/monitor-server.js';
import type { MonitorSources } from '../../lib/monitor/sources.js';
import { listen } from '../../lib/net/listen.js';
import { ServerTls } from '../../lib/net/tls.js';
import { MAX_TIMER_MS } from '../../lib/options/option.js';
import { useClosing } from '../helpers/closing.js';
import { WAIT_MS, withTimeout } from '../helpers/sockets.js';
import { handshakeOf } from '../helpers/tls.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const pem = (name: string): string => readFileSync(new URL(name, FIXTURES), 'utf8');
const MATERIAL = { cert: pem('server.pem'), key: pem('server-key.pem') };
const TRUST = { ca: pem('ca.pem') };
// What Node arms when a server is given no handshakeTimeout, or 0.
const NODE_DEFAULT_MS = 120_000;

const track = useClosing();

/** A reader of the handshake timers Node arms from now on (ms each), in order. */
function watchHandshakeTimers(): () => number[] {
  const prototype = TLSSocket.prototype as TLSSocket & { _handleTimeout: () => void };
  const spy = jest.spyOn(prototype, 'setTimeout');
  return () =>
    spy.mock.calls
      .filter(([ms, callback]) => callback === prototype._handleTimeout && ms > 0)
      .map(([ms]) => ms);
}

afterEach(() => {
  jest.restoreAllMocks();
});

/** A TLS connection to `port` once its handshake is done, closed after the test. */
function tlsConnect(port: number, options: ConnectionOptions = TRUST): Promise<TLSSocket> {
  const socket = connect({ host: '127.0.0.1', port, ...options });
  track({ close: async () => void socket.destroy() });
  return handshakeOf(socket);
}

const SOURCES: MonitorSources = {
  health: () => ({ ready: true }),
  stats: () => ({}),
  statMetrics: {},
  clients: (page) => ({ total: 0, items: [], ...page }),
  report: () => {},
};

describe("Node's handshake timer", () => {
  it('is armed at its default of 120 s on a TLS server not given the option (the probe sees it)', async () => {
    const armed = watchHandshakeTimers();
    const server = createServer(MATERIAL);
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    await withTimeout(
      new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)),
      WAIT_MS,
      'listening',
    );
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    await tlsConnect(address.port);
    expect(armed()).toEqual([NODE_DEFAULT_MS]);
  });

  it('is armed past every deadline on the TLS event and client ports', async () => {
    const armed = watchHandshakeTimers();
    const server = track(
      await listen({ eventPort: 0, clientPort: 0, tls: new ServerTls(MATERIAL) }),
    );
    await tlsConnect(server.clientAddress.port);
    await tlsConnect(server.eventAddress.port);
    expect(armed()).toEqual([MAX_TIMER_MS, MAX_TIMER_MS]);
  });

  it("is armed past every deadline on the monitor's HTTPS port", async () => {
    const armed = watchHandshakeTimers();
    const monitor = track(
      await startMonitor({
        sources: SOURCES,
        host: '127.0.0.1',
        port: 0,
        tls: new ServerTls(MATERIAL),
      }),
    );
    await tlsConnect(monitor.address.port);
    expect(armed()).toEqual([MAX_TIMER_MS]);
  });
});

/**
 * Cluster mode over TLS, with the built binaries on a real nats-server: an ingest with TLS on
 * its event port and mutual TLS for the source (`--event-tls-ca`), two gateways with TLS on
 * their client ports, verified end to end by `simulate` over TLS; a source without a
 * trusted certificate never reaches the ingest's source slot. Every wait is bounded; every
 * process is stopped.
 */
import { beforeAll, expect, it } from '@jest/globals';
import { gateway, ingest, simulate, stop } from '../helpers/cluster-processes.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url).pathname;
const fixture = (name: string): string => `${FIXTURES}${name}`;
const TLS = ['--tls-cert', fixture('server.pem'), '--tls-key', fixture('server-key.pem')];
const SIMULATION_MS = 60_000;

describeWithNats('cluster mode over TLS (built binaries)', () => {
  let nats: NatsServer;

  beforeAll(async () => {
    nats = await startNatsServer();
  });

  it('is verified by simulate over TLS through an ingest with mutual TLS and two TLS gateways', async () => {
    const stream = 'TLS_CLUSTER';
    const events = await ingest(nats, stream, [...TLS, '--event-tls-ca', fixture('ca.pem')]);
    const gateways = [await gateway(nats, stream, TLS), await gateway(nats, stream, TLS)];
    const common = [
      '--event-port',
      String(events.port),
      '--client-port',
      gateways.map((each) => each.port).join(','),
      '--concurrency-level',
      '10',
      '--timeout',
      '10000',
      '--tls-ca',
      fixture('ca.pem'),
    ];

    const refused = await simulate([...common, '--total-events', '100'], SIMULATION_MS);
    expect(refused.code).toBe(1);
    await events.waitForLine('stderr', /problem ERR_TLS_HANDSHAKE \[event-port\]: .*1 certificate/);

    const verified = await simulate(
      [
        ...common,
        '--total-events',
        '5000',
        '--event-tls-cert',
        fixture('source.pem'),
        '--event-tls-key',
        fixture('source-key.pem'),
      ],
      SIMULATION_MS,
    );
    expect(verified.summary.ok).toBe(true);
    expect(verified.code).toBe(0);
    for (const each of [...gateways, events]) expect(await stop(each)).toBe(0);
  });
});

/**
 * Cluster mode's commands (docs/protocol.md §11): `ingest` and `gateway`. Each loads its
 * runner (and with it the NATS client) only when it runs, so that the other commands never
 * load NATS code.
 */
import { resolveGatewayArgs, resolveIngestArgs } from './cluster-options.js';
import { serverCommand } from './server-command.js';

export const ingestCommand = serverCommand({
  command: 'ingest',
  describe:
    'Cluster mode: take the event source, put its events in order and append them to a NATS JetStream stream',
  examples: [
    [
      '$0 ingest --nats-url nats://127.0.0.1:4222',
      'events on 127.0.0.1:9090 into stream FOLLOWER_MAZE',
    ],
    [
      '$0 ingest --nats-url nats://n1:4222,nats://n2:4222 --nats-creds app.creds --host 0.0.0.0',
      'two NATS servers, a credentials file, the event port on every interface',
    ],
  ],
  resolve: resolveIngestArgs,
  run: async (args) => (await import('./ingest.js')).runIngest(args),
});

export const gatewayCommand = serverCommand({
  command: 'gateway',
  describe:
    'Cluster mode: replay the NATS JetStream event log and serve user clients (run as many as you need)',
  examples: [
    ['$0 gateway --nats-url nats://127.0.0.1:4222', 'clients on 127.0.0.1:9099'],
    [
      '$0 gateway --nats-url nats://127.0.0.1:4222 --client-port 9199 --monitor-port 9198',
      'a second gateway on the same machine, with /healthz and /metrics',
    ],
  ],
  resolve: resolveGatewayArgs,
  run: async (args) => (await import('./gateway.js')).runGateway(args),
});

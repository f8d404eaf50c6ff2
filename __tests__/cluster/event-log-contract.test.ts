/**
 * The `EventLog` contract (helpers/event-log-contract.ts) against both implementations: in
 * memory, and on JetStream with a real `nats-server` (skipped without one, unless
 * `FOLLOWER_MAZE_REQUIRE_NATS=1`). Each JetStream test gets its own stream and subject.
 */
import { afterAll, beforeAll, describe } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamEventLog } from '../../lib/cluster/jetstream-event-log.js';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import { eventLogContract } from '../helpers/event-log-contract.js';
import { describeWithNats, type NatsServer, startNatsServer } from '../helpers/nats.js';

describe('MemoryEventLog: the EventLog contract', () => {
  eventLogContract(async (options) => new MemoryEventLog(options));
});

describeWithNats('JetStreamEventLog: the EventLog contract', () => {
  let server: NatsServer;
  let connection: NatsConnection;
  let streams = 0;

  beforeAll(async () => {
    server = await startNatsServer();
    connection = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await connection?.close();
    await server?.stop();
  });

  eventLogContract(async (options) => {
    streams += 1;
    const stream = `CONTRACT_${streams}`;
    const subject = `contract.${streams}`;
    if (options?.retainBatches !== undefined) {
      // Retention is the stream's (an operator's choice): made here as an operator would.
      const manager = await jetstreamManager(connection);
      await manager.streams.add({
        name: stream,
        subjects: [subject],
        max_msgs: options.retainBatches,
      });
    }
    return JetStreamEventLog.open(connection, { stream, subject, storage: 'memory' });
  });
});

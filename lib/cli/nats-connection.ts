import type { JetStreamEventLog } from '../cluster/jetstream-event-log.js';
import { ErrorCode } from '../core/errors.js';
import type { ServerProcess } from './server-process.js';

/**
 * Says when the connection to NATS goes down (a problem, `ERR_LOG_UNAVAILABLE`) and when it
 * is back (info): the client reconnects by itself, so the log only pauses, but an operator
 * must see it (and `/healthz` answers 503 meanwhile: see cluster-sources.ts).
 */
export function reportConnectionChanges(log: JetStreamEventLog, lifecycle: ServerProcess): void {
  log.watchConnection(({ connected, server }) => {
    if (connected) {
      lifecycle.logger.info(`follower-maze: connected to NATS at ${server} again`);
      return;
    }
    lifecycle.report({
      code: ErrorCode.LogUnavailable,
      message: `lost the connection to NATS at ${server}; reconnecting (the event log pauses meanwhile)`,
      context: {},
    });
  });
}

/** The first steps of every command on the event log: the monitor, NATS, and its losses. */
import { connectEventLogPatiently } from '../cluster/connect.js';
import type { JetStreamEventLog } from '../cluster/jetstream-event-log.js';
import { natsServersOf } from '../cluster/nats-auth.js';
import { ErrorCode, MazeError } from '../errors.js';
import type { StatMetric } from '../monitor/sources.js';
import { StartingSources } from '../monitor/starting-sources.js';
import { type NatsArgs, toNatsSettings } from './cluster-options.js';
import { withFlagNames } from './flag-names.js';
import type { ServerProcess } from './server-process.js';

/** A cluster process's first steps done: its monitor (still starting) and its event log. */
export interface OpenedLog {
  readonly eventLog: JetStreamEventLog;
  /** Says what the process waits for until `attach()` hands it the process's own sources. */
  readonly monitor: StartingSources;
}

/**
 * The first steps of every process on the event log: the monitoring port (when asked for),
 * answering 503 with what the process waits for; NATS, tried until it answers (unless it
 * refuses the login or the TLS handshake), each attempt reported; the log closed last at
 * shutdown; and its connection's losses, refusals and returns reported
 * (`reportConnectionChanges()`).
 */
export async function openLog(
  lifecycle: ServerProcess,
  args: NatsArgs,
  statMetrics: Readonly<Record<string, StatMetric>>,
  withClients: boolean,
): Promise<OpenedLog> {
  // Checked first: a URL with credentials in it is refused before anything shows it.
  const servers = natsServersOf(args.natsUrl);
  const monitor = new StartingSources(
    statMetrics,
    `connecting to NATS at ${servers.join(',')}`,
    withClients,
  );
  await lifecycle.startMonitor(async () => monitor);
  const eventLog = await connectEventLogPatiently(toNatsSettings(args), {
    report: (problem) => lifecycle.report(problem),
    signal: lifecycle.signal,
  }).catch((error: unknown) => {
    throw refusalReported(error, lifecycle);
  });
  lifecycle.onClose(() => eventLog.close());
  reportConnectionChanges(eventLog, lifecycle);
  return { eventLog, monitor };
}

/**
 * A refusal by NATS (`ERR_LOG_AUTH`) reported as a problem, so that its line has its code
 * like every attempt before it, and the failed start's line says only why the process
 * stops; any other error as it is.
 */
function refusalReported(error: unknown, lifecycle: ServerProcess): unknown {
  if (!(error instanceof MazeError) || error.code !== ErrorCode.LogAuth) return error;
  lifecycle.report({ code: error.code, message: withFlagNames(error.message), context: {} });
  return new MazeError(
    error.code,
    'NATS refused this process (ERR_LOG_AUTH above): not trying again',
  );
}

/**
 * Says when the connection to NATS goes down (a problem, `ERR_LOG_UNAVAILABLE`), when NATS
 * refuses the login while the client reconnects (`ERR_LOG_AUTH`), and when it is back
 * (info): the client reconnects by itself, so the log only pauses, but an operator must see
 * it (and `/healthz` answers 503 meanwhile: see cluster-sources.ts).
 */
function reportConnectionChanges(log: JetStreamEventLog, lifecycle: ServerProcess): void {
  log.watchConnection(({ connected, server, refused }) => {
    if (refused !== undefined) {
      lifecycle.report({
        code: ErrorCode.LogAuth,
        message: `NATS at ${server} refused the login while reconnecting: ${refused}; trying again (the credentials files are read at startup: restart the process after changing them)`,
        context: {},
      });
      return;
    }
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

/**
 * Connection lines of the server commands. Event sources are few and matter: info. Clients
 * can be thousands a second: debug, and not even listened to below that level.
 */
import type { ClientInfo } from '../adapter/fan-out.js';
import type { Logger } from './logger.js';

/** What announces event sources: a `Maze`, an `Ingest`. */
export interface EventSourceEvents {
  on(
    event: 'eventSourceAttached',
    listener: (source: { connection: string; remoteAddress: string | null }) => void,
  ): unknown;
  on(
    event: 'eventSourceEnded',
    listener: (source: { connection: string; lineCount: number }) => void,
  ): unknown;
}

/** What announces clients: a `Maze`, a `Gateway`. */
export interface ClientEvents {
  on(event: 'clientIdentified' | 'clientClosed', listener: (client: ClientInfo) => void): unknown;
}

export function logEventSources(server: EventSourceEvents, logger: Logger): void {
  server.on('eventSourceAttached', ({ connection, remoteAddress }) =>
    logger.info(`${connection} connected from ${remoteAddress ?? 'a stream'}`, {
      connection,
      remoteAddress: remoteAddress ?? undefined,
    }),
  );
  server.on('eventSourceEnded', ({ connection, lineCount }) =>
    logger.info(`${connection} disconnected after ${lineCount} line(s)`, { connection, lineCount }),
  );
}

export function logClients(server: ClientEvents, logger: Logger): void {
  if (!logger.enabled('debug')) return;
  server.on('clientIdentified', ({ connection, userId, remoteAddress }) =>
    logger.debug(`${connection} connected from ${remoteAddress ?? 'a stream'} as user ${userId}`, {
      connection,
      userId,
      remoteAddress: remoteAddress ?? undefined,
    }),
  );
  server.on('clientClosed', ({ connection, userId, remoteAddress }) =>
    logger.debug(`${connection} disconnected${userId === undefined ? '' : ` (user ${userId})`}`, {
      connection,
      userId,
      remoteAddress: remoteAddress ?? undefined,
    }),
  );
}

import type { OpenPort } from '../net/ports.js';

/**
 * Stops `port` accepting and closes `server` at once (a port's close resolves only once its
 * connections are gone, and the server is what closes them); resolves when both are done.
 */
export async function closePortAndServer(
  port: OpenPort,
  server: { close(): Promise<void> },
): Promise<void> {
  const portClosed = port.close();
  await server.close();
  await portClosed;
}

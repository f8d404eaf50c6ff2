import { afterEach, describe, expect, it } from '@jest/globals';
import { exitCodeOf, type SimulationResult, simulate } from '../lib/simulate/index.js';
import { type NaiveServer, startNaiveServer } from './simulate-servers.js';

let server: NaiveServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('simulate against a correct naive server', () => {
  it('passes with LF', async () => {
    server = await startNaiveServer();
    const result: SimulationResult = await simulate({
      eventListenerPort: server.eventPort,
      clientListenerPort: server.clientPort,
      totalEvents: 20_000,
      concurrencyLevel: 20,
      logInterval: 0,
    });
    console.log(result);
    expect(result.ok).toBe(true);
    expect(exitCodeOf(result)).toBe(0);
  });
});

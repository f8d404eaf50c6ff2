/**
 * The simulator must fail, precisely, against a server that misbehaves in any one way.
 * Each test runs a naive server with one injected fault (see simulate-servers.ts).
 */
import { describe, expect, it } from '@jest/globals';
import {
  type SimulateOptions,
  SimulationErrorCode,
  type SimulationFailure,
  simulate,
} from '../../lib/simulate/index.js';
import { exitCodeOf } from '../../lib/simulate/result.js';
import { type Fault, portsOf, useNaiveServers } from '../helpers/simulate-servers.js';

const startServer = useNaiveServers();

// Few users per client, so each client gets a dense stream of notifications.
const OPTIONS: SimulateOptions = {
  totalEvents: 3_000,
  concurrencyLevel: 10,
  numberOfUsers: 30,
  timeout: 1_000,
  logInterval: 0,
  linger: 200,
};

async function failureWith(
  fault: Fault,
  options: SimulateOptions = {},
): Promise<SimulationFailure> {
  const result = await simulate({ ...portsOf(await startServer(fault)), ...OPTIONS, ...options });
  if (result.ok) throw new Error(`the simulator passed a server with fault ${fault.kind}`);
  expect(exitCodeOf(result)).toBe(1);
  expect(result.failure.kind).toBe('verification');
  return result.failure;
}

const CLIENT_LINE = /^client#\d+ \(user \d+\), line \d+: /;
// The client of a `starve` fault, waiting for line `keep + 1`.
const starved = (line: number): RegExp =>
  new RegExp(`^client#\\d+ \\(user \\d+\\), waited more than \\d+ ms for line ${line}: `);

describe('simulate fails against a faulty server', () => {
  it('that drops a notification: ERR_SIM_MISSING names the missing event', async () => {
    const failure = await failureWith({ kind: 'drop', at: 500 });
    expect(failure.code).toBe(SimulationErrorCode.Missing);
    expect(failure.message).toMatch(CLIENT_LINE);
    expect(failure.message).toMatch(
      /expected event (\d+) "\1\|.*", got event \d+ ".*": event \1 is missing/,
    );
    expect(failure.context).toMatchObject({
      connection: expect.stringMatching(/^client#\d+$/),
      userId: expect.any(Number),
      lineNumber: expect.any(Number),
    });
  });

  it('that swaps two notifications: ERR_SIM_MISSING at the first of them', async () => {
    const failure = await failureWith({ kind: 'swap', at: 500 });
    expect(failure.code).toBe(SimulationErrorCode.Missing);
    expect(failure.message).toMatch(CLIENT_LINE);
  });

  it('that sends a notification twice: ERR_SIM_OUT_OF_ORDER', async () => {
    const failure = await failureWith({ kind: 'duplicate', at: 500 });
    expect(failure.code).toBe(SimulationErrorCode.OutOfOrder);
    expect(failure.message).toMatch(/got event (\d+) ".*" after event \1/);
  });

  it('that sends an extra line after the last one: caught while lingering', async () => {
    const failure = await failureWith({ kind: 'extra', at: 0 });
    expect([SimulationErrorCode.OutOfOrder, SimulationErrorCode.Unexpected]).toContain(
      failure.code,
    );
    expect(failure.message).toMatch(CLIENT_LINE);
  });

  it('that notifies the wrong user: ERR_SIM_UNEXPECTED', async () => {
    const failure = await failureWith({ kind: 'stray', at: 500 });
    expect(failure.code).toBe(SimulationErrorCode.Unexpected);
    expect(failure.message).toMatch(/which user \d+ must not receive/);
  });

  it('that changes a byte: ERR_SIM_CONTENT quotes both lines', async () => {
    const failure = await failureWith({ kind: 'corrupt', at: 500 });
    expect([SimulationErrorCode.BadLine, SimulationErrorCode.Content]).toContain(failure.code);
    expect(failure.context.got).toContain('!');
  });

  it('that rewrites a CRLF terminator as LF: ERR_SIM_CONTENT', async () => {
    const failure = await failureWith({ kind: 'terminator', at: 500 }, { eventTerminator: 'crlf' });
    expect(failure.code).toBe(SimulationErrorCode.Content);
    expect(failure.message).toMatch(
      /expected event (\d+) ".*\\r\\n", got different bytes ".*[^r]\\n"/,
    );
  });

  it('that delays a notification past the timeout: ERR_SIM_TIMEOUT', async () => {
    const started = Date.now();
    const failure = await failureWith({ kind: 'delay', at: 500, ms: 3_000 }, { timeout: 300 });
    expect(failure.code).toBe(SimulationErrorCode.Timeout);
    expect(failure.message).toMatch(
      /^client#\d+ \(user \d+\), waited more than \d+ ms for line \d+: expected event \d+/,
    );
    expect(Date.now() - started).toBeLessThan(2_900);
  });

  it('that closes a client: ERR_SIM_CLOSED', async () => {
    const failure = await failureWith({ kind: 'close', at: 500 });
    expect(failure.code).toBe(SimulationErrorCode.Closed);
    expect(failure.message).toMatch(/^the server closed client#\d+ \(user \d+\) after \d+ lines/);
  });

  it('that never registers clients: ERR_SIM_NOT_REGISTERED', async () => {
    const failure = await failureWith({ kind: 'late-register', ms: 60_000 }, { timeout: 300 });
    expect(failure.code).toBe(SimulationErrorCode.NotRegistered);
    expect(failure.message).toMatch(/received none of the \d+ warm-up broadcasts sent in 300 ms/);
  });

  it('that starves a registered client in the warm-up: ERR_SIM_TIMEOUT for it, not the client registered late', async () => {
    // The starved client gets broadcasts 1-3 only (every 20 ms, the others registered at
    // once); another is registered 300 ms late, after the last of them: the warm-up, still
    // waiting for the starved one's broadcast, must send it one all the same.
    const server = await startServer({ kind: 'starve', keep: 3, lateMs: 300 });
    const timeout = 2_000;
    const result = await simulate({ ...portsOf(server), ...OPTIONS, timeout });
    if (result.ok) throw new Error('the simulator passed a server that starves a client');
    expect(result.failure.code).toBe(SimulationErrorCode.Timeout);
    expect(result.failure.message).toMatch(starved(4));
    // Every client was registered, long before the warm-up's deadline (waiting for the
    // starved client's broadcast until then, at best one more went out at the deadline).
    expect(result.events).toBeGreaterThan(result.warmupEvents);
    expect((result.registerSeconds as number) * 1000).toBeLessThan(timeout / 2);
  });

  it('that starves a registered client and never registers another: ERR_SIM_TIMEOUT for the starved one', async () => {
    // Starved from broadcast 11 on (about 200 ms in), so its own wait ends after the
    // warm-up's: the warm-up must name it.
    const failure = await failureWith({ kind: 'starve', keep: 10, lateMs: 60_000 });
    expect(failure.code).toBe(SimulationErrorCode.Timeout);
    expect(failure.message).toMatch(starved(11));
    expect(failure.context.lineNumber).toBe(11);
  });

  it('that never reads events: ERR_SIM_NOT_REGISTERED (no warm-up broadcast arrives)', async () => {
    const failure = await failureWith({ kind: 'deaf' }, { timeout: 300 });
    expect(failure.code).toBe(SimulationErrorCode.NotRegistered);
  });

  it('that stops reading events: the clients owed them time out', async () => {
    const failure = await failureWith({ kind: 'stall', lines: 500 }, { timeout: 300 });
    expect(failure.code).toBe(SimulationErrorCode.Timeout);
  });

  it('that stops reading events nobody is notified of: ERR_SIM_EVENT_SOURCE_STALLED', async () => {
    // Unfollows notify nobody, so only the blocked event socket can tell; it takes a few
    // million events to fill the socket buffers on both sides.
    const failure = await failureWith(
      { kind: 'stall', lines: 500 },
      { eventMix: 'U:1', totalEvents: 20_000_000, timeout: 300 },
    );
    expect(failure.code).toBe(SimulationErrorCode.EventSourceStalled);
    expect(failure.message).toMatch(/^the server read no events for more than 300 ms/);
  });
});

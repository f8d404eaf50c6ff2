/**
 * The `authenticate` hook (docs/protocol.md §5): a credential on the id line decides the user;
 * sync, async, throwing and slow hooks; refresh, expiry and a credential for another user;
 * the bound on checks in flight; a credential never reported.
 */

import { describe, expect, it, jest } from '@jest/globals';
import type { Authenticate, Authentication } from '../../lib/adapter/client-auth.js';
import { createMaze } from '../../lib/adapter/maze.js';
import type { EventLog } from '../../lib/cluster/event-log.js';
import { createGateway } from '../../lib/cluster/gateway.js';
import { ErrorCode } from '../../lib/errors.js';
import {
  attachMemoryClient,
  attachMemorySource,
  sleep,
  useMemoryMazes,
  waitForClientEvent,
  waitUntil,
} from '../helpers/sockets.js';

const newMaze = useMemoryMazes();

/** `tok-<user>` stands for user `<user>`; anything else is refused as a bad signature. */
const tokens: Authenticate = (credential) => {
  const match = /^tok-(\d+)$/.exec(credential);
  return match === null ? { refused: 'signature' } : { userId: Number(match[1]) };
};

describe('client authentication', () => {
  it('identifies a client as the user its credential names (sync hook)', async () => {
    const seen: string[] = [];
    const { maze, problems } = newMaze({
      authenticate: (credential, sender) => {
        seen.push(`${credential} ${sender.connection} ${sender.userId}`);
        return tokens(credential, sender);
      },
    });
    const source = attachMemorySource(maze);
    const seven = await attachMemoryClient(maze, 'tok-7\r\n');
    const other = await attachMemoryClient(maze, 'tok-8\n');
    source.peer.write('1|P|8|7\n2|P|7|8\n');
    await seven.received.waitForLength('1|P|8|7\n'.length);
    await other.received.waitForLength('2|P|7|8\n'.length);
    expect(seven.received.text).toBe('1|P|8|7\n');
    expect(other.received.text).toBe('2|P|7|8\n');
    expect(seen).toEqual([
      `tok-7 ${seven.connection} undefined`,
      `tok-8 ${other.connection} undefined`,
    ]);
    expect(problems).toEqual([]);
    expect(maze.stats()).toMatchObject({ authAccepted: 2, authPending: 0, usersConnected: 2 });
  });

  it('waits for an async hook, holding what the client sends meanwhile', async () => {
    let answer: ((outcome: Authentication) => void) | undefined;
    let calls = 0;
    const { maze } = newMaze({
      authenticate: () => {
        calls++;
        return calls === 1 ? new Promise((resolve) => (answer = resolve)) : { userId: 5 };
      },
    });
    const source = attachMemorySource(maze);
    const client = await attachMemoryClient(maze, undefined);
    const identified = waitForClientEvent(maze, 'clientIdentified', client.connection);
    // The refresh in the same chunk waits for the first check.
    client.peer.write('tok-5\ntok-5-fresh\n');
    await waitUntil(() => answer !== undefined, 'the hook to be called');
    await sleep(10);
    expect(calls).toBe(1);
    expect(maze.stats()).toMatchObject({ authPending: 1, clientsIdentifying: 1 });
    answer?.({ userId: 5 });
    expect(await identified).toMatchObject({ userId: 5 });
    await waitUntil(() => calls === 2, 'the refresh');
    source.peer.write('1|P|1|5\n');
    await client.received.waitForLength(8);
    expect(client.received.text).toBe('1|P|1|5\n');
    expect(maze.stats()).toMatchObject({ authAccepted: 2, authPending: 0 });
  });

  it.each([
    [
      'throws',
      (() => {
        throw new Error('tok-secret in a message');
      }) as Authenticate,
    ],
    ['rejects', (() => Promise.reject(new Error('tok-secret'))) as Authenticate],
    ['answers nonsense', (() => ({ user: 1 }) as unknown as Authentication) as Authenticate],
    [
      'answers an unknown reason',
      (() => ({ refused: 'nope' }) as unknown as Authentication) as Authenticate,
    ],
    ['answers undefined', (() => undefined) as unknown as Authenticate],
    ['answers null', (() => null) as unknown as Authenticate],
    ['answers a number', (() => 7) as unknown as Authenticate],
    [
      'answers an object whose then getter throws',
      (() => ({
        // biome-ignore lint/suspicious/noThenProperty: the thenable under test
        get then() {
          throw new Error('tok-secret');
        },
      })) as unknown as Authenticate,
    ],
  ])('refuses a client when the hook %s (reason failed), and goes on', async (_, hook) => {
    const { maze, problems } = newMaze({ authenticate: hook });
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-secret\n');
    await closed;
    expect(problems).toEqual([
      {
        code: ErrorCode.ClientAuth,
        message: expect.stringContaining('(failed)'),
        context: { connection: client.connection, reason: 'failed' },
      },
    ]);
    expect(JSON.stringify(problems)).not.toContain('tok-secret');
    expect(maze.stats()).toMatchObject({ authFailed: 1, authPending: 0, clientsConnected: 0 });
  });

  it('serves a client that ends its input right after its credential (half-close)', async () => {
    const { maze, problems } = newMaze({
      authenticate: (credential) =>
        new Promise((resolve) =>
          setTimeout(() => resolve({ userId: Number(credential.slice(4)) }), 20),
        ),
    });
    const source = attachMemorySource(maze);
    const client = await attachMemoryClient(maze, undefined);
    const identified = waitForClientEvent(maze, 'clientIdentified', client.connection);
    client.peer.end('tok-9\n');
    expect(await identified).toMatchObject({ userId: 9 });
    await waitUntil(() => maze.stats().clientsHalfClosed === 1, 'the half-close');
    source.peer.write('1|P|1|9\n');
    await client.received.waitForLength(8);
    expect(client.received.text).toBe('1|P|1|9\n');
    expect(problems).toEqual([]);
  });

  it('refuses a credential cut off by the end of input, without quoting it', async () => {
    const { maze, problems } = newMaze({ authenticate: tokens });
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.end('tok-secret');
    await closed;
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientAuth,
        context: { connection: client.connection, reason: 'malformed' },
      }),
    ]);
    expect(JSON.stringify(problems)).not.toContain('tok-');
  });

  it('refuses a user id out of bounds as reason subject', async () => {
    const { maze, problems } = newMaze({ authenticate: () => ({ userId: -1 }) });
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-1\n');
    await closed;
    expect(problems[0]?.context).toEqual({ connection: client.connection, reason: 'subject' });
    expect(maze.stats()).toMatchObject({ authSubject: 1 });
  });

  it('never puts a credential in a problem or a client summary', async () => {
    const secret = 'tok-eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.c2ln';
    const { maze, problems } = newMaze({ authenticate: tokens, identifyTimeout: 200 });
    const refused = await attachMemoryClient(maze, undefined);
    let closed = waitForClientEvent(maze, 'clientClosed', refused.connection);
    refused.peer.write(`${secret}\n`);
    await closed;
    const badResume = await attachMemoryClient(maze, undefined);
    closed = waitForClientEvent(maze, 'clientClosed', badResume.connection);
    badResume.peer.write(`${secret}|x\n`);
    await closed;
    const tooLong = await attachMemoryClient(maze, undefined);
    closed = waitForClientEvent(maze, 'clientClosed', tooLong.connection);
    tooLong.peer.write(`${secret}${'a'.repeat(5000)}\n`);
    await closed;
    const pending = await attachMemoryClient(maze, undefined);
    pending.peer.write(secret);
    expect(JSON.stringify(maze.clients(0, 10))).not.toContain(secret);
    expect(problems.map((problem) => problem.code)).toEqual([
      ErrorCode.ClientAuth,
      ErrorCode.ClientBadResume,
      ErrorCode.ClientAuth,
    ]);
    expect(problems.map((problem) => problem.context.reason)).toEqual([
      'signature',
      undefined,
      'malformed',
    ]);
    expect(JSON.stringify(problems)).not.toContain('tok-');
  });

  it('closes a slow hook’s client at the identify timeout and frees its slot', async () => {
    const { maze, problems } = newMaze({
      identifyTimeout: 50,
      authenticate: () => new Promise<Authentication>(() => {}),
    });
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-1\n');
    await closed;
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.ClientIdTimeout]);
    expect(maze.stats()).toMatchObject({ authPending: 0, clientsConnected: 0 });
  });

  it('runs at most 64 checks at once for all clients together, the rest in order', async () => {
    const answers: (() => void)[] = [];
    let running = 0;
    let most = 0;
    const order: string[] = [];
    const { maze } = newMaze({
      authenticate: (credential) =>
        new Promise((resolve) => {
          order.push(credential);
          running++;
          most = Math.max(most, running);
          answers.push(() => {
            running--;
            resolve(tokens(credential, { connection: '', remoteAddress: null, userId: undefined }));
          });
        }),
    });
    const clients = [];
    for (let user = 0; user < 100; user++) {
      const client = await attachMemoryClient(maze, undefined);
      client.peer.write(`tok-${user}\n`);
      clients.push(client);
    }
    await waitUntil(() => answers.length === 64, '64 checks');
    await sleep(20);
    expect(answers).toHaveLength(64);
    expect(maze.stats()).toMatchObject({ authPending: 100 });
    while (answers.length > 0) {
      answers.shift()?.();
      await sleep(0);
    }
    await waitUntil(() => maze.stats().clientsConnected === 100, 'every client to identify');
    expect(most).toBe(64);
    expect(order).toEqual(Array.from({ length: 100 }, (_, user) => `tok-${user}`));
    expect(maze.stats()).toMatchObject({ authPending: 0, authAccepted: 100 });
  });

  it('closes a client when its credential expires (reason expired)', async () => {
    const { maze, problems } = newMaze({
      authenticate: () => ({ userId: 3, expiresAt: Date.now() + 50 }),
    });
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-3\n');
    expect(await closed).toMatchObject({ userId: 3 });
    expect(problems).toEqual([
      {
        code: ErrorCode.ClientAuth,
        message: expect.stringContaining('expired'),
        context: { connection: client.connection, userId: 3, reason: 'expired' },
      },
    ]);
    expect(maze.stats()).toMatchObject({ authExpired: 1, clientsConnected: 0 });
  });

  it('keeps a client that refreshes its credential before it expires', async () => {
    const lifetimes = new Map([
      ['tok-3-short', 100],
      ['tok-3-long', 60_000],
    ]);
    const { maze, problems } = newMaze({
      authenticate: (credential) => ({
        userId: 3,
        expiresAt: Date.now() + (lifetimes.get(credential) ?? 0),
      }),
    });
    const source = attachMemorySource(maze);
    const client = await attachMemoryClient(maze, 'tok-3-short\n');
    client.peer.write('tok-3-long\n');
    await waitUntil(() => maze.stats().authAccepted === 2, 'the refresh');
    // Past the first credential's expiry: still served.
    await sleep(200);
    source.peer.write('1|P|1|3\n');
    await client.received.waitForLength(8);
    expect(client.received.text).toBe('1|P|1|3\n');
    expect(problems).toEqual([]);
    expect(maze.stats()).toMatchObject({ clientsConnected: 1, authExpired: 0 });
  });

  it('closes a client that sends a credential for another user (reason subject)', async () => {
    const { maze, problems } = newMaze({ authenticate: tokens });
    const client = await attachMemoryClient(maze, 'tok-3\n');
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-4\n');
    expect(await closed).toMatchObject({ userId: 3 });
    expect(problems).toEqual([
      {
        code: ErrorCode.ClientAuth,
        message: expect.stringContaining('another user'),
        context: { connection: client.connection, userId: 3, reason: 'subject' },
      },
    ]);
    expect(maze.stats()).toMatchObject({ authSubject: 1 });
  });

  it('closes a client whose refresh is refused, with the hook’s reason', async () => {
    const { maze, problems } = newMaze({ authenticate: tokens });
    const client = await attachMemoryClient(maze, 'tok-3\n');
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('forged\n');
    await closed;
    expect(problems.map((problem) => problem.context.reason)).toEqual(['signature']);
  });

  it('changes nothing without a hook: the id line is the user id', async () => {
    const { maze, problems } = newMaze();
    const client = await attachMemoryClient(maze, '12\n');
    client.peer.write('tok-4\nanything\n');
    await sleep(10);
    expect(problems).toEqual([]);
    expect(maze.stats()).toMatchObject({ clientsConnected: 1, authAccepted: 0 });
  });

  it('refuses an authenticate option that is not a function', async () => {
    for (const authenticate of [null, 'jwt', {}]) {
      const options = { authenticate } as unknown as { authenticate: Authenticate };
      expect(() => createMaze(options)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidOption }),
      );
      await expect(createGateway({ ...options, log: {} as EventLog })).rejects.toMatchObject({
        code: ErrorCode.InvalidOption,
        message: expect.stringContaining('authenticate'),
      });
    }
  });

  it('refuses an expiresAt already past as expired, without identifying the client', async () => {
    const { maze, problems } = newMaze({
      authenticate: () => ({ userId: 3, expiresAt: Date.now() - 1 }),
    });
    let identified = 0;
    maze.on('clientIdentified', () => identified++);
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-3\n');
    await closed;
    expect(identified).toBe(0);
    expect(problems.map((problem) => problem.context)).toEqual([
      { connection: client.connection, reason: 'expired' },
    ]);
    expect(maze.stats()).toMatchObject({ authExpired: 1, authAccepted: 0 });
  });

  it('ignores a refresh identical to the credential in force, without calling the hook', async () => {
    // A clock that moves only when the test says: real time between two writes would count.
    const start = Date.now();
    let offset = 0;
    const now = jest.spyOn(Date, 'now').mockImplementation(() => start + offset);
    try {
      let calls = 0;
      const { maze, problems } = newMaze({
        authenticate: (credential, sender) => {
          calls++;
          return tokens(credential, sender);
        },
      });
      const source = attachMemorySource(maze);
      const client = await attachMemoryClient(maze, 'tok-3\n');
      client.peer.write('tok-3\n');
      offset += 10_000;
      await sleep(10);
      client.peer.write('tok-3\r\n');
      await sleep(10);
      source.peer.write('1|P|1|3\n');
      await client.received.waitForLength(8);
      expect(calls).toBe(1);
      expect(problems).toEqual([]);
      expect(maze.stats()).toMatchObject({ authAccepted: 1, clientsConnected: 1 });
    } finally {
      now.mockRestore();
    }
  });

  it('closes a client that repeats its credential sooner than every 10 s (too-frequent)', async () => {
    let calls = 0;
    const { maze, problems } = newMaze({
      authenticate: (credential, sender) => {
        calls++;
        return tokens(credential, sender);
      },
    });
    const client = await attachMemoryClient(maze, 'tok-3\n');
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-3\n'.repeat(1_000));
    await closed;
    expect(calls).toBe(1);
    expect(problems.map((problem) => problem.context.reason)).toEqual(['too-frequent']);
    expect(maze.stats()).toMatchObject({ authTooFrequent: 1, clientsConnected: 0 });
  });

  it('checks one different refresh per 10 s and closes a client sending another sooner', async () => {
    // A clock that moves only when the test says: real time between two writes would count.
    const start = Date.now();
    let offset = 0;
    const now = jest.spyOn(Date, 'now').mockImplementation(() => start + offset);
    try {
      const seen: string[] = [];
      const { maze, problems } = newMaze({
        authenticate: (credential) => {
          seen.push(credential);
          return { userId: 3 };
        },
      });
      const client = await attachMemoryClient(maze, 'tok-3-a\n');
      client.peer.write('tok-3-b\n');
      await waitUntil(() => seen.length === 2, 'the first refresh');
      offset = 9_999;
      const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
      client.peer.write('tok-3-c\n');
      await closed;
      expect(seen).toEqual(['tok-3-a', 'tok-3-b']);
      expect(problems).toEqual([
        {
          code: ErrorCode.ClientAuth,
          message: expect.stringContaining('(too-frequent)'),
          context: { connection: client.connection, userId: 3, reason: 'too-frequent' },
        },
      ]);
      expect(maze.stats()).toMatchObject({ authTooFrequent: 1, authAccepted: 2 });

      const patient = await attachMemoryClient(maze, 'tok-3-d\n');
      patient.peer.write('tok-3-e\n');
      await waitUntil(() => seen.length === 4, 'its first refresh');
      offset += 10_000;
      patient.peer.write('tok-3-f\n');
      await waitUntil(() => seen.length === 5, 'its second refresh, 10 s later');
      expect(maze.stats()).toMatchObject({ authTooFrequent: 1, clientsConnected: 1 });
    } finally {
      now.mockRestore();
    }
  });

  it('runs waiting id lines before waiting refreshes', async () => {
    const order: string[] = [];
    const holds: (() => void)[] = [];
    const { maze } = newMaze({
      authenticate: (credential) => {
        order.push(credential);
        const user = Number(/^\w+-(\d+)/.exec(credential)?.[1]);
        if (!credential.startsWith('hold-')) return { userId: user };
        return new Promise((resolve) => holds.push(() => resolve({ userId: user })));
      },
    });
    const refreshing = await attachMemoryClient(maze, 'tok-1\n');
    for (let user = 100; user < 164; user++) {
      const client = await attachMemoryClient(maze, undefined);
      client.peer.write(`hold-${user}\n`);
    }
    await waitUntil(() => holds.length === 64, '64 checks running');
    refreshing.peer.write('tok-1-fresh\n');
    await sleep(5);
    const newcomer = await attachMemoryClient(maze, undefined);
    newcomer.peer.write('tok-2\n');
    await waitUntil(() => maze.stats().authPending === 66, 'both to wait');
    holds.shift()?.();
    await waitUntil(() => order.length === 67, 'both to run');
    expect(order.slice(-2)).toEqual(['tok-2', 'tok-1-fresh']);
    for (const hold of holds) hold();
  });

  it('gives back the place of a waiting check whose client leaves', async () => {
    const seen: string[] = [];
    const holds: (() => void)[] = [];
    const { maze } = newMaze({
      authenticate: (credential) => {
        seen.push(credential);
        return new Promise((resolve) => holds.push(() => resolve({ userId: 1 })));
      },
    });
    for (let user = 0; user < 64; user++) {
      const client = await attachMemoryClient(maze, undefined);
      client.peer.write(`tok-${user}\n`);
    }
    await waitUntil(() => holds.length === 64, '64 checks running');
    const leaving = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', leaving.connection);
    leaving.peer.write('tok-leaving\n');
    await waitUntil(() => maze.stats().authPending === 65, 'it to wait');
    leaving.leave();
    await closed;
    expect(maze.stats()).toMatchObject({ authPending: 64 });
    for (const hold of holds.splice(0)) hold();
    await waitUntil(() => maze.stats().clientsConnected === 64, 'the others to identify');
    expect(seen).not.toContain('tok-leaving');
    expect(maze.stats()).toMatchObject({ authPending: 0 });
  });

  it('closes a client whose refresh is not answered within the identify timeout (failed)', async () => {
    const { maze, problems } = newMaze({
      identifyTimeout: 100,
      authenticate: (credential) =>
        credential === 'tok-4' ? { userId: 4 } : new Promise<Authentication>(() => {}),
    });
    const client = await attachMemoryClient(maze, 'tok-4\n');
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write('tok-4-never\n');
    await closed;
    expect(problems).toEqual([
      {
        code: ErrorCode.ClientAuth,
        message: expect.stringContaining('not checked within 100 ms'),
        context: { connection: client.connection, userId: 4, reason: 'failed' },
      },
    ]);
    expect(maze.stats()).toMatchObject({ authPending: 0, authFailed: 1 });
  });

  it('closes a client that sends more than 4 KiB while its credential is checked', async () => {
    const { maze, problems } = newMaze({
      identifyTimeout: 60_000,
      authenticate: () => new Promise<Authentication>(() => {}),
    });
    const held = await attachMemoryClient(maze, undefined);
    held.peer.write(`tok-1\n${'x'.repeat(4 * 1024)}`);
    const client = await attachMemoryClient(maze, undefined);
    const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
    client.peer.write(`tok-2\n${'x'.repeat(3 * 1024)}`);
    await sleep(10);
    expect(maze.stats()).toMatchObject({ authPending: 2, authMalformed: 0 });
    client.peer.write('y'.repeat(2 * 1024));
    await closed;
    expect(problems).toEqual([
      {
        code: ErrorCode.ClientAuth,
        message: expect.stringContaining('more than 4096 bytes while its credential was checked'),
        context: { connection: client.connection, reason: 'malformed' },
      },
    ]);
    expect(maze.stats()).toMatchObject({ authPending: 1, authMalformed: 1 });
  });
});

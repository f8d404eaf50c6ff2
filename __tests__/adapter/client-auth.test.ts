/**
 * The `authenticate` hook (docs/protocol.md §5): a credential on the id line decides the user;
 * sync, async, throwing and slow hooks; refresh, expiry and a credential for another user;
 * the bound on checks in flight; a credential never reported.
 */

import { describe, expect, it } from '@jest/globals';
import type { Authenticate, Authentication } from '../../lib/adapter/client-auth.js';
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
    client.peer.write('tok-5\ntok-5\n');
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
    expect(maze.stats()).toMatchObject({ authFailed: 1, clientsConnected: 0 });
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
    const { maze } = newMaze({
      authenticate: (credential) =>
        new Promise((resolve) => {
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
});

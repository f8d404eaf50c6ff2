/**
 * Hardening, hostile clients over real sockets (docs/protocol.md §2, 5): invalid ids, over-long id
 * lines, connect-and-close storms, clients that never identify, clients that keep sending
 * after their id, and more clients than the connection limit. Each is reported and closed
 * (or ignored) without disturbing the well-behaved clients, and a new client can always
 * still register and receive once there is room.
 */
import type { Server, Socket } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { CLIENT_LIMIT_REPORT_INTERVAL_MS } from '../../lib/adapter/client-limit.js';
import { ErrorCode } from '../../lib/errors.js';
import { MiB, retainedBytes } from '../helpers/memory.js';
import {
  connectTcp,
  pump,
  sleep,
  type TcpMaze,
  type TcpPeer,
  useTcpMazes,
  waitForClientEvent,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';
import { mulberry32, randomInt } from '../helpers/streams.js';

const IDENTIFY_TIMEOUT = 200;
const startMaze = useTcpMazes();

/** A maze with a short identify timeout, one source, and one well-behaved client of user 1. */
async function serving(options: { maxIdLineLength?: number } = {}) {
  const maze = await startMaze({ identifyTimeout: IDENTIFY_TIMEOUT, ...options });
  const good = await maze.identifiedClient('1\n');
  const source = await maze.connectSource();
  let nextSequence = 1;
  let sent = '';
  /** Broadcasts one event; user 1 must get every one of them. */
  const broadcast = (): void => {
    const line = `${nextSequence++}|B\n`;
    sent += line;
    source.socket.write(line);
  };
  /** User 1 got every broadcast, exactly; a brand-new client registers and receives. */
  const expectStillServing = async (): Promise<void> => {
    broadcast();
    await good.received.waitForLength(sent.length);
    expect(good.received.text).toBe(sent);
    const late = await maze.identifiedClient('2\n');
    const line = `${nextSequence}|P|1|2\n`;
    source.socket.write(line);
    nextSequence++;
    await late.received.waitForLength(line.length);
    expect(late.received.text).toBe(line);
    expect(good.received.text).toBe(sent);
  };
  return { maze, good, broadcast, expectStillServing, sent: () => sent };
}

/** Waits until the server has closed `peer`'s connection. */
function closedByServer(peer: TcpPeer, ms = 2_000): Promise<void> {
  return peer.received.waitForEnd(ms);
}

function problemsOf(maze: TcpMaze, connection: string) {
  return maze.problems.filter((problem) => problem.context.connection === connection);
}

describe('hostile clients over TCP', () => {
  it.each([
    ['abc\n', 'abc'],
    ['-5\n', '-5'],
    ['1e9\n', '1e9'],
    ['9007199254740992\n', '9007199254740992'],
    ['|2\n', '|2'],
    [' 7\r\n', ' 7'],
    ['7\r\r\n', '7\\x0d'],
    ['\n\r\n\u00ff\u0000\n', '\\xff\\x00'],
  ])('rejects the id %j with ERR_CLIENT_BAD_ID and closes the client', async (idLine, quoted) => {
    const { maze, broadcast, expectStillServing } = await serving();
    const hostile = await maze.connectClient();
    broadcast();
    hostile.socket.write(idLine, 'latin1');
    await closedByServer(hostile);
    broadcast();
    expect(hostile.received.text).toBe('');
    expect(problemsOf(maze, hostile.connection)).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientBadId,
        context: expect.objectContaining({ connection: hostile.connection, line: quoted }),
      }),
    ]);
    await expectStillServing();
    expect(maze.maze.stats()).toMatchObject({ clientsRejected: 1, clientsIdentifying: 0 });
  });

  it('takes the first non-empty line as the id, after any number of empty lines', async () => {
    const { maze, expectStillServing } = await serving();
    const client = await maze.connectClient();
    const identified = waitForClientEvent(maze.maze, 'clientIdentified', client.connection);
    client.socket.write('\n\r\n\n');
    await sleep(20);
    client.socket.write('\r\n0003\r\n');
    expect(await identified).toMatchObject({ connection: client.connection, userId: 3 });
    await expectStillServing();
    expect(maze.problems).toEqual([]);
  });

  it('rejects an over-long id line as soon as it passes the limit, even megabytes long', async () => {
    const { maze, expectStillServing } = await serving({ maxIdLineLength: 64 });
    const short = await maze.connectClient();
    short.socket.write('1'.repeat(65));
    await closedByServer(short);
    expect(problemsOf(maze, short.connection)).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientBadId,
        message: expect.stringMatching(/longer than 64 bytes/),
      }),
    ]);

    const huge = await maze.connectClient();
    const piece = Buffer.alloc(256 * 1024, '7');
    // The server stops reading and closes; the rest of the write may fail, which is fine.
    void pump(
      huge.socket,
      Array.from({ length: 16 }, () => piece),
      5_000,
    ).catch(() => undefined);
    await closedByServer(huge);
    expect(problemsOf(maze, huge.connection).map((problem) => problem.code)).toEqual([
      ErrorCode.ClientBadId,
    ]);
    await expectStillServing();
  });

  it('closes a client that never identifies after the identify timeout', async () => {
    const { maze, broadcast, expectStillServing } = await serving();
    const started = Date.now();
    const silent = await maze.connectClient();
    const blanks = await maze.connectClient();
    const partial = await maze.connectClient();
    blanks.socket.write('\n\r\n\n');
    partial.socket.write('12');
    broadcast();
    await Promise.all([silent, blanks, partial].map((peer) => closedByServer(peer)));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(IDENTIFY_TIMEOUT - 5);
    expect(elapsed).toBeLessThan(IDENTIFY_TIMEOUT + 1_500);
    for (const peer of [silent, blanks, partial]) {
      expect(problemsOf(maze, peer.connection)).toEqual([
        expect.objectContaining({
          code: ErrorCode.ClientIdTimeout,
          context: { connection: peer.connection },
        }),
      ]);
      expect(peer.received.text).toBe('');
    }
    await expectStillServing();
    expect(maze.maze.stats()).toMatchObject({ clientsRejected: 3, clientsIdentifying: 0 });
  });

  it('survives hundreds of connect-and-close cycles while serving', async () => {
    const { maze, broadcast, expectStillServing } = await serving();
    const rng = mulberry32(99);
    const { port } = maze.server.clientAddress;
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 40 }, async () => {
          const peer = await connectTcp(port);
          switch (randomInt(rng, 0, 4)) {
            case 0: // close at once
              peer.socket.destroy();
              break;
            case 1: // reset at once
              peer.socket.resetAndDestroy();
              break;
            case 2: // half an id, then leave
              peer.socket.end('4');
              break;
            case 3: // identify, then reset
              peer.socket.write('5\n');
              await sleep(randomInt(rng, 0, 3));
              peer.socket.resetAndDestroy();
              break;
            default: // identify, then close cleanly (writes find it gone: see below)
              peer.socket.end('6\n', () => peer.socket.destroy());
          }
          await peer.close(1_000);
        }),
      );
      broadcast();
    }
    // A client that closed after its id looks half-closed until a write to it is refused.
    const allGone = (): boolean =>
      maze.maze.stats().clientsIdentifying === 0 && maze.maze.stats().clientsConnected === 1;
    for (let round = 0; round < 100 && !allGone(); round++) {
      broadcast();
      await sleep(10);
    }
    await waitUntil(allGone, 'every cycled connection to be gone');
    // Resets may be reported as stream errors, half ids as bad ids; nothing else is wrong.
    expect(
      maze
        .codes()
        .filter((code) => code !== ErrorCode.StreamError && code !== ErrorCode.ClientBadId),
    ).toEqual([]);
    await expectStillServing();
    expect(maze.serverSockets.size).toBe(2);
  });

  it('reads and discards everything a client sends after its id, megabytes of it', async () => {
    const { maze, broadcast, expectStillServing, sent } = await serving({ maxIdLineLength: 64 });
    const chatty = await maze.identifiedClient('5\n');
    const before = retainedBytes();
    // Lines that look like ids and events, over-long lines and raw bytes: 32 MiB in all.
    const noise = Buffer.from(`7\n1|B\n${'9'.repeat(200_000)}\n\u00ff\u0000\r\n`, 'latin1');
    const pieces = Array.from({ length: Math.ceil((32 * MiB) / noise.length) }, () => noise);
    const sending = pump(chatty.socket, pieces, 20_000);
    for (let i = 0; i < 20; i++) {
      broadcast();
      await sleep(5);
    }
    // The server keeps reading: otherwise the pump would block on a full window.
    await withTimeout(sending, 20_000, 'the 32 MiB to be sent');
    expect(retainedBytes() - before).toBeLessThan(4 * MiB);
    await expectStillServing();
    // It is still user 5 and gets every broadcast, nothing else.
    expect(chatty.received.text).toBe(sent());
    expect(maze.problems).toEqual([]);
  });

  it('reports and counts a listening port that fails after binding, and keeps serving', async () => {
    const { maze, good, expectStillServing } = await serving();
    // Each accepted socket knows its server; make that server fail as on EMFILE.
    const accepted = maze.serverSockets.get(good.connection) as Socket & { server: Server };
    const failure = Object.assign(new Error('accept failed'), { code: 'EMFILE' });
    accepted.server.emit('error', failure);
    expect(maze.problems).toEqual([
      {
        code: ErrorCode.AcceptFailed,
        message: 'client port failed to accept a connection: accept failed; still listening',
        context: { connection: 'client-port' },
      },
    ]);
    expect(maze.maze.stats()).toMatchObject({ problems: 1, acceptFailures: 1 });
    expect(accepted.server.listening).toBe(true);
    await expectStillServing();
  });
});

describe('half-closed clients over TCP (docs/protocol.md §5)', () => {
  it('serves a client that ends its sending side after its id, as `printf 43 | nc` does', async () => {
    const maze = await startMaze();
    const client = await maze.connectClient();
    const identified = waitForClientEvent(maze.maze, 'clientIdentified', client.connection);
    client.socket.end('43\n');
    await identified;
    const source = await maze.connectSource();
    source.socket.write('1|B\n2|P|7|43\n3|P|7|44\n');
    await client.received.waitForLength(4 + 9);
    expect(client.received.text).toBe('1|B\n2|P|7|43\n');
    expect(maze.maze.stats()).toMatchObject({ clientsConnected: 1 });
    expect(maze.problems).toEqual([]);
  });

  it('drops a half-closed client once its socket is gone, without reporting a failure', async () => {
    const maze = await startMaze();
    const client = await maze.connectClient();
    const identified = waitForClientEvent(maze.maze, 'clientIdentified', client.connection);
    client.socket.end('43\n');
    await identified;
    const closed = waitForClientEvent(maze.maze, 'clientClosed', client.connection);
    client.socket.destroy();
    const source = await maze.connectSource();
    // Writes to the vanished peer are refused; that is how the server learns it left.
    for (let sequence = 1; sequence <= 20 && maze.maze.stats().clientsConnected > 0; sequence++) {
      source.socket.write(`${sequence}|B\n`);
      await sleep(5);
    }
    expect(await closed).toMatchObject({ connection: client.connection, userId: 43 });
    expect(maze.problems).toEqual([]);
  });
});

describe('an id line cut by the end of input', () => {
  it('is reported as ERR_CLIENT_BAD_ID, not dropped silently', async () => {
    const maze = await startMaze();
    const client = await maze.connectClient();
    client.socket.end('43');
    await closedByServer(client);
    expect(problemsOf(maze, client.connection)).toEqual([
      expect.objectContaining({
        code: ErrorCode.ClientBadId,
        message: expect.stringMatching(/in the middle of its id line '43'/),
      }),
    ]);
  });
});

describe('user id 0 (docs/protocol.md §3)', () => {
  it('is a valid client id and a valid id in every event field', async () => {
    const maze = await startMaze();
    const zero = await maze.identifiedClient('0\n');
    const one = await maze.identifiedClient('1\n');
    const source = await maze.connectSource();
    const lines = ['1|F|1|0\n', '2|P|1|0\n', '3|F|0|1\n', '4|S|0\n', '5|U|1|0\n', '6|S|0\n'];
    source.socket.write(lines.join(''));
    const toZero = '1|F|1|0\n2|P|1|0\n';
    const toOne = '3|F|0|1\n4|S|0\n';
    source.socket.write('7|B\n');
    await zero.received.waitForLength(toZero.length + 4);
    await one.received.waitForLength(toOne.length + 4);
    expect(zero.received.text).toBe(`${toZero}7|B\n`);
    expect(one.received.text).toBe(`${toOne}7|B\n`);
    expect(maze.problems).toEqual([]);
  });
});

describe('untrusted bytes in reports (log injection)', () => {
  it('escapes control bytes of a bad id in the message and the quoted line', async () => {
    const maze = await startMaze();
    const hostile = await maze.connectClient();
    const forged = 'x\u001b[2K\rproblem ERR_FAKE [event-source#1]: forged\n';
    hostile.socket.write(forged, 'latin1');
    await closedByServer(hostile);
    const [problem] = problemsOf(maze, hostile.connection);
    expect(problem?.code).toBe(ErrorCode.ClientBadId);
    const reported = `${problem?.message} ${problem?.context.line}`;
    const controls = [...reported].filter(
      (char) => char < ' ' || (char >= '\u007f' && char <= '\u009f'),
    );
    expect(controls).toEqual([]);
    expect(problem?.context.line).toBe('x\\x1b[2K\\x0dproblem ERR_FAKE [event-source#1]: forged');
  });
});

describe('the client connection limit over TCP (docs/protocol.md §5)', () => {
  it('closes clients over maxClients at once, reports them, and keeps clients and the event port served', async () => {
    const maze = await startMaze({ maxClients: 3 });
    const one = await maze.identifiedClient('1\n');
    const two = await maze.identifiedClient('2\n');
    const identifying = await maze.connectClient();
    const { port } = maze.server.clientAddress;
    const extra = await Promise.all(Array.from({ length: 5 }, () => connectTcp(port)));
    try {
      // They send an id, but the server has closed them unread.
      for (const peer of extra) peer.socket.write('9\n');
      await Promise.all(extra.map((peer) => closedByServer(peer)));
      expect(extra.map((peer) => peer.received.text)).toEqual(['', '', '', '', '']);
      expect(maze.maze.stats()).toMatchObject({
        clientsConnected: 2,
        clientsIdentifying: 1,
        clientsRefused: 5,
      });
      // The first refusal at once; the other four together, one interval later.
      expect(maze.problems[0]).toMatchObject({
        code: ErrorCode.ClientLimit,
        message: 'client connection refused: already 3 clients attached (maxClients); closed',
      });
      await waitUntil(
        () => maze.problems.length === 2,
        'the other refusals to be reported',
        CLIENT_LIMIT_REPORT_INTERVAL_MS * 3,
      );
      expect(maze.problems[1]).toMatchObject({
        code: ErrorCode.ClientLimit,
        message: '4 client connections refused: already 3 clients attached (maxClients); closed',
      });
      expect(maze.maze.stats().problems).toBe(2);

      // At the limit, the event source still connects and everyone attached gets exactly theirs.
      const source = await maze.connectSource();
      source.socket.write('1|B\n2|P|2|1\n3|P|1|2\n');
      await one.received.waitForLength('1|B\n2|P|2|1\n'.length);
      await two.received.waitForLength('1|B\n3|P|1|2\n'.length);
      expect(one.received.text).toBe('1|B\n2|P|2|1\n');
      expect(two.received.text).toBe('1|B\n3|P|1|2\n');

      // A client that leaves frees its slot for the next one.
      const gone = waitForClientEvent(maze.maze, 'clientClosed', identifying.connection);
      identifying.socket.destroy();
      await gone;
      const late = await maze.identifiedClient('3\n');
      source.socket.write('4|B\n');
      await late.received.waitForLength(4);
      expect(late.received.text).toBe('4|B\n');
      await two.received.waitForLength('1|B\n3|P|1|2\n4|B\n'.length);
      expect(two.received.text).toBe('1|B\n3|P|1|2\n4|B\n');
      expect(maze.codes()).toEqual([ErrorCode.ClientLimit, ErrorCode.ClientLimit]);
    } finally {
      await Promise.all(extra.map((peer) => peer.close(1_000)));
    }
  });
});

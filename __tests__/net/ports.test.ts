/**
 * Accept failures of a listening port (docs/protocol.md §7): a `net.Server` reports a failed
 * `accept()` as `'error'` (EMFILE only once libuv cannot drop the connection itself) and
 * goes on listening. The failure is reported as `ERR_ACCEPT` and counted; the attached event
 * source and clients stay served, and new connections are taken, at the client limit too.
 * Every wait is bounded.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, type Problem } from '../../lib/errors.js';
import { bind, reportAcceptFailures } from '../../lib/net/ports.js';
import { useTcpMazes, useTcpPeers, waitUntil, withTimeout } from '../helpers/sockets.js';

const peers = useTcpPeers();
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  await withTimeout(
    Promise.all(closers.splice(0).map((close) => close())),
    10_000,
    'the servers to close',
  );
});

/** An `'error'` as Node emits it for a failed `accept()`. */
function acceptError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`accept ${code}`), { code, errno: -24, syscall: 'accept' });
}

describe('reportAcceptFailures', () => {
  it('reports each failure as ERR_ACCEPT and the server keeps accepting', async () => {
    const problems: Problem[] = [];
    const accepted: string[] = [];
    const server: Server = createServer((socket) => {
      accepted.push('socket');
      socket.end();
    });
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    const address = await bind(server, '127.0.0.1', 0, 'client');
    reportAcceptFailures(
      server,
      { closed: false, report: (problem) => problems.push(problem) },
      'client',
    );
    server.emit('error', acceptError('EMFILE'));
    server.emit('error', acceptError('ENFILE'));
    expect(problems).toEqual([
      {
        code: ErrorCode.AcceptFailed,
        message: 'client port failed to accept a connection: accept EMFILE; still listening',
        context: { connection: 'client-port' },
      },
      {
        code: ErrorCode.AcceptFailed,
        message: 'client port failed to accept a connection: accept ENFILE; still listening',
        context: { connection: 'client-port' },
      },
    ]);
    expect(server.listening).toBe(true);
    await peers.connect(address.port);
    expect(accepted).toEqual(['socket']);
  });
});

describe('listen() on an accept failure', () => {
  const startMaze = useTcpMazes();

  it('counts ERR_ACCEPT of either port, keeps the event source, and takes new connections', async () => {
    const maze = await startMaze();
    // listen() hands each accepted event source to attachEventSource(); keep its socket, which
    // knows the event port's server.
    const sources: Socket[] = [];
    const attachEventSource = maze.maze.attachEventSource.bind(maze.maze);
    maze.maze.attachEventSource = (stream) => {
      sources.push(stream as Socket);
      return attachEventSource(stream);
    };
    const reader = await maze.identifiedClient('1\n');
    const source = await maze.connectSource();
    source.socket.write('1|B\n');
    await reader.received.waitForLength('1|B\n'.length);

    const servers = [
      (sources[0] as Socket & { server: Server }).server,
      (maze.serverSockets.get(reader.connection) as Socket & { server: Server }).server,
    ];
    for (const server of servers) server.emit('error', acceptError('EMFILE'));
    expect(maze.problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.AcceptFailed,
        context: { connection: 'event-port' },
      }),
      expect.objectContaining({
        code: ErrorCode.AcceptFailed,
        context: { connection: 'client-port' },
      }),
    ]);
    expect(maze.maze.stats()).toMatchObject({
      acceptFailures: 2,
      problems: 2,
      eventSourceConnected: true,
    });
    expect(servers.map((server) => server.listening)).toEqual([true, true]);

    // Other problems reported in front of the maze are not accept failures.
    maze.maze.report({ code: ErrorCode.MonitorFailed, message: 'x', context: {} });
    expect(maze.maze.stats()).toMatchObject({ acceptFailures: 2, problems: 3 });

    // The same source goes on, and a new client is taken and served by it.
    const newcomer = await maze.identifiedClient('2\n');
    source.socket.write('2|B\n');
    await newcomer.received.waitForLength('2|B\n'.length);
    await reader.received.waitForLength('1|B\n2|B\n'.length);
    expect(newcomer.received.text).toBe('2|B\n');
    expect(maze.maze.stats()).toMatchObject({ eventSourcesAccepted: 1, clientsConnected: 2 });
  });

  it('at the client limit, keeps the event source through accept failures, refusals and evictions', async () => {
    const maze = await startMaze({ maxClients: 2 });
    const one = await maze.identifiedClient('1\n');
    const two = await maze.identifiedClient('2\n');
    const source = await maze.connectSource();
    const clientPort = (maze.serverSockets.get(one.connection) as Socket & { server: Server })
      .server;
    for (let failure = 0; failure < 3; failure++) clientPort.emit('error', acceptError('EMFILE'));
    const refused = await peers.connect(maze.server.clientAddress.port);
    await refused.received.waitForEnd();
    source.socket.write('1|B\n');
    await Promise.all([one.received.waitForLength(4), two.received.waitForLength(4)]);
    expect(maze.maze.stats()).toMatchObject({
      acceptFailures: 3,
      clientsRefused: 1,
      eventSourceConnected: true,
      eventSourcesAccepted: 1,
    });

    // A half-closed client gives way; the same source serves the newcomer.
    two.socket.end();
    await waitUntil(() => maze.maze.stats().clientsHalfClosed === 1, 'the half-close');
    const newcomer = await maze.identifiedClient('3\n');
    await two.received.waitForEnd();
    source.socket.write('2|B\n');
    await Promise.all([one.received.waitForLength(8), newcomer.received.waitForLength(4)]);
    expect([one.received.text, two.received.text, newcomer.received.text]).toEqual([
      '1|B\n2|B\n',
      '1|B\n',
      '2|B\n',
    ]);
    expect(maze.maze.stats()).toMatchObject({
      clientsEvicted: 1,
      eventSourceConnected: true,
      eventSourcesAccepted: 1,
    });
    expect(maze.codes()).toEqual([
      ErrorCode.AcceptFailed,
      ErrorCode.AcceptFailed,
      ErrorCode.AcceptFailed,
      ErrorCode.ClientLimit,
      ErrorCode.ClientEvicted,
    ]);
  });
});

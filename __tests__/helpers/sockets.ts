/**
 * Socket and in-memory stream helpers for the adapter, TCP and CLI tests.
 *
 * `runOps()` drives a `Maze` over in-memory streams with the same `ModelOp` list the
 * reference model takes: consecutive lines are written as one block (cut into chunks by a
 * `Chunker`), and before a client connects or disconnects it waits until the maze has pushed
 * every non-empty line written so far, so the model's ordering holds.
 *
 * `TcpMaze` runs a real `listen()` server on 127.0.0.1 for the hardening tests: it records
 * problems, keeps the server's end of each client socket, and closes everything it opened.
 *
 * Every wait here is bounded: it rejects with a message naming what it waited for, so a
 * hanging test fails fast and says why. Everything a helper opens, its `close()` closes.
 */
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { type Duplex, duplexPair, type Readable, type Writable } from 'node:stream';
import { afterEach, expect } from '@jest/globals';
import { type ClientInfo, createMaze, type Maze } from '../../lib/adapter/maze.js';
import type { MazeOptions } from '../../lib/adapter/options.js';
import type { Problem } from '../../lib/errors.js';
import { type ListenOptions, listen, type MazeServer } from '../../lib/net/listen.js';
import { firstDeliveryMismatch } from './compare.js';
import type { ModelOp } from './model.js';
import { type Rng, randomInt } from './streams.js';

/** Default bound for a single wait in tests. */
export const WAIT_MS = 5_000;

/** Rejects if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `condition` every few ms until it holds; rejects after `ms`. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  ms: number = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Splits received text into lines, each with its terminator (an unterminated tail is kept). */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** Collects everything a readable stream delivers, as latin1 text (byte-for-byte). */
export class Collector {
  text = '';
  /** `'data'` events seen: with an in-memory pair, one per write of the other side. */
  chunks = 0;
  /** Settles when the stream ends or closes. */
  readonly done: Promise<void>;
  #error: Error | undefined;

  constructor(readonly stream: Duplex) {
    stream.on('data', (chunk: Buffer) => {
      this.chunks++;
      this.text += chunk.toString('latin1');
    });
    stream.on('error', (error) => {
      this.#error = error;
    });
    this.done = new Promise((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
    });
  }

  get error(): Error | undefined {
    return this.#error;
  }

  get lines(): string[] {
    return splitLines(this.text);
  }

  /** Waits until at least `length` characters arrived. */
  waitForLength(length: number, ms: number = WAIT_MS): Promise<void> {
    return waitUntil(() => this.text.length >= length, `${length} bytes`, ms);
  }

  /** Waits for the end of the stream. */
  waitForEnd(ms: number = WAIT_MS): Promise<void> {
    return withTimeout(this.done, ms, 'the stream to end');
  }
}

/** What takes user clients: a `Maze`, or the cluster's `Gateway`. */
export interface ClientTaker {
  attachClient(stream: Duplex): string;
  on(event: 'clientIdentified' | 'clientClosed', listener: (info: ClientInfo) => void): unknown;
  off(event: 'clientIdentified' | 'clientClosed', listener: (info: ClientInfo) => void): unknown;
}

/** Waits for the maze to emit `event` for the connection named `connection`. */
export function waitForClientEvent(
  maze: ClientTaker,
  event: 'clientIdentified' | 'clientClosed',
  connection: string,
  ms: number = WAIT_MS,
): Promise<ClientInfo> {
  return withTimeout(
    new Promise<ClientInfo>((resolve) => {
      const listener = (info: ClientInfo): void => {
        if (info.connection !== connection) return;
        maze.off(event, listener);
        resolve(info);
      };
      maze.on(event, listener);
    }),
    ms,
    `${event} of ${connection}`,
  );
}

/** One in-memory client: the maze holds one end of a `duplexPair()`, the test the other. */
export interface MemoryClient {
  /** The maze's name for it (`client#N`). */
  readonly connection: string;
  /** The test's end. */
  readonly peer: Duplex;
  readonly received: Collector;
  /**
   * Leaves as a socket that closes: both ends are destroyed (ending the peer is only a
   * half-close, which keeps an identified client served; a pair does not pass a destroy on).
   */
  leave(): void;
}

/** Attaches an in-memory client and, unless `idLine` is `undefined`, sends it and waits for it to identify. */
export async function attachMemoryClient(
  maze: ClientTaker,
  idLine: string | undefined,
  options: { read?: boolean } = {},
): Promise<MemoryClient> {
  const [ours, peer] = duplexPair();
  const connection = maze.attachClient(ours);
  // A collector reads; a peer that must not read (a slow client) gets a paused collector.
  const received = new Collector(peer);
  if (options.read === false) peer.pause();
  if (idLine !== undefined) {
    const identified = waitForClientEvent(maze, 'clientIdentified', connection);
    peer.write(idLine);
    await identified;
  }
  const leave = (): void => {
    ours.destroy();
    peer.destroy();
  };
  return { connection, peer, received, leave };
}

/** Clients of users `1..users`, attached and identified one after the other. */
export async function attachUsers(taker: ClientTaker, users: number): Promise<MemoryClient[]> {
  const clients: MemoryClient[] = [];
  for (let user = 1; user <= users; user++) {
    clients.push(await attachMemoryClient(taker, `${user}\n`));
  }
  return clients;
}

/**
 * Expects each served client (a socket or an in-memory client) to receive exactly what the
 * reference client of the same index received, waiting up to `ms` for each to catch up.
 * Returns how many notifications the reference clients got in all.
 */
export async function expectSameDeliveries(
  served: readonly { readonly received: Collector }[],
  reference: readonly { readonly received: Collector }[],
  ms: number = WAIT_MS,
): Promise<number> {
  let notifications = 0;
  for (const [index, want] of reference.entries()) {
    const got = served[index];
    if (got === undefined) throw new Error(`no served client for user ${index + 1}`);
    await waitUntil(
      () => got.received.text.length >= want.received.text.length,
      `user ${index + 1}'s notifications`,
      ms,
    );
    expect(got.received.text).toBe(want.received.text);
    notifications += want.received.lines.length;
  }
  return notifications;
}

/** An in-memory event source: the test writes to `peer`. */
export interface MemorySource {
  readonly connection: string;
  readonly peer: Duplex;
  /** Ends the source and waits until the maze has released it. */
  end(ms?: number): Promise<void>;
}

/** What takes an event source: a `Maze`, or the cluster's `Ingest`. */
export interface EventSourceTaker {
  attachEventSource(stream: Readable): string;
  on(event: 'eventSourceEnded', listener: (source: { connection: string }) => void): unknown;
  off(event: 'eventSourceEnded', listener: (source: { connection: string }) => void): unknown;
}

/**
 * The peers of memory sources still open. A maze or an ingest reads its source to its end
 * when it closes (for at most its shutdown timeout): `endMemorySources()` ends them first.
 */
const openSourcePeers = new Set<Duplex>();

/** Ends every memory source still open, as a source does before its server shuts down. */
export function endMemorySources(): void {
  for (const peer of openSourcePeers) if (!peer.destroyed) peer.end();
  openSourcePeers.clear();
}

export function attachMemorySource(maze: EventSourceTaker): MemorySource {
  const [ours, peer] = duplexPair();
  const connection = maze.attachEventSource(ours);
  peer.resume();
  openSourcePeers.add(peer);
  peer.once('close', () => openSourcePeers.delete(peer));
  const ended = new Promise<void>((resolve) => {
    const listener = (source: { connection: string }): void => {
      if (source.connection !== connection) return;
      maze.off('eventSourceEnded', listener);
      resolve();
    };
    maze.on('eventSourceEnded', listener);
  });
  return {
    connection,
    peer,
    end: async (ms = WAIT_MS) => {
      peer.end();
      await withTimeout(ended, ms, `${connection} to end`);
    },
  };
}

/** A TCP client of the test: connected, collecting everything it receives. */
export interface TcpPeer {
  readonly socket: Socket;
  readonly received: Collector;
  /** Ends the socket and waits until it is closed; destroys it after `ms`. Never rejects. */
  close(ms?: number): Promise<void>;
}

/** Connects to `127.0.0.1:port`, bounded by `ms`. */
export async function connectTcp(port: number, ms: number = WAIT_MS): Promise<TcpPeer> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  const received = new Collector(socket);
  await withTimeout(once(socket, 'connect'), ms, `a connection to port ${port}`);
  return {
    socket,
    received,
    close: async (closeMs = WAIT_MS) => {
      if (socket.destroyed) return;
      socket.end();
      // Read on (a paused peer never sees the end), then destroy whatever did not close in time.
      socket.resume();
      await withTimeout(received.done, closeMs, 'the socket to close').catch(() => undefined);
      socket.destroy();
    },
  };
}

/** The TCP peers of a test file, each closed after its test at the latest. */
export interface TcpPeers {
  /** Connects to `127.0.0.1:port` (`connectTcp()`) and keeps the peer to close it. */
  connect(port: number): Promise<TcpPeer>;
  /** Closes every peer connected so far, each bounded by 1 s. */
  closeAll(): Promise<void>;
}

/** Registers an `afterEach` that closes every peer connected through the returned `connect()`. */
export function useTcpPeers(): TcpPeers {
  const peers: TcpPeer[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(peers.splice(0).map((peer) => peer.close(1_000)));
  };
  afterEach(closeAll);
  return {
    connect: async (port) => {
      const peer = await connectTcp(port);
      peers.push(peer);
      return peer;
    },
    closeAll,
  };
}

/** A port on 127.0.0.1 nobody listens on (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Writes `text` and waits until it has been handed to the OS (or the peer), bounded. */
export async function writeAll(stream: Duplex, text: string, ms: number = WAIT_MS): Promise<void> {
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      stream.write(text, 'latin1', (error) => (error ? reject(error) : resolve()));
    }),
    ms,
    `a write of ${text.length} bytes`,
  );
}

/** Cuts a block of text into the chunks the event source receives. */
export type Chunker = (text: string) => string[];

export const wholeBlock: Chunker = (text) => [text];

/** Cuts text into chunks of 1..maxChunk characters chosen by `rng`. */
export function randomChunker(rng: Rng, maxChunk: number): Chunker {
  return (text) => {
    const chunks: string[] = [];
    for (let at = 0; at < text.length; ) {
      const size = randomInt(rng, 1, maxChunk);
      chunks.push(text.slice(at, at + size));
      at += size;
    }
    return chunks;
  };
}

function isBlank(line: string): boolean {
  return line === '\n' || line === '\r\n';
}

export interface HarnessRun {
  /** Everything each model connection received, as text. */
  readonly received: Map<number, string>;
  readonly clients: Map<number, MemoryClient>;
  readonly source: MemorySource;
}

/** Runs `ops` against `maze`, ends the source, closes the maze and returns what arrived. */
export async function runOps(
  maze: Maze,
  ops: readonly ModelOp[],
  chunker: Chunker = wholeBlock,
): Promise<HarnessRun> {
  const source = attachMemorySource(maze);
  const clients = new Map<number, MemoryClient>();
  let block = '';
  let linesWritten = maze.stats().eventsReceived;

  const flushBlock = async (): Promise<void> => {
    if (block.length === 0) return;
    for (const chunk of chunker(block)) source.peer.write(chunk, 'latin1');
    block = '';
    const target = linesWritten;
    await waitUntil(
      () => maze.stats().eventsReceived >= target,
      `${target} event lines to be pushed`,
      WAIT_MS * 4,
    );
  };

  for (const op of ops) {
    if (op.kind === 'line') {
      block += op.line;
      if (!isBlank(op.line)) linesWritten++;
      continue;
    }
    await flushBlock();
    if (op.kind === 'connect') {
      clients.set(op.connection, await attachMemoryClient(maze, `${op.user}\n`));
    } else {
      const client = clients.get(op.connection);
      if (client === undefined) throw new Error(`unknown connection ${op.connection}`);
      const closed = waitForClientEvent(maze, 'clientClosed', client.connection);
      client.leave();
      await closed;
    }
  }
  await flushBlock();
  await source.end();
  await maze.close();
  const received = new Map<number, string>();
  for (const [connection, client] of clients) {
    await client.received.waitForEnd();
    received.set(connection, client.received.text);
  }
  return { received, clients, source };
}

/** The model's expectations as text per connection. */
export function expectedText(expected: Map<number, string[]>): Map<number, string> {
  const text = new Map<number, string>();
  for (const [connection, lines] of expected) text.set(connection, lines.join(''));
  return text;
}

/**
 * Writes `chunks` in order, waiting for `'drain'` whenever the stream asks to; bounded by
 * `ms`. Rejects at once if the stream closes first.
 */
export async function pump(
  stream: Writable,
  chunks: Iterable<string | Uint8Array>,
  ms: number = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (const chunk of chunks) {
    if (stream.destroyed) throw new Error('the stream closed while pumping into it');
    if (stream.write(chunk, 'latin1')) continue;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${ms} ms pumping into a stream`);
    await withTimeout(drainOrClose(stream), left, 'the stream to drain');
  }
}

// Resolves on 'drain', rejects on 'close' or 'error'; removes its listeners either way.
function drainOrClose(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (error?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', settle);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onDrain = (): void => settle();
    const onClose = (): void => settle(new Error('the stream closed while pumping into it'));
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', settle);
  });
}

/**
 * Writes `text` (latin1) in random pieces of 1..maxPiece bytes, sometimes yielding to the
 * event loop in between so the peer reads them apart. Stops early if the socket is destroyed;
 * ignores backpressure, so keep `text` small.
 */
export async function writeInPieces(
  socket: Socket,
  text: string,
  rng: Rng,
  maxPiece: number,
): Promise<void> {
  for (let at = 0; at < text.length && !socket.destroyed; ) {
    const size = randomInt(rng, 1, maxPiece);
    socket.write(text.slice(at, at + size), 'latin1');
    at += size;
    if (rng() < 0.2) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A client of a `TcpMaze`: the test's socket and the maze's name for the connection. */
export interface TcpClient extends TcpPeer {
  /** `client#N`. */
  readonly connection: string;
}

/**
 * A `listen()` server on 127.0.0.1 (free ports) for hardening tests: it records every
 * problem, keeps the server's end of each client connection (to look at its write queue),
 * and `close()` closes every peer it opened and then the server, all bounded.
 */
export class TcpMaze {
  readonly problems: Problem[] = [];
  /** The maze's end of each open client connection, by connection name. */
  readonly serverSockets = new Map<string, Socket>();
  readonly #peers = new Set<TcpPeer>();

  private constructor(readonly server: MazeServer) {
    const maze = server.maze;
    maze.on('problem', (problem) => this.problems.push(problem));
    // listen() hands each accepted socket to attachClient(); keep it to inspect its queue.
    const attachClient = maze.attachClient.bind(maze);
    maze.attachClient = (stream) => {
      const connection = attachClient(stream);
      this.serverSockets.set(connection, stream as Socket);
      // Forget closed ones, so a reused ephemeral port never matches a stale socket.
      stream.once('close', () => this.serverSockets.delete(connection));
      return connection;
    };
  }

  static async start(options: ListenOptions = {}): Promise<TcpMaze> {
    return new TcpMaze(
      await listen({ ...options, host: '127.0.0.1', eventPort: 0, clientPort: 0 }),
    );
  }

  get maze(): Maze {
    return this.server.maze;
  }

  /** The codes of the problems reported so far, in order. */
  codes(): string[] {
    return this.problems.map((problem) => problem.code);
  }

  /** Connects an event source. */
  async connectSource(): Promise<TcpPeer> {
    return this.#track(await connectTcp(this.server.eventAddress.port));
  }

  /** Connects a client without identifying; resolves once the maze has attached it. */
  async connectClient(): Promise<TcpClient> {
    const peer = this.#track(await connectTcp(this.server.clientAddress.port));
    const localPort = peer.socket.localPort;
    let connection: string | undefined;
    await waitUntil(() => {
      for (const [name, socket] of this.serverSockets) {
        if (socket.remotePort === localPort) connection = name;
      }
      return connection !== undefined;
    }, `the maze to attach the client from port ${localPort}`);
    return { ...peer, connection: connection as string };
  }

  /** Connects a client, sends `idLine` (e.g. `"7\n"`) and waits until it is identified. */
  async identifiedClient(idLine: string): Promise<TcpClient> {
    const client = await this.connectClient();
    const identified = waitForClientEvent(this.maze, 'clientIdentified', client.connection);
    client.socket.write(idLine, 'latin1');
    await identified;
    return client;
  }

  /** Waits until no event source is attached, so the next one is accepted (docs/protocol.md §7). */
  sourceReleased(ms: number = WAIT_MS): Promise<void> {
    return waitUntil(
      () => !this.maze.stats().eventSourceConnected,
      'the event source to be released',
      ms,
    );
  }

  /** Closes every peer (bounded), then the server. */
  async close(): Promise<void> {
    await Promise.all([...this.#peers].map((peer) => peer.close(1_000)));
    this.#peers.clear();
    await withTimeout(this.server.close(), 10_000, 'the server to close');
  }

  #track(peer: TcpPeer): TcpPeer {
    this.#peers.add(peer);
    return peer;
  }
}

/**
 * Waits until every client has received as many bytes as the model expects (each wait
 * bounded by `ms`), then compares line by line. Returns `undefined` when every client got
 * exactly its expected lines, else a one-line description of the first difference.
 */
export async function deliveryMismatch(
  clients: ReadonlyMap<number, TcpPeer>,
  expected: ReadonlyMap<number, readonly string[]>,
  ms: number = WAIT_MS,
): Promise<string | undefined> {
  const deadline = Date.now() + ms;
  const actual = new Map<number, string[]>();
  for (const [connection, client] of clients) {
    const want = (expected.get(connection) ?? []).join('').length;
    await client.received
      .waitForLength(want, Math.max(1, deadline - Date.now()))
      .catch(() => undefined);
    actual.set(connection, client.received.lines);
  }
  return firstDeliveryMismatch(actual, expected);
}

/** A maze on in-memory streams with every problem it reports collected. */
export interface MemoryMaze {
  readonly maze: Maze;
  readonly problems: Problem[];
}

/**
 * Registers an `afterEach` that closes every maze made in the test, and returns the maker:
 * a new maze (with `options`) whose reported problems are collected in order.
 */
export function useMemoryMazes(): (options?: MazeOptions) => MemoryMaze {
  let made: Maze[] = [];
  afterEach(async () => {
    const closing = made;
    made = [];
    endMemorySources();
    await Promise.all(closing.map((maze) => maze.close()));
  });
  return (options = {}) => {
    const maze = createMaze(options);
    const problems: Problem[] = [];
    maze.on('problem', (problem) => problems.push(problem));
    made.push(maze);
    return { maze, problems };
  };
}

/**
 * Registers an `afterEach` that closes every `TcpMaze` started through the returned
 * function. Call it once at the top of a test file.
 */
export function useTcpMazes(): (options?: ListenOptions) => Promise<TcpMaze> {
  let started: TcpMaze[] = [];
  afterEach(async () => {
    const closing = started;
    started = [];
    await Promise.all(closing.map((maze) => maze.close()));
  });
  return async (options = {}) => {
    const maze = await TcpMaze.start(options);
    started.push(maze);
    return maze;
  };
}

/**
 * Connects and identifies one client per entry of `users`, one after the other, as model
 * connections 1, 2, …; returns them with the matching `connect` ops for the model.
 */
export async function identifyUsers(
  maze: TcpMaze,
  users: readonly number[],
): Promise<{ clients: Map<number, TcpClient>; ops: ModelOp[] }> {
  const clients = new Map<number, TcpClient>();
  const ops: ModelOp[] = [];
  for (const [index, user] of users.entries()) {
    const connection = index + 1;
    clients.set(connection, await maze.identifiedClient(`${user}\n`));
    ops.push({ kind: 'connect', connection, user });
  }
  return { clients, ops };
}

/** `ModelOp`s for a list of event lines. */
export function lineOps(lines: readonly string[]): ModelOp[] {
  return lines.map((line) => ({ kind: 'line', line }));
}

/**
 * Socket and in-memory stream helpers for the adapter, TCP and CLI tests.
 *
 * `runOps()` drives a `Maze` over in-memory streams with the same `ModelOp` list the
 * reference model takes: consecutive lines are written as one block (cut into chunks by a
 * `Chunker`), and before a client connects or disconnects it waits until the maze has pushed
 * every non-empty line written so far, so the model's ordering holds.
 *
 * Every wait here is bounded: it rejects with a message naming what it waited for, so a
 * hanging test fails fast and says why. Everything a helper opens, its `close()` closes.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { type Duplex, duplexPair } from 'node:stream';
import type { ClientInfo, Maze } from '../../lib/adapter/maze.js';
import type { ModelOp } from './model.js';

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

/** Waits for the maze to emit `event` for the connection named `connection`. */
export function waitForClientEvent(
  maze: Maze,
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
}

/** Attaches an in-memory client and, unless `idLine` is `undefined`, sends it and waits for it to identify. */
export async function attachMemoryClient(
  maze: Maze,
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
  return { connection, peer, received };
}

/** An in-memory event source: the test writes to `peer`. */
export interface MemorySource {
  readonly connection: string;
  readonly peer: Duplex;
  /** Ends the source and waits until the maze has released it. */
  end(ms?: number): Promise<void>;
}

export function attachMemorySource(maze: Maze): MemorySource {
  const [ours, peer] = duplexPair();
  const connection = maze.attachEventSource(ours);
  peer.resume();
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
export function randomChunker(rng: () => number, maxChunk: number): Chunker {
  return (text) => {
    const chunks: string[] = [];
    for (let at = 0; at < text.length; ) {
      const size = 1 + Math.floor(rng() * maxChunk);
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
      client.peer.end();
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

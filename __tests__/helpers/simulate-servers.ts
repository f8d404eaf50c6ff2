/**
 * Tiny Follower Maze servers for the simulator's tests: a naive, correct one, and the same
 * with one injected fault, to prove the simulator notices each kind of misbehaviour. It
 * sends its epoch line (`!EPOCH|EPOCH|LAST`) to a client that identifies as `USERID|-` or
 * `USERID|LASTSEQ|EPOCH`, and resumes the latter from a log of every notification each
 * identified user was owed.
 * Test code only: it buffers whole lines as strings and keeps everything in memory.
 * Beside them, a stand-in for a cluster (`startTestCluster`): one event port, several
 * client ports, each served by its own maze.
 *
 * Every listener binds 127.0.0.1 on port 0; `close()` destroys every socket it accepted.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { PassThrough } from 'node:stream';
import { createMaze, type Maze } from '../../lib/adapter/maze.js';
import { useClosing } from './closing.js';

export { unusedPort } from './sockets.js';

/** One misbehaviour, applied to the `at`-th notification the server sends (0-based, over all clients). */
export type Fault =
  /** The notification is never sent. */
  | { readonly kind: 'drop'; readonly at: number }
  /** The notification is sent after the next one to the same client. */
  | { readonly kind: 'swap'; readonly at: number }
  /** The notification is sent twice in a row. */
  | { readonly kind: 'duplicate'; readonly at: number }
  /** From the `at`-th on, a private message or follow is also sent to another client, once. */
  | { readonly kind: 'stray'; readonly at: number }
  /** One byte of the notification is changed. */
  | { readonly kind: 'corrupt'; readonly at: number }
  /** The notification's terminator is replaced by a bare LF (CRLF streams). */
  | { readonly kind: 'terminator'; readonly at: number }
  /** The notification and everything after it to that client wait `ms` ms. */
  | { readonly kind: 'delay'; readonly at: number; readonly ms: number }
  /** The client is disconnected instead of getting the notification. */
  | { readonly kind: 'close'; readonly at: number }
  /** Once the client of the `at`-th notification has had nothing new for 30 ms, its last line is sent again. */
  | { readonly kind: 'extra'; readonly at: number }
  /** Clients are registered only after `ms` ms. */
  | { readonly kind: 'late-register'; readonly ms: number }
  /**
   * A slow server: every line is written `ms` ms late, and the first client to identify is
   * registered only `lateMs` ms after it did (the others at once).
   */
  | { readonly kind: 'slow'; readonly ms: number; readonly lateMs: number }
  /**
   * A client starved in the warm-up: the first client to identify is sent only its first
   * `keep` lines, and the second is registered only `lateMs` ms after it identified.
   */
  | { readonly kind: 'starve'; readonly keep: number; readonly lateMs: number }
  /** The event source is never read. */
  | { readonly kind: 'deaf' }
  /** The event source is no longer read after `lines` event lines. */
  | { readonly kind: 'stall'; readonly lines: number }
  /**
   * Every resume is refused: `trimmed`, from the next event on; `ahead`, from LASTSEQ - 1
   * on, the lines up to LASTSEQ sent again.
   */
  | { readonly kind: 'gap'; readonly reason: 'trimmed' | 'ahead' }
  /** Every resume starts at LASTSEQ instead of after it (an off-by-one). */
  | { readonly kind: 'resend-last' }
  /**
   * Resumed connections get no epoch line (`missing`), or each resume-aware connection is
   * given another epoch, as if the stream restarted (`changing`), or a resumed connection's
   * epoch line names LASTSEQ - 1 with no gap line after it (`last`).
   */
  | { readonly kind: 'epoch'; readonly fault: 'missing' | 'changing' | 'last' };

export interface NaiveServer {
  readonly eventPort: number;
  readonly clientPort: number;
  /** Notifications sent so far. */
  readonly notifications: () => number;
  /** The addresses client connections came from. */
  readonly clientSources: () => ReadonlySet<string>;
  /** When it applied each broadcast, in ms (`performance.now()`). */
  readonly broadcastTimes: () => readonly number[];
  close(): Promise<void>;
}

interface Client {
  readonly socket: Socket;
  // Lines it is still sent (`starve`); Infinity for every other client.
  keep: number;
  held: string | undefined;
  delayedUntil: number;
  backlog: string[];
}

const LF = '\n';
/** The naive server's epoch (docs/protocol.md §12). */
const EPOCH = '4711';

/** Starts a correct naive server, or one with `fault`. */
export async function startNaiveServer(fault?: Fault): Promise<NaiveServer> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const clients = new Map<number, Client>();
  const followers = new Map<number, Set<number>>();
  const pending = new Map<number, string>();
  // Per identified user, the notifications it was owed, connected or not: [sequence, line].
  const owed = new Map<number, [number, string][]>();
  let next = 1;
  let sent = 0;
  let strayDone = false;
  let epochs = 0;
  let identified = 0;
  const broadcastTimes: number[] = [];

  const later = (ms: number, run: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
    return timer;
  };

  const write = (client: Client, line: string): void => {
    // Every line the same time late: they stay in order.
    if (client.keep-- <= 0) return;
    if (fault?.kind === 'slow') later(fault.ms, () => client.socket.write(line, 'latin1'));
    else if (client.delayedUntil > 0) client.backlog.push(line);
    else client.socket.write(line, 'latin1');
  };

  let extraClient: Client | undefined;
  let extraTimer: NodeJS.Timeout | undefined;
  const notify = (user: number, line: string, type: string): void => {
    owed.get(user)?.push([next - 1, line]);
    const client = clients.get(user);
    if (client === undefined) return;
    const index = sent++;
    if (client.held !== undefined) {
      write(client, line);
      write(client, client.held);
      client.held = undefined;
      return;
    }
    if (fault === undefined || !('at' in fault) || index < fault.at) {
      write(client, line);
      return;
    }
    switch (fault.kind) {
      case 'drop':
        if (index !== fault.at) write(client, line);
        return;
      case 'swap':
        if (index === fault.at) client.held = line;
        else write(client, line);
        return;
      case 'duplicate':
        write(client, line);
        if (index === fault.at) write(client, line);
        return;
      case 'stray': {
        write(client, line);
        if (strayDone || (type !== 'P' && type !== 'F')) return;
        const other = [...clients.entries()].find(([id]) => id !== user)?.[1];
        if (other === undefined) return;
        strayDone = true;
        write(other, line);
        return;
      }
      case 'corrupt':
        write(client, index === fault.at ? line.replace('|', '!') : line);
        return;
      case 'terminator':
        write(client, index === fault.at ? line.replace(/\r?\n$/, LF) : line);
        return;
      case 'delay':
        if (index === fault.at) {
          client.delayedUntil = Date.now() + fault.ms;
          later(fault.ms, () => {
            client.delayedUntil = 0;
            for (const delayed of client.backlog.splice(0)) client.socket.write(delayed, 'latin1');
          });
        }
        write(client, line);
        return;
      case 'close':
        if (index === fault.at) client.socket.destroy();
        else write(client, line);
        return;
      case 'extra':
        write(client, line);
        if (index === fault.at) extraClient = client;
        if (client === extraClient) {
          if (extraTimer !== undefined) clearTimeout(extraTimer);
          extraTimer = later(30, () => client.socket.write(line, 'latin1'));
        }
        return;
    }
  };

  const apply = (line: string): void => {
    const fields = line.replace(/\r?\n$/, '').split('|');
    const type = fields[1] ?? '';
    const from = Number(fields[2]);
    const to = Number(fields[3]);
    if (type === 'F') {
      const set = followers.get(to) ?? new Set<number>();
      followers.set(to, set.add(from));
      notify(to, line, type);
    } else if (type === 'U') {
      followers.get(to)?.delete(from);
    } else if (type === 'B') {
      broadcastTimes.push(performance.now());
      for (const user of [...owed.keys()]) notify(user, line, type);
    } else if (type === 'P') {
      notify(to, line, type);
    } else if (type === 'S') {
      for (const user of followers.get(from) ?? []) notify(user, line, type);
    }
  };

  const onEventLine = (line: string): void => {
    pending.set(Number(line.split('|')[0]), line);
    for (let ready = pending.get(next); ready !== undefined; ready = pending.get(next)) {
      pending.delete(next++);
      apply(ready);
    }
  };

  const eventServer = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (fault?.kind === 'deaf') {
      socket.pause();
      return;
    }
    let lines = 0;
    readLines(socket, (line) => {
      if (fault?.kind === 'stall' && ++lines > fault.lines) {
        socket.pause();
        return;
      }
      onEventLine(line);
    });
  });

  const clientSources = new Set<string>();
  const clientServer = createServer((socket) => {
    sockets.add(socket);
    clientSources.add(socket.remoteAddress ?? '');
    socket.on('error', () => {});
    let user: number | undefined;
    socket.on('close', () => {
      sockets.delete(socket);
      if (user !== undefined && clients.get(user)?.socket === socket) clients.delete(user);
    });
    readLines(socket, (line) => {
      if (user !== undefined) return;
      const [idField, lastField, epochField] = line.trim().split('|') as [string, string?, string?];
      const id = Number(idField);
      user = id;
      const starved = fault?.kind === 'starve' && identified === 0;
      const client: Client = {
        socket,
        keep: starved ? fault.keep : Number.POSITIVE_INFINITY,
        held: undefined,
        delayedUntil: 0,
        backlog: [],
      };
      if (!owed.has(id)) owed.set(id, []);
      const epoch =
        fault?.kind === 'epoch' && fault.fault === 'changing' ? String(++epochs) : EPOCH;
      const resuming = lastField !== undefined && lastField !== '-';
      const noEpochLine = fault?.kind === 'epoch' && fault.fault === 'missing' && resuming;
      // The first event this connection is sent, replayed or live, and the number its
      // epoch line says they start after (a resend-last server believes it replays exactly).
      let from = next;
      let last = next - 1;
      let gap: string | undefined;
      if (resuming && epochField !== epoch) {
        gap = 'epoch';
      } else if (resuming) {
        last = Number(lastField);
        from = fault?.kind === 'resend-last' ? last : last + 1;
        if (fault?.kind === 'gap') {
          from = fault.reason === 'trimmed' ? next : Math.max(1, last - 1);
          last = from - 1;
          gap = fault.reason;
        }
        if (fault?.kind === 'epoch' && fault.fault === 'last') last--;
      }
      if (lastField !== undefined && !noEpochLine) socket.write(`!EPOCH|${epoch}|${last}\n`);
      if (gap !== undefined) socket.write(`!GAP|${gap}|${from}\n`);
      if (resuming && gap !== 'epoch') {
        for (const [sequence, owedLine] of owed.get(id) ?? []) {
          if (sequence >= from) socket.write(owedLine, 'latin1');
        }
      }
      if (fault?.kind === 'late-register') later(fault.ms, () => clients.set(id, client));
      else if (fault?.kind === 'slow' && identified++ === 0) {
        later(fault.lateMs, () => clients.set(id, client));
      } else if (fault?.kind === 'starve' && identified++ === 1) {
        later(fault.lateMs, () => clients.set(id, client));
      } else clients.set(id, client);
    });
  });

  const eventPort = await listenLocal(eventServer);
  const clientPort = await listenLocal(clientServer);
  return {
    eventPort,
    clientPort,
    notifications: () => sent,
    clientSources: () => clientSources,
    broadcastTimes: () => broadcastTimes,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      for (const socket of sockets) socket.destroy();
      await Promise.all([closeServer(eventServer), closeServer(clientServer)]);
    },
  };
}

/**
 * Registers an `afterEach` that closes every server started through the returned function
 * (`startNaiveServer`). Call it once at the top of a test file.
 */
export function useNaiveServers(): (fault?: Fault) => Promise<NaiveServer> {
  const track = useClosing();
  return async (fault) => track(await startNaiveServer(fault));
}

/** The `simulate()` options that point at `server`. */
export function portsOf(server: NaiveServer): { eventPort: number; clientPort: number } {
  return { eventPort: server.eventPort, clientPort: server.clientPort };
}

/**
 * A cluster as `simulate` sees it: one event port (the ingest) whose stream is copied to
 * several independent mazes (the gateways: each its own follow graph, clients and timing, as
 * gateways replaying one log are), each serving clients on its own port.
 */
export interface TestCluster {
  readonly eventPort: number;
  /** One client port per gateway. */
  readonly clientPorts: readonly number[];
  /** The gateways' mazes, in the order of `clientPorts`. */
  readonly mazes: readonly Maze[];
  /** Client connections accepted so far on each port of `clientPorts`. */
  accepted(): number[];
  close(): Promise<void>;
}

// Bounds each maze's flush when the cluster closes.
const CLUSTER_SHUTDOWN_MS = 1_000;

/** How a `TestCluster` misbehaves, if at all. */
export interface TestClusterOptions {
  /** The last gateway hands each client to its maze only after this many ms (late registration). */
  readonly lateRegisterMs?: number;
}

/** Starts a `TestCluster` of `gateways` client ports. */
export async function startTestCluster(
  gateways: number,
  options: TestClusterOptions = {},
): Promise<TestCluster> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const mazes = Array.from({ length: gateways }, () =>
    createMaze({ shutdownTimeout: CLUSTER_SHUTDOWN_MS }),
  );
  const accepted = mazes.map(() => 0);
  const timers = new Set<NodeJS.Timeout>();
  // `pipe()` to several copies pauses the socket while any copy is full: backpressure holds.
  const eventServer = createServer((socket) => {
    track(socket);
    for (const maze of mazes) {
      const copy = new PassThrough();
      socket.pipe(copy);
      maze.attachEventSource(copy);
    }
  });
  const clientServers = mazes.map((maze, index) =>
    createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      track(socket);
      accepted[index] = (accepted[index] ?? 0) + 1;
      const late = index === gateways - 1 ? options.lateRegisterMs : undefined;
      if (late === undefined) {
        maze.attachClient(socket);
        return;
      }
      // Unread until then, the id line waits in the socket.
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!socket.destroyed && !maze.closed) maze.attachClient(socket);
      }, late);
      timers.add(timer);
    }),
  );
  const servers = [eventServer, ...clientServers];
  const close = async (): Promise<void> => {
    for (const timer of timers) clearTimeout(timer);
    const closed = servers.map(closeServer);
    await Promise.all(mazes.map((maze) => maze.close()));
    for (const socket of sockets) socket.destroy();
    await Promise.all(closed);
  };
  try {
    const eventPort = await listenLocal(eventServer);
    const clientPorts: number[] = [];
    for (const server of clientServers) clientPorts.push(await listenLocal(server));
    return { eventPort, clientPorts, mazes, accepted: () => [...accepted], close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Like `useNaiveServers`, for `startTestCluster`: closes each cluster after its test. */
export function useTestClusters(): (
  gateways: number,
  options?: TestClusterOptions,
) => Promise<TestCluster> {
  const track = useClosing();
  return async (gateways, options) => track(await startTestCluster(gateways, options));
}

function readLines(socket: Socket, onLine: (line: string) => void): void {
  socket.setEncoding('latin1');
  let buffered = '';
  socket.on('data', (text: string) => {
    buffered += text;
    let end = buffered.indexOf(LF);
    let start = 0;
    while (end !== -1) {
      const line = buffered.slice(start, end + 1);
      if (line.trim() !== '') onLine(line);
      start = end + 1;
      end = buffered.indexOf(LF, start);
    }
    buffered = buffered.slice(start);
  });
}

function listenLocal(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A deliberately naive reference model of the whole protocol (docs/protocol.md §3-4), written without
 * any lib/core code so that tests compare two independent implementations.
 *
 * Duplicates: the first line with a number wins, except that a valid line replaces an
 * invalid one that still waits (an applied number is stale whatever comes).
 *
 * Resume: a connection that identifies with the last number it saw and the stream's epoch
 * first gets, for every event applied after that number, what a connection of its user open
 * all along would have got (the model keeps every applied event, with the followers of a
 * status update's sender at its time); one that names a number not applied yet, or another
 * epoch, gets nothing replayed. A resume-aware connection (`USERID|-`, or a resume) first
 * gets the epoch line `!EPOCH|<epoch>|<last>`, `<last>` the number its notifications start
 * after: the resume's number when replayed, else the last number applied.
 *
 * Simplifications, on purpose: every arrived event is kept in a plain Map (no capacity, so
 * callers must use a reorder capacity the stream never fills), lines are parsed with split
 * and regexes, recipients are decided connection by connection, and the history is unbounded
 * (callers turn a resume the server refused into a plain connect).
 */

export type ModelOp =
  | { kind: 'line'; line: string } // one event line as sent, terminator included
  | { kind: 'connect'; connection: number; user: number } // a client connection identifies as `user`
  | { kind: 'disconnect'; connection: number }
  // a client connection identifies as `user|-`
  | { kind: 'aware'; connection: number; user: number }
  // a client connection identifies as `user`, resuming after sequence number `after` of `epoch`
  | { kind: 'resume'; connection: number; user: number; after: number; epoch: string };

/** The op for client `connection` identifying as `user`. */
export function connectOp(connection: number, user: number): ModelOp {
  return { kind: 'connect', connection, user };
}

/** The op for client `connection` going away. */
export function disconnectOp(connection: number): ModelOp {
  return { kind: 'disconnect', connection };
}

export interface ModelOptions {
  startSequence?: number;
  /** The stream's epoch, which a resume must name to be replayed anything. Default `0`. */
  epoch?: string;
}

const MAX_ID = BigInt(Number.MAX_SAFE_INTEGER);

/** A decimal number in min..MAX_SAFE_INTEGER, or undefined (user ids start at 0, sequences at 1). */
function numberOf(field: string | undefined, min: bigint): number | undefined {
  if (field === undefined || !/^[0-9]+$/.test(field)) return undefined;
  const value = BigInt(field);
  return value >= min && value <= MAX_ID ? Number(value) : undefined;
}

const idOf = (field: string | undefined) => numberOf(field, 0n);
const sequenceOf = (field: string | undefined) => numberOf(field, 1n);

function bodyOf(line: string): string {
  return line.replace(/\r?\n$/, '');
}

type ModelEvent =
  | { type: 'F' | 'U' | 'P'; from: number; to: number }
  | { type: 'B' }
  | { type: 'S'; from: number };

/** The event a line describes, or undefined when its body is invalid. */
function eventOf(line: string): ModelEvent | undefined {
  const fields = bodyOf(line).split('|');
  const type = fields[1];
  if (type === 'B') return fields.length === 2 ? { type } : undefined;
  if (type === 'S') {
    const from = idOf(fields[2]);
    return fields.length === 3 && from !== undefined ? { type, from } : undefined;
  }
  if (type === 'F' || type === 'U' || type === 'P') {
    const from = idOf(fields[2]);
    const to = idOf(fields[3]);
    if (fields.length !== 4 || from === undefined || to === undefined) return undefined;
    return { type, from, to };
  }
  return undefined;
}

/** Expected lines received by every connection that ever connected, in order. */
export function expectedDeliveries(
  ops: readonly ModelOp[],
  options: ModelOptions = {},
): Map<number, string[]> {
  let nextSequence = options.startSequence ?? 1;
  const arrived = new Map<number, string>();
  const follows = new Set<string>();
  const openConnections = new Map<number, number>(); // connection -> user
  const received = new Map<number, string[]>();
  // Every applied event: its number, its text, and whom it would notify if connected.
  const applied: { sequence: number; text: string; notifies: (user: number) => boolean }[] = [];

  const apply = (sequence: number, line: string): void => {
    const event = eventOf(line);
    if (event === undefined) return;
    if (event.type === 'F') follows.add(`${event.from}>${event.to}`);
    if (event.type === 'U') follows.delete(`${event.from}>${event.to}`);
    const text = line.endsWith('\n') ? line : `${line}\n`;
    let notifies: (user: number) => boolean;
    switch (event.type) {
      case 'F':
      case 'P':
        notifies = (user) => user === event.to;
        break;
      case 'U':
        notifies = () => false;
        break;
      case 'B':
        notifies = () => true;
        break;
      case 'S': {
        const followers = new Set([...follows].filter((edge) => edge.endsWith(`>${event.from}`)));
        notifies = (user) => followers.has(`${user}>${event.from}`);
        break;
      }
    }
    applied.push({ sequence, text, notifies });
    for (const [connection, user] of openConnections) {
      if (notifies(user)) received.get(connection)?.push(text);
    }
  };

  const epoch = options.epoch ?? '0';
  for (const op of ops) {
    if (op.kind === 'connect' || op.kind === 'aware' || op.kind === 'resume') {
      openConnections.set(op.connection, op.user);
      if (!received.has(op.connection)) received.set(op.connection, []);
      const lines = received.get(op.connection) as string[];
      const replayed = op.kind === 'resume' && op.epoch === epoch && op.after < nextSequence;
      if (op.kind !== 'connect') {
        lines.push(`!EPOCH|${epoch}|${replayed ? op.after : nextSequence - 1}\n`);
      }
      if (replayed) {
        for (const event of applied) {
          if (event.sequence > op.after && event.notifies(op.user)) lines.push(event.text);
        }
      }
    } else if (op.kind === 'disconnect') {
      openConnections.delete(op.connection);
    } else {
      const sequence = sequenceOf(bodyOf(op.line).split('|')[0]);
      if (sequence === undefined || sequence < nextSequence) continue;
      // A number already waiting stays with its first line, unless that line's body is
      // invalid and this one's is valid: an invalid body is only a placeholder.
      const waiting = arrived.get(sequence);
      if (
        waiting !== undefined &&
        (eventOf(waiting) !== undefined || eventOf(op.line) === undefined)
      ) {
        continue;
      }
      arrived.set(sequence, op.line);
      for (let line = arrived.get(nextSequence); line !== undefined; ) {
        arrived.delete(nextSequence);
        apply(nextSequence, line);
        nextSequence++;
        line = arrived.get(nextSequence);
      }
    }
  }
  return received;
}

/**
 * The lines a server pushes for the bytes one event source sent (docs/protocol.md §2), for the model:
 * split after each LF; a line longer than `maxLineLength` (terminator included) is dropped;
 * an unterminated rest is never a line (the server reports and discards it).
 * Empty lines are kept: the model discards them like any line without a sequence number.
 */
export function framedLines(text: string, maxLineLength: number): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', start)) {
    if (lf + 1 - start <= maxLineLength) lines.push(text.slice(start, lf + 1));
    start = lf + 1;
  }
  return lines;
}

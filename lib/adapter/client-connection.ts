/**
 * One user client on any duplex stream (docs/protocol.md §5-6): it identifies, then only receives.
 *
 * Invariants:
 * - Life cycle: `identifying` -> `identified` -> `closed`, or `identifying` -> `closed`.
 *   The host hears `identified` at most once and `closed` exactly once for an identified
 *   client, so registration and removal always pair up.
 * - The first non-empty line is the user id (`id-line.ts`), optionally with what it resumes
 *   after (`-`, or `LASTSEQ|EPOCH`). A bad id or resume part, an id line over
 *   `maxIdLineLength`, or no id within `identifyTimeout` is reported and the client is
 *   closed. Nothing the client sends is ever held beyond the id line limit.
 * - Everything read after the id is discarded (without an authenticator, below), and reading
 *   goes on so the peer never blocks.
 * - Output is batched by the caller: `enqueue()` collects notifications as indices of the
 *   caller's `OutputLines`, `flush()` has them copied into one buffer and writes it with a
 *   single `write()`: the bytes exactly as read, never decoded or re-encoded.
 *   `summary().notificationsSent` is counted per flush (the batch's length), never per
 *   notification, so the hot path pays nothing for it.
 * - A peer's end of input (EOF) before its id means it leaves: the stream is closed. After
 *   its id, EOF is only a half-close (`printf '43\n' | nc host 9099` sends one): clients
 *   only read from then on, so the client is served until its stream closes or fails. The
 *   stream must allow half-open use (`allowHalfOpen`, as `listen()` sets it); the host hears
 *   `halfClosed` once, so at the client limit it can close such a client that is `idle()`
 *   to make room, and can look for one whose connection the kernel has dropped: Node no
 *   longer reads it, so it would not notice before its next write (docs/protocol.md §5).
 *   Stream errors are reported, never thrown.
 * - With an `Authenticator` (client-auth.ts), the id line's first field is a credential: the
 *   hook's user id takes its place, and the rest of the line (a resume) is read as after a
 *   plain id. Every later line is a fresh credential, which must name the same user. A
 *   client may send one every `MIN_REFRESH_INTERVAL_MS` at most: a line sooner closes it
 *   (`too-frequent`). One byte for byte the same as the credential in force is ignored
 *   unchecked (only a digest of that is kept); a check not answered within `identifyTimeout`
 *   closes the client (`failed`). While one is checked, the framer holds what the peer sends
 *   meanwhile, at most `MAX_TOKEN_LINE_LENGTH` characters (copied, so no chunk is kept
 *   alive): more closes the client (`malformed`). Lines are limited to
 *   `MAX_TOKEN_LINE_LENGTH`. A refused credential, or one for another user, is reported
 *   (`ERR_CLIENT_AUTH` with its reason), counted and the client closed. No report or summary
 *   ever holds a line of such a client: it may be a token.
 */
import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { MAX_ID } from '../core/constants.js';
import type { UserId } from '../core/events.js';
import { latin1Text } from '../core/latin1.js';
import { contentEnd, quoteLine } from '../core/parser.js';
import { ErrorCode, type Problem } from '../errors.js';
import {
  type Authentication,
  type Authenticator,
  type AuthRefusalReason,
  MAX_TOKEN_LINE_LENGTH,
  type PendingAuthentication,
} from './client-auth.js';
import { closeStream } from './close-stream.js';
import type { FlowClient } from './flow-control.js';
import {
  parseIdLine,
  type ResumePart,
  type ResumeRequest,
  splitCredential,
  type ValidIdLine,
} from './id-line.js';
import { LineFramer, type LineSink } from './line-framer.js';
import type { OutputLines } from './output-lines.js';
import { connectionDropped, remoteAddressOf } from './remote-address.js';

/** What a client connection tells the maze. */
export interface ClientHost {
  /** The client sent a valid id; from now on it should receive notifications. */
  clientIdentified(client: ClientConnection): void;
  /** The client's stream emitted `'drain'`: its queue has emptied. */
  clientDrained(client: ClientConnection): void;
  /** The identified client's peer ended its sending side (EOF); it is still served. */
  clientHalfClosed(client: ClientConnection): void;
  /** The identified client sent a fresh credential for its user (`expiresAt` may have changed). */
  clientReauthenticated(client: ClientConnection): void;
  /** The client is gone (or is going); called once, for any client that was attached. */
  clientClosed(client: ClientConnection): void;
  report(problem: Problem): void;
}

export interface ClientConnectionOptions {
  readonly maxIdLineLength: number;
  readonly identifyTimeout: number;
  readonly shutdownTimeout: number;
}

export type ClientState = 'identifying' | 'identified' | 'closed';

/**
 * Shortest time between two refresh lines of a connection: a client refreshes as its token
 * nears expiry (minutes to hours), and verifying one costs 45-125 µs, so one check per
 * connection every 10 s keeps even 20,000 connections refreshing as often as allowed under a
 * quarter of a core (docs/protocol.md §5).
 */
const MIN_REFRESH_INTERVAL_MS = 10_000;
/** Slots V8 gives an array on its first push: what the budget counts for a shorter one. */
const MIN_ARRAY_SLOTS = 17;
/**
 * Arrays of line indices up to this long are kept however little a flush used: flushes vary
 * with the input chunks, and letting go of arrays over 64 brought back the allocation that
 * grows the young generation (3 of 9 default-profile runs peaked at about 100 MB, not 80).
 */
const KEPT_INDEX_SLOTS_ANYWAY = 4096;

/** A plain, read-only view of one client connection (for monitoring). */
export interface ClientSummary {
  /** `client#N`. */
  readonly connection: string;
  /** The user id; `null` while the client is identifying. */
  readonly userId: UserId | null;
  /** The peer's `address:port` (IPv6 in brackets) for a TCP socket; `null` for other streams. */
  readonly remoteAddress: string | null;
  /** Bytes handed to the stream and not yet written out (`writableLength`). */
  readonly queuedBytes: number;
  /** Notifications handed to the stream so far. */
  readonly notificationsSent: number;
}

/**
 * A client's stream, which names its connection for the listeners every stream shares (set
 * by `start()` before any of them is added).
 */
type ConnectionStream = Duplex & { [CONNECTION]: ClientConnection };
const CONNECTION = Symbol('connection');

export class ClientConnection implements LineSink, FlowClient {
  /**
   * The stream listeners, one set for every client: five closures per connection (and their
   * context) were about 300 bytes of each idle connection's heap.
   */
  static readonly #listeners = {
    data(this: ConnectionStream, chunk: Buffer | string): void {
      this[CONNECTION].#onData(chunk);
    },
    end(this: ConnectionStream): void {
      this[CONNECTION].#onEnd();
    },
    error(this: ConnectionStream, error: Error): void {
      this[CONNECTION].#onError(error);
    },
    close(this: ConnectionStream): void {
      this[CONNECTION].#closed();
    },
    drain(this: ConnectionStream): void {
      this[CONNECTION].#host.clientDrained(this[CONNECTION]);
    },
  };

  /** `client#N`, for reports and logs. */
  readonly name: string;
  readonly stream: Duplex;
  /** The peer's `host:port`, or `null` for a stream that is not a TCP socket. */
  readonly remoteAddress: string | null;
  /** The user id, once identified. */
  userId: UserId | undefined;
  /** What the client asked for after its id (`-`, or where it resumes); none for a plain id. */
  resume: ResumeRequest | undefined;
  /** When its credential expires (ms since the epoch), for a client that authenticated with one that does. */
  expiresAt: number | undefined;
  /** Notifications queued since the last flush, as indices of the caller's `OutputLines`. */
  #pending: number[] = [];
  /** Notifications in `#pending` (its entries from there on are stale). */
  #pendingCount = 0;
  /** The `OutputLines` whose budget counts `#pending` as kept, and for how many slots. */
  #keptBy: OutputLines | undefined;
  #keptSlots = 0;
  /** Bytes of the lines in `#pending`. */
  #queuedBytes = 0;

  readonly #host: ClientHost;
  readonly #options: ClientConnectionOptions;
  readonly #authenticator: Authenticator | undefined;
  /** The credential being checked right now. */
  #checking: PendingAuthentication | undefined;
  /** A digest of the credential in force, to ignore it sent again. */
  #credentialDigest: string | undefined;
  /** When the last refresh line came (`Date.now()`). */
  #lastRefreshAt = Number.NEGATIVE_INFINITY;
  /** The deadline of the refresh being checked. */
  #refreshTimer: NodeJS.Timeout | undefined;
  #state: ClientState = 'identifying';
  #framer: LineFramer | undefined;
  #identifyTimer: NodeJS.Timeout | undefined;
  #peerEnded = false;
  #notificationsSent = 0;

  constructor(
    name: string,
    stream: Duplex,
    host: ClientHost,
    options: ClientConnectionOptions,
    authenticator?: Authenticator,
  ) {
    this.name = name;
    this.stream = stream;
    this.remoteAddress = remoteAddressOf(stream);
    this.#host = host;
    this.#options = options;
    this.#authenticator = authenticator;
    this.#framer = new LineFramer(
      authenticator === undefined ? options.maxIdLineLength : MAX_TOKEN_LINE_LENGTH,
      this,
    );
  }

  get state(): ClientState {
    return this.#state;
  }

  /** Starts listening; called once by the maze right after construction. */
  start(): void {
    const stream = this.stream as Partial<ConnectionStream> & Duplex;
    stream[CONNECTION] = this;
    const listeners = ClientConnection.#listeners;
    stream.on('data', listeners.data);
    stream.on('end', listeners.end);
    stream.on('error', listeners.error);
    stream.on('close', listeners.close);
    stream.on('drain', listeners.drain);
    this.#identifyTimer = setTimeout(
      () => this.#onIdentifyTimeout(),
      this.#options.identifyTimeout,
    );
    this.#identifyTimer.unref();
  }

  /**
   * Queues one notification for the next `flush()`: the line `line` of the caller's
   * `OutputLines`, `length` bytes. Returns whether it is the first since the last flush, so
   * the caller lists each client with output once.
   */
  enqueue(line: number, length: number): boolean {
    this.#queuedBytes += length;
    const count = this.#pendingCount++;
    const pending = this.#pending;
    if (count < pending.length) pending[count] = line;
    else pending.push(line);
    return count === 0;
  }

  /**
   * Writes what is queued, assembled from `lines` (the `OutputLines` its indices are of), in
   * one `write()`; returns the number of bytes handed over.
   */
  flush(lines: OutputLines): number {
    const stream = this.stream;
    const pending = this.#pending;
    const count = this.#pendingCount;
    this.#pendingCount = 0;
    const bytes = this.#queuedBytes;
    this.#queuedBytes = 0;
    if (count === 0 || this.#state !== 'identified' || stream.destroyed || stream.writableEnded) {
      // Nothing will be written to it again: what it queued may have grown its array.
      if (count > 0) this.#dropPending();
      return 0;
    }
    lines.write(stream, pending, count, bytes);
    this.#notificationsSent += count;
    this.#keepPending(lines, count);
    return bytes;
  }

  // Keeps the array of indices for the next flush, refilled in place rather than regrown
  // from empty (allocation the young generation would have to collect), as far as the
  // budget of `lines` for all clients together allows; otherwise lets it go. An array of
  // more than `KEPT_INDEX_SLOTS_ANYWAY` that this flush (`count`) used less than a quarter
  // of is let go too, so a burst does not hold its slots for good.
  #keepPending(lines: OutputLines, count: number): void {
    const length = this.#pending.length;
    if (length > KEPT_INDEX_SLOTS_ANYWAY && count * 4 < length) {
      this.#dropPending();
      return;
    }
    const slots = Math.max(length, MIN_ARRAY_SLOTS);
    if (slots === this.#keptSlots) return;
    if (lines.keep(this.#keptSlots, slots)) {
      this.#keptBy = lines;
      this.#keptSlots = slots;
      return;
    }
    this.#dropPending();
  }

  // Lets go of the array of indices and of the slots the budget counts for it.
  #dropPending(): void {
    this.#keptBy?.releaseKept(this.#keptSlots);
    this.#keptBy = undefined;
    this.#keptSlots = 0;
    this.#pending = [];
  }

  /**
   * Writes `head` then `output` at once, outside the batching (a resume-aware client's epoch
   * line, then its replay or gap line, before anything live): `notifications` lines of
   * `output`. Returns the bytes handed over.
   */
  send(head: string, output: string | Uint8Array, notifications: number): number {
    const stream = this.stream;
    if (this.#state !== 'identified' || stream.destroyed || stream.writableEnded) return 0;
    this.#notificationsSent += notifications;
    if (typeof output === 'string') {
      stream.write(head + output, 'latin1');
    } else {
      // Corked, the two go out in one writev, without copying the replay.
      stream.cork();
      stream.write(head, 'latin1');
      if (output.length !== 0) stream.write(output);
      stream.uncork();
    }
    return head.length + output.length;
  }

  queuedBytes(): number {
    return this.stream.writableLength;
  }

  /** Whether nothing is queued for it: neither since the last flush nor in its stream. */
  idle(): boolean {
    return this.#queuedBytes === 0 && this.stream.writableLength === 0;
  }

  /** Whether the kernel has closed its TCP connection (see `connectionDropped()`). */
  connectionDropped(): boolean {
    return connectionDropped(this.stream);
  }

  /** A snapshot of this connection for monitoring; holds no reference to it. */
  summary(): ClientSummary {
    return {
      connection: this.name,
      userId: this.userId ?? null,
      remoteAddress: this.remoteAddress,
      queuedBytes: this.stream.writableLength,
      notificationsSent: this.#notificationsSent,
    };
  }

  awaitingDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  get highWaterMark(): number {
    return this.stream.writableHighWaterMark;
  }

  /** Closes in two steps (flush, then destroy after the shutdown timeout). */
  close(): Promise<void> {
    this.#closed();
    return closeStream(this.stream, this.#options.shutdownTimeout);
  }

  /** Drops the client at once, without flushing (a slow client, a broken stream). */
  destroy(): void {
    this.#closed();
    this.stream.destroy();
  }

  /** Closes the client because its credential expired (`ERR_CLIENT_AUTH`, reason `expired`). */
  expire(): void {
    this.#refuse('expired', 'its credential expired');
  }

  onLine(bytes: Uint8Array, start: number, end: number, lineNumber: number): void {
    const line = latin1Text(bytes, start, end);
    if (this.#authenticator !== undefined) {
      this.#onCredentialLine(line, lineNumber, this.#authenticator);
      return;
    }
    if (this.#state !== 'identifying') return;
    const idLine = parseIdLine(line);
    if ('invalid' in idLine) {
      const resume = idLine.invalid === 'resume';
      this.#reject({
        code: resume ? ErrorCode.ClientBadResume : ErrorCode.ClientBadId,
        message: resume
          ? `client sent an invalid resume line '${quoteLine(line)}' (${idLine.reason}); closed`
          : `client sent an invalid user id '${quoteLine(line)}' (expected 0..${MAX_ID}); closed`,
        context: { connection: this.name, lineNumber, line: quoteLine(line) },
      });
      return;
    }
    this.#framer = undefined;
    this.#identified(idLine);
  }

  onLineTooLong(lineNumber: number, head: string): void {
    if (this.#authenticator !== undefined) {
      if (this.#state !== 'closed') {
        this.#refuse(
          'malformed',
          `its line ${lineNumber} is longer than ${MAX_TOKEN_LINE_LENGTH} bytes`,
        );
      }
      return;
    }
    if (this.#state !== 'identifying') return;
    this.#reject({
      code: ErrorCode.ClientBadId,
      message: `client id line is longer than ${this.#options.maxIdLineLength} bytes; closed`,
      context: { connection: this.name, lineNumber, line: quoteLine(head) },
    });
  }

  #identified(idLine: ValidIdLine): void {
    clearTimeout(this.#identifyTimer);
    this.#identifyTimer = undefined;
    this.userId = idLine.userId;
    this.resume = idLine.resume;
    this.#state = 'identified';
    this.#host.clientIdentified(this);
  }

  // The id line (`CREDENTIAL`, `CREDENTIAL|…`) or, once identified, a fresh credential.
  #onCredentialLine(line: string, lineNumber: number, authenticator: Authenticator): void {
    if (this.#state === 'closed') return;
    const refresh = this.#state === 'identified';
    // A refresh line is the credential alone.
    const { credential, resume } = refresh
      ? { credential: line.slice(0, contentEnd(line)), resume: undefined }
      : splitCredential(line);
    if (resume !== undefined && 'invalid' in resume) {
      this.#reject({
        code: ErrorCode.ClientBadResume,
        message: `client sent an invalid resume after its credential (${resume.reason}); closed`,
        context: { connection: this.name, lineNumber },
      });
      return;
    }
    const digest = hash('sha256', credential, 'base64');
    if (refresh) {
      // Any line counts, identical or not: spam costs the spammer its connection after one
      // line, not the server a verification per line.
      const now = Date.now();
      if (now - this.#lastRefreshAt < MIN_REFRESH_INTERVAL_MS) {
        this.#refuse(
          'too-frequent',
          `it sent a fresh credential less than ${MIN_REFRESH_INTERVAL_MS} ms after its last one`,
        );
        return;
      }
      this.#lastRefreshAt = now;
      if (digest === this.#credentialDigest) return;
      this.#refreshTimer = setTimeout(
        () => this.#onRefreshTimeout(),
        this.#options.identifyTimeout,
      );
      this.#refreshTimer.unref();
    }
    // Held while it is checked: see the header.
    this.#framer?.hold();
    this.#checking = authenticator.check(
      // A slice keeps its whole chunk alive while the check waits.
      copied(credential),
      { connection: this.name, remoteAddress: this.remoteAddress, userId: this.userId },
      (outcome) => this.#checked(outcome, digest, resume),
    );
  }

  #checked(outcome: Authentication, digest: string, resume: ValidResume | undefined): void {
    this.#checking = undefined;
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    if (this.#state === 'closed') return;
    if ('refused' in outcome) {
      this.#refuse(outcome.refused, 'its credential was refused');
      return;
    }
    if (this.#state === 'identified' && outcome.userId !== this.userId) {
      this.#refuse('subject', 'it sent a credential for another user');
      return;
    }
    this.expiresAt = outcome.expiresAt;
    this.#credentialDigest = digest;
    if (resume === undefined) this.#host.clientReauthenticated(this);
    else this.#identified({ userId: outcome.userId, resume: resume.resume });
    // The host may have closed it meanwhile.
    if ((this.#state as ClientState) === 'closed') return;
    // Its end arrived while its id line was checked (`#onEnd()`).
    if (resume !== undefined && this.#peerEnded) this.#host.clientHalfClosed(this);
    this.#framer?.unhold();
  }

  #onRefreshTimeout(): void {
    this.#refreshTimer = undefined;
    this.#checking?.cancel();
    this.#checking = undefined;
    this.#refuse(
      'failed',
      `its fresh credential was not checked within ${this.#options.identifyTimeout} ms`,
    );
  }

  // Never quotes a line: it may hold a token.
  #refuse(reason: AuthRefusalReason, why: string): void {
    if (this.#state === 'closed') return;
    this.#authenticator?.countRefusal(reason);
    this.#reject({
      code: ErrorCode.ClientAuth,
      message: `client authentication failed (${reason}): ${why}; closed`,
      context:
        this.userId === undefined
          ? { connection: this.name, reason }
          : { connection: this.name, userId: this.userId, reason },
    });
  }

  #onData(chunk: Buffer | string): void {
    // Without an authenticator, everything after the id is discarded; reading goes on so the
    // peer never blocks.
    const framer = this.#framer;
    if (framer === undefined) return;
    framer.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
    if (this.#checking === undefined || !framer.holdsInput) return;
    // No honest client sends more than a line while its credential is checked.
    if (framer.unframedLength > MAX_TOKEN_LINE_LENGTH) {
      this.#refuse(
        'malformed',
        `it sent more than ${MAX_TOKEN_LINE_LENGTH} bytes while its credential was checked`,
      );
    } else {
      framer.copyHeld();
    }
  }

  #onIdentifyTimeout(): void {
    this.#identifyTimer = undefined;
    if (this.#state !== 'identifying') return;
    // Node runs expired timers before it reads the sockets that became readable: an id line
    // that has arrived is read in this same loop turn's poll phase, so decide after that.
    // One turn is enough: a read takes all the kernel holds (an id line is far below one),
    // so a line still incomplete then had not arrived.
    setImmediate(() => this.#identifyExpired());
  }

  #identifyExpired(): void {
    if (this.#state !== 'identifying') return;
    this.#reject({
      code: ErrorCode.ClientIdTimeout,
      message: `client sent no user id within ${this.#options.identifyTimeout} ms; closed`,
      context: { connection: this.name },
    });
  }

  #onEnd(): void {
    this.#peerEnded = true;
    // Before its id the peer is leaving; after it, it has only stopped sending (see header).
    if (this.#state === 'identified') this.#host.clientHalfClosed(this);
    if (this.#state !== 'identifying') return;
    // `printf 'TOKEN\n' | nc`: the check in flight decides (`#checked()`).
    if (this.#checking !== undefined) return;
    // `printf 43 | nc`: an id without its LF is not a line; say so rather than vanish.
    const fragment = this.#framer?.takeRemainder() ?? '';
    if (fragment !== '' && fragment !== '\r' && this.#authenticator !== undefined) {
      this.#refuse('malformed', 'it ended its input in the middle of its id line');
      return;
    }
    if (fragment !== '' && fragment !== '\r') {
      this.#reject({
        code: ErrorCode.ClientBadId,
        message: `client ended its input in the middle of its id line '${quoteLine(fragment)}' (an id ends with LF); closed`,
        context: { connection: this.name, line: quoteLine(fragment) },
      });
      return;
    }
    void this.close();
  }

  #onError(error: Error): void {
    // A reset after the peer's own end is how a half-closed client is seen leaving.
    if (this.#state !== 'closed' && !this.#peerEnded) {
      const code = (error as NodeJS.ErrnoException).code;
      this.#host.report({
        code: ErrorCode.StreamError,
        message: `client stream failed: ${error.message}${code === undefined ? '' : ` (${code})`}`,
        context:
          this.userId === undefined
            ? { connection: this.name }
            : { connection: this.name, userId: this.userId },
      });
    }
    this.destroy();
  }

  #reject(problem: Problem): void {
    this.#host.report(problem);
    void this.close();
  }

  // Idempotent: the first of end/error/close/timeout/close() takes the client out.
  #closed(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#framer = undefined;
    this.#checking?.cancel();
    this.#checking = undefined;
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    if (this.#identifyTimer !== undefined) {
      clearTimeout(this.#identifyTimer);
      this.#identifyTimer = undefined;
    }
    this.#dropPending();
    this.#pendingCount = 0;
    this.#queuedBytes = 0;
    this.#host.clientClosed(this);
  }
}

type ValidResume = Exclude<ResumePart, { readonly invalid: unknown }>;

// A fresh copy of `text`: a slice of a chunk would keep all of it alive.
function copied(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/**
 * The verification of one client connection, without sockets: the generator calls
 * `expect()` for every notification the reference model says this client is owed, in
 * sequence order; the socket layer hands every received chunk to `receive()`.
 *
 * Invariants:
 * - The expected lines wait in a ring of (sequence number, line hash) pairs (the write to
 *   the event source that carried a line, for its latency, follows from its number:
 *   `LatencyRecorder.batchOf`): nothing else is kept per line, and the generator pauses while a ring is over its limit (see
 *   `Ledger`), so memory is bounded however long the stream is.
 * - Every received line is checked the moment its LF arrives: it must carry the sequence
 *   number at the head of the ring and hash to the same FNV-1a value (so the same bytes,
 *   terminator included). The first mismatch stops the stream with a failure that names
 *   the line; nothing after it is judged.
 * - The receive path is a byte loop over the chunk: no string is built for a good line.
 *   Latency is recorded once per run of matched lines of one batch in a chunk, read at the
 *   ledger's clock (the socket layer sets it to the time of the read).
 * - Before it is registered (has received its first warm-up broadcast), a client expects
 *   nothing; the first warm-up broadcast it receives registers it, and it is then owed
 *   every later one (see `EventGenerator.warmupBroadcast`).
 * - A client that will drop identifies first as `USERID|-` (`awarePart()`), and every one of
 *   its connections must open with the epoch line `!EPOCH|EPOCH|LAST` (docs/protocol.md
 *   §12), the same epoch each time: another would mean the server's stream started again
 *   during the run (`ERR_SIM_EPOCH`). LAST is the number the connection's notifications
 *   start after.
 * - A dropped connection (`dropped()`) loses the line it was receiving; the ring stays
 *   owed, and the next connection identifies as `USERID|LASTSEQ|EPOCH` (`resumePart()`),
 *   LASTSEQ the greater of the number of the last line received whole and its latest epoch
 *   line's LAST: a connection that received nothing resumes where its notifications would
 *   have started. After its epoch line, its stream must go on with the ring's head
 *   exactly, unless its next line is `!GAP|REASON|NEXT`: then the lines numbered below NEXT
 *   are no longer owed, and after `!GAP|ahead|…` lines numbered up to LASTSEQ are repeats,
 *   ignored until a line above LASTSEQ arrives. Expected and received digests then leave the
 *   skipped lines out: what was received, then the ring. LAST must be LASTSEQ, unless a gap
 *   line follows whose NEXT is LAST + 1 (`ERR_SIM_EPOCH`).
 */
import {
  SimulationErrorCode as Code,
  type SimulationErrorCode,
  type SimulationFailure,
  simulationFailure,
} from './failures.js';
import { FNV_OFFSET, FNV_PRIME, foldDigest, hashLine } from './hash.js';
import { LatencyRecorder } from './latency.js';
import type { ReconnectSummary } from './result.js';

/** Longest quoted line in a failure message, in bytes. */
const MAX_QUOTED_BYTES = 100;

const LF = 10;
const DIGIT_0 = 48;
const NONE = -1;
// Module-local copies of FNV_OFFSET and FNV_PRIME: the hot loop reads imported bindings
// noticeably slower than local constants (measured, ~20% of the receive path).
const OFFSET = FNV_OFFSET;
const PRIME = FNV_PRIME;

// Where the parse of the current line's sequence number stands.
const IN_DIGITS = 0;
const SEQUENCE_READ = 1;
const NO_SEQUENCE = 2;

const INITIAL_RING_SIZE = 64;

// What `#unmatched()` made of a line.
const REJECTED = 0;
const COUNTED = 1;
/**
 * An epoch line, a `!GAP` line, or a repeat after `!GAP|ahead`: neither a notification nor a
 * failure.
 */
const NOT_COUNTED = 2;

/** `!EPOCH|8412790517|1234`, LF-terminated: the first line of a resume-aware connection. */
const EPOCH_LINE = /^!EPOCH\|([!-{}~]{1,24})\|(\d{1,16})\n$/;

/** `!GAP|trimmed|12345`, LF-terminated: how a server refuses an exact resume. */
const GAP_LINE = /^!GAP\|(trimmed|ahead)\|(\d{1,16})\n$/;

/** Why a server could not resume a connection exactly (the REASON of `!GAP|REASON|NEXT`). */
export type GapReason = 'trimmed' | 'ahead';

/** What the reconnecting clients went through (`reconnectEvery`), over all clients. */
/** The reconnect counters as the client streams keep them: the summary's, writable. */
export type ReconnectCounts = Writable<ReconnectSummary>;

type Writable<T> = { -readonly [K in keyof T]: T[K] extends object ? Writable<T[K]> : T[K] };

/**
 * Counters shared by every client stream and the generator: how many expected lines are
 * still owed (the generator's pacing), how many arrived, and a coarse clock.
 */
export class Ledger {
  /** Expected lines not received yet, over all clients. */
  pending = 0;
  /** Clients whose ring reached `perClientLimit` and has not drained to half of it. */
  clientsOverLimit = 0;
  /** Lines received, over all clients. */
  received = 0;
  /** Clients that received a warm-up broadcast. */
  registered = 0;
  readonly reconnects: ReconnectCounts = {
    drops: 0,
    resumes: 0,
    refused: { trimmed: 0, ahead: 0 },
    owedOnResume: 0,
    skipped: 0,
    repeats: 0,
  };
  /**
   * Milliseconds, refreshed by the socket layer; stamps when a client started waiting, and
   * is the read time of the chunk being received.
   */
  clock = 0;
  /** Write times of the event batches and the latency histogram. */
  readonly latency = new LatencyRecorder();

  constructor(
    readonly perClientLimit: number,
    readonly totalLimit: number,
  ) {}

  /** The generator must stop: some client, or all together, owe too many lines. */
  get mustPause(): boolean {
    return this.clientsOverLimit > 0 || this.pending > this.totalLimit;
  }

  /** The generator may go on: every ring drained to half its limit, and the total too. */
  get mayResume(): boolean {
    return this.clientsOverLimit === 0 && this.pending <= this.totalLimit / 2;
  }
}

/** What a client stream needs from the generator to judge warm-up lines and quote lines. */
export interface StreamContext {
  readonly ledger: Ledger;
  /** Warm-up broadcasts sent so far: they carry the numbers 1..warmupSent. */
  readonly warmupSent: number;
  /** The byte between the fields of an event line (the `delimiter` option's). */
  readonly delimiterByte: number;
  /** The line event `sequence` was sent as (terminator included), if still remembered. */
  lineOf(sequence: number): string | undefined;
}

export class ClientStream {
  /** Lines received (and accepted). */
  lines = 0;
  /** Lines this client was owed so far. */
  expectedLines = 0;
  /** Set once the client received a warm-up broadcast. */
  registered = false;
  /** The ledger clock when the client last received a line or became owed one. */
  waitingSince = 0;
  /** Why the stream stopped, once `receive()` returned false. */
  failure: SimulationFailure | undefined;
  /** Digest of the lines owed, in order. */
  expectedDigest = FNV_OFFSET;
  /** Digest of the lines received, in order. */
  receivedDigest = FNV_OFFSET;
  /**
   * Digest of the stream's notifications matched so far, each by its position in the stream
   * (1: the first event after the warm-up). The warm-up is left out and the absolute
   * numbers are not used, since both depend on the server's timing: this depends only on
   * the seed and the options that shape the stream.
   */
  streamDigest = FNV_OFFSET;

  #sequences = new Float64Array(INITIAL_RING_SIZE);
  #hashes = new Int32Array(INITIAL_RING_SIZE);
  readonly #latency: LatencyRecorder;
  #mask = INITIAL_RING_SIZE - 1;
  #head = 0;
  #length = 0;
  #overLimit = false;

  // The line being received, carried across chunks.
  #lineHash = FNV_OFFSET;
  #lineSequence = 0;
  #parse = IN_DIGITS;
  #lastSequence = 0;
  // `streamDigest` with the lines matched in the chunk being received folded in.
  #chunkStreamDigest = FNV_OFFSET;
  // Its first bytes, kept only to quote it if it turns out wrong.
  readonly #partial = new Uint8Array(MAX_QUOTED_BYTES);
  #partialLength = 0;
  readonly #delimiterByte: number;
  // The resumed connection's first line may still be a `!GAP` line: it is line
  // #linesAtResume + 1 of the stream.
  #gapAllowed = false;
  #linesAtResume = 0;
  // After `!GAP|ahead`: lines numbered up to this (LASTSEQ) are repeats.
  #repeatsUpTo = 0;
  // The server's epoch, from the first connection's epoch line.
  #epoch: string | undefined;
  // The connection's next line must be the epoch line.
  #epochDue = false;
  // The resumed connection's epoch line named another number than LASTSEQ: its next line
  // must be a gap line whose NEXT follows that number.
  #gapDue = false;
  // The number the last epoch line said its connection's notifications start after.
  #epochLast = 0;
  // The LASTSEQ the current connection resumed after.
  #lastResumed = 0;

  constructor(
    /** 0-based index of the connection, as in `client#3`. */
    readonly index: number,
    readonly userId: number,
    readonly context: StreamContext,
  ) {
    this.#latency = context.ledger.latency;
    this.#delimiterByte = context.delimiterByte;
  }

  /** `client#3 (user 517)` */
  get name(): string {
    return `client#${this.index} (user ${this.userId})`;
  }

  /** Expected lines not received yet. */
  get pending(): number {
    return this.#length;
  }

  /** The sequence number the client is waiting for, or 0. */
  get nextExpected(): number {
    return this.#length === 0 ? 0 : (this.#sequences[this.#head] as number);
  }

  /** The client is owed the line of event `sequence`, whose FNV-1a hash is `lineHash`. */
  expect(sequence: number, lineHash: number): void {
    const length = this.#length;
    if (length > this.#mask) this.#grow();
    const at = (this.#head + length) & this.#mask;
    this.#sequences[at] = sequence;
    this.#hashes[at] = lineHash;
    const ledger = this.context.ledger;
    this.#length = length + 1;
    this.expectedLines++;
    this.expectedDigest = Math.imul(this.expectedDigest ^ lineHash, PRIME);
    ledger.pending++;
    // The rare cases out of line: the rest is what every notification pays.
    if (length === 0 || length + 1 === ledger.perClientLimit) this.#owedMore(ledger);
  }

  // The ring just became non-empty, or reached the per-client limit.
  #owedMore(ledger: Ledger): void {
    if (this.#length === 1) this.waitingSince = ledger.clock;
    if (this.#length === ledger.perClientLimit && !this.#overLimit) {
      this.#overLimit = true;
      ledger.clientsOverLimit++;
    }
  }

  /**
   * Checks `chunk[0 .. end-1]`. Returns false, with `failure` set, at the first line that is
   * not exactly the expected one; the stream must not be fed after that.
   */
  receive(chunk: Uint8Array, end: number): boolean {
    const from = this.#head;
    const owed = this.#length;
    const registered = this.registered;
    const verified = this.#verify(chunk, end);
    // The matched lines are the ring's first `owed - length` (before a failure too), unless
    // the chunk registered the client (which appends to the ring and may move it): a warm-up
    // chunk, whose lines are not recorded anyway.
    if (this.registered === registered) {
      this.streamDigest = this.#chunkStreamDigest;
      this.#recordMatched(from, owed - this.#length);
    }
    return verified;
  }

  // The byte loop of `receive()`. Latency is recorded outside it, so the loop stays as it
  // was: with the recording inside, V8 deoptimised it over and over ("insufficient type
  // feedback": 36 times in a 1M-event run, against 4 now).
  #verify(chunk: Uint8Array, end: number): boolean {
    let sequences = this.#sequences;
    let hashes = this.#hashes;
    let mask = this.#mask;
    let head = this.#head;
    let length = this.#length;
    let hash = this.#lineHash;
    let sequence = this.#lineSequence;
    let parse = this.#parse;
    const delimiterByte = this.#delimiterByte;
    // The next line must be an opening line (epoch or gap): never matched on the fast path.
    let openingDue = this.#epochDue || this.#gapDue;
    let lastSequence = this.#lastSequence;
    let digest = this.receivedDigest;
    let streamDigest = this.streamDigest;
    const warmupSent = this.context.warmupSent;
    let lineStart = 0;
    let lines = 0;
    let matched = 0;

    // Per line: a loop over the digits of the sequence number, then a bare hashing loop up
    // to the LF. Either loop may run out of chunk; the state carries over to the next one.
    let i = 0;
    while (i < end) {
      let byte = NONE;
      if (parse === IN_DIGITS) {
        while (i < end) {
          byte = chunk[i++] as number;
          hash = Math.imul(hash ^ byte, PRIME);
          const digit = byte - DIGIT_0;
          if (digit < 0 || digit > 9) break;
          sequence = sequence * 10 + digit;
          byte = NONE;
        }
        if (byte === NONE) break;
        parse = byte === delimiterByte && sequence !== 0 ? SEQUENCE_READ : NO_SEQUENCE;
      }
      while (byte !== LF && i < end) {
        byte = chunk[i++] as number;
        hash = Math.imul(hash ^ byte, PRIME);
      }
      if (byte !== LF) break;

      if (
        parse === SEQUENCE_READ &&
        !openingDue &&
        length !== 0 &&
        sequences[head] === sequence &&
        hashes[head] === hash
      ) {
        head = (head + 1) & mask;
        length--;
        matched++;
        // By its position in the stream: the warm-up is left out.
        if (sequence > warmupSent)
          streamDigest = Math.imul(streamDigest ^ (sequence - warmupSent), PRIME);
      } else {
        this.#head = head;
        this.#length = length;
        this.#lastSequence = lastSequence;
        this.receivedDigest = digest;
        this.#chunkStreamDigest = streamDigest;
        const lineNumber = this.lines + lines + 1;
        const line = { chunk, start: lineStart, end: i };
        const verdict = this.#unmatched(lineNumber, line, sequence, hash, parse);
        if (verdict === REJECTED) return false;
        sequences = this.#sequences;
        hashes = this.#hashes;
        mask = this.#mask;
        head = this.#head;
        length = this.#length;
        streamDigest = this.#chunkStreamDigest;
        openingDue = this.#epochDue || this.#gapDue;
        if (verdict === NOT_COUNTED) {
          hash = OFFSET;
          sequence = 0;
          parse = IN_DIGITS;
          lineStart = i;
          continue;
        }
      }
      digest = Math.imul(digest ^ hash, PRIME);
      lastSequence = sequence;
      lines++;
      hash = OFFSET;
      sequence = 0;
      parse = IN_DIGITS;
      lineStart = i;
    }
    this.#head = head;
    this.#length = length;
    this.#lastSequence = lastSequence;
    this.#lineHash = hash;
    this.#lineSequence = sequence;
    this.#parse = parse;
    this.receivedDigest = digest;
    this.#chunkStreamDigest = streamDigest;
    this.lines += lines;
    this.#keepPartial(chunk, lineStart, end);

    const ledger = this.context.ledger;
    ledger.pending -= matched;
    ledger.received += lines;
    if (lines > 0) this.waitingSince = ledger.clock;
    this.#drained(ledger);
    return true;
  }

  // The ring shrank: the client is no longer over its limit once at half of it.
  #drained(ledger: Ledger): void {
    if (this.#overLimit && this.#length <= ledger.perClientLimit / 2) {
      this.#overLimit = false;
      ledger.clientsOverLimit--;
    }
  }

  /**
   * The connection dropped: the line being received is lost, everything in the ring stays
   * owed to the next connection.
   */
  dropped(): void {
    this.#lineHash = OFFSET;
    this.#lineSequence = 0;
    this.#parse = IN_DIGITS;
    this.#partialLength = 0;
    this.#gapAllowed = false;
    // Cut before the gap line its epoch line announced: unexplained, that number is not
    // taken (resuming after it would skip what the gap line says is lost, in silence).
    if (this.#gapDue) this.#epochLast = this.#lastResumed;
    this.#gapDue = false;
    this.context.ledger.reconnects.drops++;
  }

  /**
   * What follows the id field on the first connection of a client that will drop, `|-`
   * (the id field is the user id, or a token in its place): its stream must open with the
   * epoch line.
   */
  awarePart(): string {
    this.#epochDue = true;
    return '|-';
  }

  /**
   * What follows the id field on a new connection after a drop, `|LASTSEQ|EPOCH`: from now on, its stream is judged as a resumed one. A
   * connection drops after a whole line, so the epoch line of the first one was read.
   */
  resumePart(): string {
    const ledger = this.context.ledger;
    ledger.reconnects.resumes++;
    ledger.reconnects.owedOnResume += this.#length;
    this.#gapAllowed = true;
    this.#linesAtResume = this.lines;
    this.#repeatsUpTo = 0;
    this.waitingSince = ledger.clock;
    this.#epochDue = true;
    // The greater: what the connection received is above its epoch line's number, and
    // after `!GAP|ahead` that number is below what the client already had.
    this.#lastResumed = Math.max(this.#lastSequence, this.#epochLast);
    return `|${this.#lastResumed}|${this.#epoch}`;
  }

  // Records the latency of the `count` matched lines from ring position `from` on, read at
  // the ledger's clock: one call per run of lines of one batch. The ring is in sequence
  // order, so each run's end is found by a binary search, not line by line.
  #recordMatched(from: number, count: number): void {
    const sequences = this.#sequences;
    const mask = this.#mask;
    const latency = this.#latency;
    const readAt = this.context.ledger.clock;
    let n = 0;
    while (n < count) {
      const batch = latency.batchOf(sequences[(from + n) & mask] as number);
      const runEnd = latency.endOf(batch);
      // The first line at or after `runEnd`, or `count`.
      let low = n + 1;
      let high = count;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((sequences[(from + middle) & mask] as number) >= runEnd) high = middle;
        else low = middle + 1;
      }
      latency.record(batch, readAt, low - n);
      n = low;
    }
  }

  /** The failure for a client that waited too long for `nextExpected`. */
  timedOut(waitedMs: number): SimulationFailure {
    const expected = this.#describeExpected(this.nextExpected);
    return this.#failure(
      Code.Timeout,
      `waited more than ${Math.round(waitedMs)} ms for line ${this.lines + 1}: expected ${expected}` +
        ` (${this.lines} lines received, ${this.#length} still owed)`,
      { lineNumber: this.lines + 1, expected },
    );
  }

  // A line that is not the head of the ring: a registering warm-up broadcast, a `!GAP`
  // line or a repeat on a resumed connection, or a failure. `line`: where it ends in the
  // chunk, and where it starts if it started in it.
  #unmatched(
    lineNumber: number,
    line: { readonly chunk: Uint8Array; readonly start: number; readonly end: number },
    sequence: number,
    hash: number,
    parse: number,
  ): typeof REJECTED | typeof COUNTED | typeof NOT_COUNTED {
    const context = this.context;
    const got = this.#quote(line.chunk, line.start, line.end);
    if (this.#epochDue) return this.#epochLine(lineNumber, line, got);
    const gap =
      parse !== SEQUENCE_READ && this.#gapAllowed && lineNumber === this.#linesAtResume + 1
        ? GAP_LINE.exec(this.#text(line.chunk, line.start, line.end))
        : null;
    if (gap !== null ? Number(gap[2]) !== this.#epochLast + 1 : this.#gapDue) {
      return this.#reject(
        Code.Epoch,
        `line ${lineNumber}: the epoch line said the notifications start after ${this.#epochLast} (the client resumed after ${this.#lastResumed}), which only a gap line !GAP|…|${this.#epochLast + 1} right after it may say; got ${got}`,
        { lineNumber, got, expected: `!GAP|…|${this.#epochLast + 1}` },
      );
    }
    if (parse !== SEQUENCE_READ) {
      if (gap !== null) {
        this.#gap(gap[1] as GapReason, Number(gap[2]), lineNumber - 1);
        return NOT_COUNTED;
      }
      return this.#reject(Code.BadLine, `line ${lineNumber} has no sequence number: got ${got}`, {
        lineNumber,
        got,
      });
    }
    if (sequence <= this.#repeatsUpTo && this.#lastSequence <= this.#repeatsUpTo) {
      context.ledger.reconnects.repeats++;
      return NOT_COUNTED;
    }
    if (!this.registered && this.#length === 0) {
      const warmupLine = sequence <= context.warmupSent ? context.lineOf(sequence) : undefined;
      if (warmupLine !== undefined && hashLine(warmupLine) === hash) {
        this.#register(sequence, hash);
        return COUNTED;
      }
      return this.#reject(
        Code.Unexpected,
        `line ${lineNumber}: expected a warm-up broadcast (1..${context.warmupSent}), got ${got}`,
        { lineNumber, got, expected: `a warm-up broadcast 1..${context.warmupSent}` },
      );
    }
    const gotEvent = `event ${sequence} ${got}`;
    if (sequence <= this.#lastSequence) {
      return this.#reject(
        Code.OutOfOrder,
        `line ${lineNumber}: got ${gotEvent} after event ${this.#lastSequence}: sequence numbers` +
          ' must increase (a duplicate or a reordered notification)',
        { lineNumber, got, expected: `a number above ${this.#lastSequence}` },
      );
    }
    if (this.#length === 0) {
      return this.#reject(
        Code.Unexpected,
        `line ${lineNumber}: got ${gotEvent}, which user ${this.userId} must not receive` +
          ' (nothing more is owed to it so far)',
        { lineNumber, got, expected: 'nothing' },
      );
    }
    const nextExpected = this.nextExpected;
    const expected = this.#describeExpected(nextExpected);
    if (sequence === nextExpected) {
      return this.#reject(
        Code.Content,
        `line ${lineNumber}: expected ${expected}, got different bytes ${got}`,
        { lineNumber, got, expected },
      );
    }
    if (sequence > nextExpected) {
      return this.#reject(
        Code.Missing,
        `line ${lineNumber}: expected ${expected}, got ${gotEvent}: event ${nextExpected} is` +
          ' missing or out of order',
        { lineNumber, got, expected },
      );
    }
    return this.#reject(
      Code.Unexpected,
      `line ${lineNumber}: expected ${expected}, got ${gotEvent}, which user ${this.userId}` +
        ' must not receive',
      { lineNumber, got, expected },
    );
  }

  // The line that must open a resume-aware connection: `!EPOCH|…`, with the epoch the first
  // connection was given.
  #epochLine(
    lineNumber: number,
    line: { readonly chunk: Uint8Array; readonly start: number; readonly end: number },
    got: string,
  ): typeof REJECTED | typeof NOT_COUNTED {
    const fields = EPOCH_LINE.exec(this.#text(line.chunk, line.start, line.end));
    const epoch = fields?.[1];
    if (epoch === undefined) {
      return this.#reject(
        Code.Epoch,
        `line ${lineNumber}: expected the epoch line !EPOCH|… first (the client identified in a resume form), got ${got}`,
        { lineNumber, got, expected: '!EPOCH|…' },
      );
    }
    if (this.#epoch !== undefined && epoch !== this.#epoch) {
      return this.#reject(
        Code.Epoch,
        `line ${lineNumber}: the server's epoch is ${epoch}, not ${this.#epoch} as when the client first connected: its stream started again during the run, so the numbers the client resumes after name other events`,
        { lineNumber, got, expected: `!EPOCH|${this.#epoch}` },
      );
    }
    const last = Number(fields?.[2]);
    this.#epoch = epoch;
    this.#epochDue = false;
    this.#epochLast = last;
    // Only a gap explains a resumed connection starting elsewhere than where it asked.
    this.#gapDue = this.#gapAllowed && last !== this.#lastResumed;
    return NOT_COUNTED;
  }

  // `!GAP|reason|next` opened the resumed connection: the lines numbered below `next` are
  // no longer owed, and after `ahead` the lines up to LASTSEQ may come again. `received`:
  // lines received so far, all of them matched.
  #gap(reason: GapReason, next: number, received: number): void {
    const ledger = this.context.ledger;
    ledger.reconnects.refused[reason]++;
    this.#gapAllowed = false;
    this.#gapDue = false;
    if (reason === 'ahead') this.#repeatsUpTo = this.#lastResumed;
    const sequences = this.#sequences;
    const hashes = this.#hashes;
    const mask = this.#mask;
    const warmupSent = this.context.warmupSent;
    let skipped = 0;
    while (this.#length > 0 && (sequences[this.#head] as number) < next) {
      // The stream digest counts the lines a gap skipped as it always did: by position.
      const position = (sequences[this.#head] as number) - warmupSent;
      if (position > 0) this.#chunkStreamDigest = foldDigest(this.#chunkStreamDigest, position);
      this.#head = (this.#head + 1) & mask;
      this.#length--;
      skipped++;
    }
    ledger.pending -= skipped;
    ledger.reconnects.skipped += skipped;
    // Owed so far: what was received, then what the ring still holds.
    let digest = this.receivedDigest;
    for (let n = 0; n < this.#length; n++) {
      digest = foldDigest(digest, hashes[(this.#head + n) & mask] as number);
    }
    this.expectedDigest = digest;
    this.expectedLines = received + this.#length;
    this.#drained(ledger);
  }

  // The first warm-up broadcast received: the server registered the client before it, so
  // the client is owed every later warm-up broadcast already sent.
  #register(sequence: number, hash: number): void {
    this.registered = true;
    this.context.ledger.registered++;
    this.expectedLines++;
    this.expectedDigest = foldDigest(this.expectedDigest, hash);
    for (let later = sequence + 1; later <= this.context.warmupSent; later++) {
      this.expect(later, hashLine(this.context.lineOf(later) ?? ''));
    }
  }

  #reject(
    code: SimulationErrorCode,
    message: string,
    context: { lineNumber: number; got: string; expected?: string },
  ): typeof REJECTED {
    this.failure = this.#failure(code, message, context);
    return REJECTED;
  }

  #failure(
    code: SimulationErrorCode,
    message: string,
    context: { lineNumber: number; got?: string; expected?: string },
  ): SimulationFailure {
    return simulationFailure(code, `${this.name}, ${message}`, {
      connection: `client#${this.index}`,
      userId: this.userId,
      ...context,
    });
  }

  #describeExpected(sequence: number): string {
    const line = this.context.lineOf(sequence);
    return line === undefined ? `event ${sequence}` : `event ${sequence} ${JSON.stringify(line)}`;
  }

  // The received line as JSON, shortened to MAX_QUOTED_BYTES bytes.
  #quote(chunk: Uint8Array, start: number, end: number): string {
    const text = this.#text(chunk, start, end);
    const earlier = start === 0 ? this.#partialLength : 0;
    return JSON.stringify(text) + (earlier + end - start > text.length ? '…' : '');
  }

  // The received line's first MAX_QUOTED_BYTES bytes, from its bytes kept from earlier
  // chunks plus this chunk. Only a line that starts the chunk can have begun in an earlier one.
  #text(chunk: Uint8Array, start: number, end: number): string {
    const earlier = start === 0 ? this.#partialLength : 0;
    const take = Math.min(end - start, MAX_QUOTED_BYTES - earlier);
    let text = '';
    for (let i = 0; i < earlier; i++) text += String.fromCharCode(this.#partial[i] as number);
    for (let i = start; i < start + take; i++) text += String.fromCharCode(chunk[i] as number);
    return text;
  }

  // Keeps the first bytes of a line that continues in the next chunk. A line that starts
  // after 0 is a new one (a line ended before it in this chunk).
  #keepPartial(chunk: Uint8Array, lineStart: number, end: number): void {
    if (lineStart !== 0) this.#partialLength = 0;
    const take = Math.min(end - lineStart, MAX_QUOTED_BYTES - this.#partialLength);
    if (take <= 0) return;
    this.#partial.set(chunk.subarray(lineStart, lineStart + take), this.#partialLength);
    this.#partialLength += take;
  }

  #grow(): void {
    const size = this.#sequences.length * 2;
    const sequences = new Float64Array(size);
    const hashes = new Int32Array(size);
    for (let i = 0; i < this.#length; i++) {
      const from = (this.#head + i) & this.#mask;
      sequences[i] = this.#sequences[from] as number;
      hashes[i] = this.#hashes[from] as number;
    }
    this.#sequences = sequences;
    this.#hashes = hashes;
    this.#mask = size - 1;
    this.#head = 0;
  }
}

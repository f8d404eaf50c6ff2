import { describe, expect, it } from '@jest/globals';
import { BroadcastLog } from '../../lib/simulate/broadcast-log.js';
import { ClientStream, Ledger, type StreamContext } from '../../lib/simulate/client-stream.js';
import { hashLine } from '../../lib/simulate/hash.js';
import { mulberry32, type Rng, randomInt } from '../helpers/streams.js';

const DELIMITER = '|'.charCodeAt(0);

/**
 * Two worlds fed the same events and the same bytes: in `shared`, broadcasts are owed once
 * through the log; in `plain`, every line is owed to each client one by one (`expect()`), as
 * a client stream alone does. Every observable of each client must be the same in both.
 */
class Twins {
  readonly lines = new Map<number, string>();
  readonly shared: { context: StreamContext; log: BroadcastLog; clients: ClientStream[] };
  readonly plain: { context: StreamContext; clients: ClientStream[] };
  // What each client has been owed, in order, and how many of them it received.
  readonly owed: number[][] = [];
  readonly taken: number[] = [];
  sequence = 0;
  // Each client's LASTSEQ when it last resumed, and the epoch line's LAST it was given.
  readonly resumedAfter: number[] = [];

  constructor(perClientLimit: number) {
    const contextOf = (broadcasts?: BroadcastLog): StreamContext => {
      const ledger = new Ledger(perClientLimit, 1e9);
      ledger.latency.startRecording(0, 0);
      return {
        ledger,
        warmupSent: 0,
        delimiterByte: DELIMITER,
        lineOf: (sequence) => this.lines.get(sequence),
        ...(broadcasts && { broadcasts }),
      };
    };
    const log = new BroadcastLog(perClientLimit);
    this.shared = { context: contextOf(log), log, clients: [] };
    this.plain = { context: contextOf(), clients: [] };
  }

  join(aware: boolean): void {
    const index = this.owed.length;
    for (const world of [this.shared, this.plain]) {
      const client = new ClientStream(index, 100 + index, world.context);
      client.registered = true;
      if (aware) client.awarePart();
      world.clients.push(client);
    }
    this.owed.push([]);
    this.taken.push(0);
    this.resumedAfter.push(0);
  }

  // A new event: a batch of its own, written at the ledger clock.
  #event(line: (sequence: number) => string): { sequence: number; hash: number } {
    const sequence = ++this.sequence;
    const text = line(sequence);
    this.lines.set(sequence, text);
    for (const { context } of [this.shared, this.plain]) {
      context.ledger.latency.mark(sequence);
      context.ledger.latency.wrote(context.ledger.clock);
    }
    return { sequence, hash: hashLine(text) };
  }

  broadcast(): void {
    const { sequence, hash } = this.#event((n) => `${n}|B\n`);
    const ledger = this.shared.context.ledger;
    this.shared.log.owe(sequence, hash, ledger.clock, ledger);
    for (const client of this.plain.clients) client.expect(sequence, hash);
    for (const owed of this.owed) owed.push(sequence);
  }

  /** One line owed to `recipients` alone (a private message, or a status update). */
  privately(recipients: number[]): void {
    const { sequence, hash } = this.#event((n) =>
      recipients.length === 1 ? `${n}|P|7|${100 + (recipients[0] ?? 0)}\n` : `${n}|S|7\n`,
    );
    for (const index of recipients) {
      this.shared.clients[index]?.expect(sequence, hash);
      this.plain.clients[index]?.expect(sequence, hash);
      this.owed[index]?.push(sequence);
    }
  }

  tick(ms: number): void {
    this.shared.context.ledger.clock += ms;
    this.plain.context.ledger.clock += ms;
  }

  /** Both twins of client `index` read `text`, cut at the same random points. */
  feed(rng: Rng, index: number, text: string): boolean[] {
    const bytes = Buffer.from(text, 'latin1');
    const cuts: number[] = [];
    for (let at = 0; at < bytes.length; at += randomInt(rng, 1, 40)) cuts.push(at);
    cuts.push(bytes.length);
    return [this.shared, this.plain].map((world) => {
      const client = world.clients[index] as ClientStream;
      for (let n = 0; n + 1 < cuts.length; n++) {
        const chunk = bytes.subarray(cuts[n], cuts[n + 1]);
        if (!client.receive(chunk, chunk.length)) return false;
      }
      return true;
    });
  }

  /** The next `count` lines owed to client `index`, as the server sends them. */
  next(index: number, count: number): string {
    const owed = this.owed[index] as number[];
    const from = this.taken[index] as number;
    return owed
      .slice(from, from + count)
      .map((sequence) => this.lines.get(sequence))
      .join('');
  }

  expectSame(): void {
    const view = (client: ClientStream) => ({
      lines: client.lines,
      pending: client.pending,
      nextExpected: client.nextExpected,
      expectedLines: client.expectedLines,
      expectedDigest: client.expectedDigest,
      receivedDigest: client.receivedDigest,
      streamDigest: client.streamDigest,
      waitingSince: client.waitingSince,
      failure: client.failure && {
        code: client.failure.code,
        message: client.failure.message,
        context: client.failure.context,
      },
    });
    const ledgerView = (ledger: Ledger) => ({
      pending: ledger.pending,
      received: ledger.received,
      clientsOverLimit: ledger.clientsOverLimit,
      mustPause: ledger.mustPause,
      mayResume: ledger.mayResume,
      reconnects: ledger.reconnects,
      latency: ledger.latency.summary(),
      recorded: ledger.latency.count,
    });
    expect(this.shared.clients.map(view)).toEqual(this.plain.clients.map(view));
    expect(ledgerView(this.shared.context.ledger)).toEqual(ledgerView(this.plain.context.ledger));
  }
}

const epochLine = (last: number) => `!EPOCH|77|${last}\n`;

describe('BroadcastLog: clients reading shared broadcasts behave as if each was owed them', () => {
  it('random interleavings of broadcasts, private lines, status updates, joins, drops, gaps and faults', () => {
    for (let seed = 1; seed <= 80; seed++) {
      const rng = mulberry32(seed);
      const twins = new Twins(randomInt(rng, 3, 12));
      const aware = rng() < 0.5;
      twins.join(aware);
      twins.join(aware);
      // Client 1 stalls: it never reads (it stops the pacing, and holds the log back).
      const stalled = 1;
      let failed = false;
      const epochDue = twins.owed.map(() => aware);
      for (let step = 0; step < 400 && !failed; step++) {
        twins.tick(randomInt(rng, 0, 3));
        const op = rng();
        const readers = twins.owed.length;
        if (op < 0.3) twins.broadcast();
        else if (op < 0.45) twins.privately([randomInt(rng, 0, readers - 1)]);
        else if (op < 0.55) {
          twins.privately([...Array(readers).keys()].filter(() => rng() < 0.5));
        } else if (op < 0.58 && readers < 6) {
          twins.join(aware);
          epochDue.push(aware);
        } else {
          const index = randomInt(rng, 0, readers - 1);
          if (index === stalled && seed % 3 !== 0) continue;
          const available = (twins.owed[index]?.length ?? 0) - (twins.taken[index] ?? 0);
          const count = randomInt(rng, 0, available);
          let text = epochDue[index] ? epochLine(twins.resumedAfter[index] ?? 0) : '';
          epochDue[index] = false;
          const fault = rng();
          const owed = twins.owed[index] as number[];
          const at = (twins.taken[index] ?? 0) + count;
          if (fault < 0.01 && at + 1 < owed.length) {
            // A line left out: the next one comes first.
            text += twins.next(index, count) + twins.lines.get(owed[at + 1] as number);
            failed = true;
          } else if (fault < 0.015) {
            // A line nobody is owed (a number not used yet).
            text += `${twins.next(index, count)}${twins.sequence + 5}|B\n`;
            failed = true;
          } else if (fault < 0.02 && count > 0) {
            // A line repeated.
            const last = twins.lines.get(owed[at - 1] as number);
            text += `${twins.next(index, count)}${last}`;
            failed = true;
          } else if (fault < 0.2 && aware && !failed) {
            // Received `count` lines, then the connection drops; the next one resumes, and a
            // trimmed history skips what the server no longer has, in both rings.
            text += twins.next(index, count);
            expect(twins.feed(rng, index, text)).toEqual([true, true]);
            twins.taken[index] = at;
            const resumed = [twins.shared, twins.plain].map(({ clients }) => {
              const client = clients[index] as ClientStream;
              client.dropped();
              return client.resumePart();
            });
            expect(resumed[0]).toBe(resumed[1]);
            const lastSeq = Number(resumed[0]?.split('|')[1]);
            const skip = randomInt(rng, 0, owed.length - at);
            if (skip === 0) {
              text = epochLine(lastSeq);
            } else {
              const next = (owed[at + skip - 1] as number) + 1;
              text = `${epochLine(next - 1)}!GAP|trimmed|${next}\n`;
              twins.taken[index] = at + skip;
            }
            twins.resumedAfter[index] = lastSeq;
            expect(twins.feed(rng, index, text)).toEqual([true, true]);
            twins.expectSame();
            continue;
          } else {
            text += twins.next(index, count);
          }
          const results = twins.feed(rng, index, text);
          expect(results[0]).toBe(results[1]);
          if (!failed) {
            expect(results).toEqual([true, true]);
            twins.taken[index] = at;
          } else {
            expect(results).toEqual([false, false]);
          }
        }
        twins.expectSame();
      }
      twins.expectSame();
    }
  });

  it('a client that joins later owes only the broadcasts after it', () => {
    const twins = new Twins(100);
    twins.join(false);
    twins.broadcast();
    twins.broadcast();
    twins.join(false);
    twins.broadcast();
    const late = twins.shared.clients[1] as ClientStream;
    expect(late.pending).toBe(1);
    expect(late.nextExpected).toBe(3);
    expect(twins.feed(mulberry32(1), 1, '3|B\n')).toEqual([true, true]);
    expect(late.expectedLines).toBe(1);
    twins.expectSame();
  });

  it('names the broadcast owed next when it comes before the client’s own line', () => {
    const twins = new Twins(100);
    twins.join(false);
    twins.privately([0]);
    twins.broadcast();
    twins.privately([0]);
    expect(twins.feed(mulberry32(2), 0, '1|P|7|100\n3|P|7|100\n')).toEqual([false, false]);
    const failure = twins.shared.clients[0]?.failure;
    expect(failure?.code).toBe('ERR_SIM_MISSING');
    expect(failure?.message).toContain('expected event 2 "2|B\\n", got event 3');
    twins.expectSame();
  });

  it('stays as long as the client furthest behind, and no longer once it catches up', () => {
    const twins = new Twins(1e6);
    twins.join(false);
    twins.join(false);
    const rng = mulberry32(3);
    for (let n = 0; n < 5_000; n++) {
      twins.broadcast();
      // Client 0 keeps up; client 1 stalls.
      if (n % 100 === 99) {
        expect(twins.feed(rng, 0, twins.next(0, 100))).toEqual([true, true]);
        twins.taken[0] = (twins.taken[0] ?? 0) + 100;
      }
    }
    const log = twins.shared.log;
    expect(log.size).toBe(5_000);
    expect(log.sequences.length).toBeLessThanOrEqual(8_192);
    // Client 1 catches up: from then on the log keeps only what someone still owes.
    expect(twins.feed(rng, 1, twins.next(1, 5_000))).toEqual([true, true]);
    twins.taken[1] = 5_000;
    for (let n = 0; n < 20_000; n++) {
      twins.broadcast();
      if (n % 100 === 99) {
        for (const index of [0, 1]) {
          expect(twins.feed(rng, index, twins.next(index, 100))).toEqual([true, true]);
          twins.taken[index] = (twins.taken[index] ?? 0) + 100;
        }
      }
    }
    expect(log.sequences.length).toBe(8_192);
    expect(log.size).toBeLessThanOrEqual(8_192);
    twins.expectSame();
  });

  it('counts a client over its limit on the broadcast that reaches it, until it drains to half', () => {
    const twins = new Twins(4);
    twins.join(false);
    twins.join(false);
    twins.privately([1]);
    twins.broadcast();
    twins.broadcast();
    expect(twins.shared.context.ledger.clientsOverLimit).toBe(0);
    twins.broadcast();
    expect(twins.shared.context.ledger.clientsOverLimit).toBe(1);
    twins.expectSame();
    expect(twins.feed(mulberry32(4), 1, twins.next(1, 2))).toEqual([true, true]);
    twins.taken[1] = 2;
    expect(twins.shared.context.ledger.clientsOverLimit).toBe(0);
    twins.expectSame();
  });
});

import { describe, expect, it } from '@jest/globals';
import { EventGenerator } from '../../lib/simulate/generator.js';
import { FNV_OFFSET, foldDigest, hashLine } from '../../lib/simulate/hash.js';
import { resolveSimulateOptions, type SimulateOptions } from '../../lib/simulate/options.js';
import { SeededRandom } from '../../lib/simulate/random.js';

const LIMITS = { perClientLimit: 1e9, totalLimit: 1e12 };

function generator(options: SimulateOptions): EventGenerator {
  return new EventGenerator(resolveSimulateOptions(options as Record<string, unknown>), LIMITS);
}

/** The bytes generated since the last take, as text. */
function takeText(events: EventGenerator): string {
  return Buffer.from(events.takeOutput()).toString('latin1');
}

/** Every batch until done. */
function batches(events: EventGenerator): string[] {
  const all: string[] = [];
  while (!events.done) {
    events.nextBatch();
    all.push(takeText(events));
  }
  return all;
}

function linesOf(batch: string): string[] {
  return batch.match(/[^\n]*\n/g) ?? [];
}

const SMALL = { totalEvents: 5_000, concurrencyLevel: 12, numberOfUsers: 40 };

describe('EventGenerator: determinism', () => {
  it('the same seed gives the same users, batches and expectations', () => {
    const a = generator({ ...SMALL, randomSeed: 42 });
    const b = generator({ ...SMALL, randomSeed: 42 });
    expect(a.clients.map((client) => client.userId)).toEqual(
      b.clients.map((client) => client.userId),
    );
    expect(batches(a)).toEqual(batches(b));
    expect(a.clients.map((client) => client.expectedDigest)).toEqual(
      b.clients.map((client) => client.expectedDigest),
    );
  });

  it('another seed gives other events', () => {
    expect(batches(generator({ ...SMALL, randomSeed: 1 }))).not.toEqual(
      batches(generator({ ...SMALL, randomSeed: 2 })),
    );
  });

  it('connects distinct users from 1..numberOfUsers', () => {
    const users = generator({ concurrencyLevel: 50, numberOfUsers: 50 }).clients.map(
      (client) => client.userId,
    );
    expect([...users].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('SeededRandom stays within its bounds', () => {
    const random = new SeededRandom(666);
    for (let i = 0; i < 10_000; i++) {
      const value = random.below(7);
      expect(value >= 0 && value < 7 && Number.isInteger(value)).toBe(true);
    }
    expect(random.below(4_294_967_296)).toBeLessThan(4_294_967_296);
  });
});

describe('EventGenerator: the stream', () => {
  it('sends exactly totalEvents, numbered on from the warm-up, in shuffled batches of 1..max', () => {
    const events = generator({ ...SMALL, maxEventSourceBatchSize: 20 });
    events.warmupBroadcast();
    expect(takeText(events)).toBe('1|B\n');
    const all = batches(events);
    let next = 2;
    let shuffled = 0;
    for (const batch of all) {
      const sequences = linesOf(batch).map((line) => Number(line.split('|')[0]));
      expect(sequences.length).toBeGreaterThanOrEqual(1);
      expect(sequences.length).toBeLessThanOrEqual(20);
      const sorted = [...sequences].sort((x, y) => x - y);
      expect(sorted).toEqual(Array.from({ length: sequences.length }, (_, i) => next + i));
      if (sorted.some((sequence, i) => sequence !== sequences[i])) shuffled++;
      next += sequences.length;
    }
    expect(next).toBe(5_002);
    expect(shuffled).toBeGreaterThan(all.length / 2);
  });

  it.each([
    ['lf', '\n'],
    ['crlf', '\r\n'],
  ] as const)('ends every event with %s', (eventTerminator, terminator) => {
    const events = generator({ ...SMALL, totalEvents: 500, eventTerminator });
    for (const line of linesOf(batches(events).join(''))) {
      expect(line.endsWith(terminator)).toBe(true);
      expect(line.slice(0, -terminator.length)).toMatch(
        /^\d+\|(F\|\d+\|\d+|U\|\d+\|\d+|B|P\|\d+\|\d+|S\|\d+)$/,
      );
      expect(events.lineOf(Number(line.split('|')[0]))).toBe(line);
    }
  });

  it.each([';', '\xa7', ' '])(
    'splits the fields on its delimiter %j, the warm-up and lineOf() too',
    (delimiter) => {
      const events = generator({ ...SMALL, totalEvents: 500, delimiter });
      expect(events.delimiterByte).toBe(delimiter.charCodeAt(0));
      events.warmupBroadcast();
      expect(takeText(events)).toBe(`1${delimiter}B\n`);
      const fieldCount: Record<string, number> = { F: 4, U: 4, B: 2, P: 4, S: 3 };
      for (const line of linesOf(batches(events).join(''))) {
        const [sequence, type, ...users] = line.slice(0, -1).split(delimiter);
        expect(users.length + 2).toBe(fieldCount[type as string]);
        for (const number of [sequence, ...users]) expect(number).toMatch(/^\d+$/);
        expect(line).not.toContain('|');
        expect(events.lineOf(Number(line.split(delimiter)[0]))).toBe(line);
      }
    },
  );

  it('follows the mix weights', () => {
    const counts = new Map<string, number>();
    for (const line of linesOf(batches(generator({ ...SMALL, totalEvents: 20_000 })).join(''))) {
      const type = line.split('|')[1]?.slice(0, 1) ?? '?';
      counts.set(type, (counts.get(type) ?? 0) + 1);
    }
    // F:30,U:10,B:5,P:25,S:30, within a few percent.
    for (const [type, weight] of [
      ['F', 30],
      ['U', 10],
      ['B', 5],
      ['P', 25],
      ['S', 30],
    ] as const) {
      expect(Math.abs((counts.get(type) ?? 0) / 200 - weight)).toBeLessThan(2);
    }
  });

  it('with broadcasts only, every client is owed every event', () => {
    const events = generator({ ...SMALL, totalEvents: 300, eventMix: 'B:1' });
    batches(events);
    for (const client of events.clients) expect(client.expectedLines).toBe(300);
  });

  it('with unfollows only, nobody is owed anything', () => {
    const events = generator({ ...SMALL, totalEvents: 300, eventMix: 'U:1' });
    batches(events);
    expect(events.ledger.pending).toBe(0);
  });
});

describe('EventGenerator: the reference model agrees with a naive one', () => {
  it.each([1, 666, 2024])(
    'seed %i: every client is owed exactly the docs/protocol.md §3 notifications',
    (seed) => {
      const events = generator({ ...SMALL, randomSeed: seed, eventTerminator: 'crlf' });
      events.warmupBroadcast();
      expect(takeText(events)).toBe('1|B\r\n');
      for (const client of events.clients) client.registered = true;
      const lines = linesOf(batches(events).join('')).sort(
        (x, y) => Number(x.split('|')[0]) - Number(y.split('|')[0]),
      );

      // A deliberately plain model: a Map of Sets, applied in sequence order.
      const connected = new Set(events.clients.map((client) => client.userId));
      const followers = new Map<number, Set<number>>();
      const owed = new Map<number, number[]>();
      const notify = (user: number, line: string): void => {
        if (connected.has(user)) owed.set(user, [...(owed.get(user) ?? []), hashLine(line)]);
      };
      for (const line of lines) {
        const [, type, from, to] = line.trimEnd().split('|');
        if (type === 'F') {
          followers.set(Number(to), (followers.get(Number(to)) ?? new Set()).add(Number(from)));
          notify(Number(to), line);
        } else if (type === 'U') {
          followers.get(Number(to))?.delete(Number(from));
        } else if (type === 'B') {
          for (const user of connected) notify(user, line);
        } else if (type === 'P') {
          notify(Number(to), line);
        } else if (type === 'S') {
          for (const user of followers.get(Number(from)) ?? []) notify(user, line);
        }
      }

      for (const client of events.clients) {
        const hashes = owed.get(client.userId) ?? [];
        // Nothing was owed before the warm-up broadcast was sent: clients were not registered.
        expect(client.expectedLines).toBe(hashes.length);
        expect(client.expectedDigest).toBe(hashes.reduce(foldDigest, FNV_OFFSET));
      }
      expect(events.ledger.pending).toBeGreaterThan(5_000);
    },
  );
});

describe('EventGenerator: users for the stalled clients', () => {
  it('picks distinct users the events pick from, none of them connected', () => {
    const events = generator(SMALL);
    const connected = new Set(events.clients.map((client) => client.userId));
    const users = events.unconnectedUsers(5);
    expect(new Set(users).size).toBe(5);
    for (const user of users) {
      expect(connected.has(user)).toBe(false);
      expect(user).toBeGreaterThanOrEqual(1);
      expect(user).toBeLessThanOrEqual(SMALL.numberOfUsers);
    }
  });

  it('leaves the events of a seed alone', () => {
    const plain = generator({ ...SMALL, randomSeed: 3 });
    const other = generator({ ...SMALL, randomSeed: 3 });
    other.unconnectedUsers(3);
    expect(batches(other)).toEqual(batches(plain));
  });

  it('goes above numberOfUsers when few users are left', () => {
    const events = generator({ totalEvents: 10, concurrencyLevel: 10, numberOfUsers: 10 });
    expect(events.unconnectedUsers(2)).toEqual([11, 12]);
  });
});

describe('EventGenerator: output arrays', () => {
  it('starts a new array after a take, and reuses the taken one when handed back', () => {
    const events = generator(SMALL);
    events.nextBatch();
    const first = events.takeOutput();
    const text = Buffer.from(first).toString('latin1');
    events.nextBatch();
    const second = events.takeOutput();
    expect(second.buffer).not.toBe(first.buffer);
    expect(Buffer.from(first).toString('latin1')).toBe(text); // Never written over.
    events.reuseOutput();
    events.nextBatch();
    expect(events.takeOutput().buffer).toBe(second.buffer);
  });
});

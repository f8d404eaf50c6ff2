// The LineStore against a model: the owner's waiting lines as a set, each with the text it
// must keep. Checks every waiting and released line's bytes after every step, the bound on
// the blocks, and that compactions cost O(1) amortized per byte kept or released.
import { Buffer } from 'node:buffer';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EventSequencer } from '../../lib/core/event-sequencer.js';
import { lineOf, type MazeEvent } from '../../lib/core/events.js';
import { latin1Bytes, latin1Text } from '../../lib/core/latin1.js';
import { LineStore, type StoredLine } from '../../lib/core/line-store.js';
import { MazeCore } from '../../lib/core/maze-core.js';

const textOf = (line: StoredLine): string => latin1Text(line.bytes, line.start, line.end);

// A line `text` lying inside a larger array of other bytes, as in an input chunk.
function inChunk(text: string): StoredLine {
  const bytes = new Uint8Array(text.length + 8).fill(0x78);
  bytes.set(latin1Bytes(text, 0x3f), 4);
  return { bytes, start: 4, end: 4 + text.length };
}

class Owner {
  readonly waiting = new Map<StoredLine, string>();
  readonly released: [StoredLine, string][] = [];
  visits = 0;
  readonly store: LineStore;
  readonly maxShared: number;

  constructor(readonly blockBytes: number) {
    this.maxShared = Math.min(128, Math.floor(blockBytes / 8));
    this.store = new LineStore((visit) => {
      for (const line of this.waiting.keys()) {
        this.visits++;
        visit(line);
      }
    }, blockBytes);
  }

  keep(line: StoredLine): void {
    this.waiting.set(line, textOf(line));
    this.store.keep(line, this.waiting.size);
  }

  release(line: StoredLine): void {
    this.released.push([line, this.waiting.get(line) as string]);
    this.waiting.delete(line);
    this.store.release(line);
  }

  /** Bytes of the waiting lines short enough to lie in blocks. */
  get sharedBytes(): number {
    let bytes = 0;
    for (const text of this.waiting.values())
      if (text.length <= this.maxShared) bytes += text.length;
    return bytes;
  }

  /** Whether the blocks since the last compaction are within their bound. */
  withinBound(): boolean {
    return (
      this.store.writtenSinceCompaction <=
      2 * this.sharedBytes + 8 * this.waiting.size + 2 * this.blockBytes
    );
  }
}

describe('LineStore', () => {
  it('copies a line out of its chunk and points it at the copy', () => {
    const owner = new Owner(64);
    const line = inChunk('12|B\n');
    const chunk = line.bytes;
    owner.keep(line);
    chunk.fill(0);
    expect(line.bytes).not.toBe(chunk);
    expect(textOf(line)).toBe('12|B\n');
  });

  it('keeps lines back to back in one block, and a long line in an array of its own', () => {
    const owner = new Owner(64);
    const a = inChunk('1|B\n');
    const b = inChunk('2|B\n');
    const long = inChunk('3|P|123456|7\n');
    for (const line of [a, b, long]) owner.keep(line);
    expect(b.bytes).toBe(a.bytes);
    expect(b.start).toBe(a.end);
    // 13 bytes > 64 / 8.
    expect(long.bytes).not.toBe(a.bytes);
    expect(long.bytes.length).toBe(13);
    expect(textOf(long)).toBe('3|P|123456|7\n');
  });

  it('gives a line over 128 bytes a copy of its own, even out of a Buffer', () => {
    const waiting = new Set<StoredLine>();
    const store = new LineStore((visit) => {
      for (const line of waiting) visit(line);
    });
    const sharedText = `1|${'x'.repeat(125)}\n`;
    const ownText = `2|${'x'.repeat(126)}\n`;
    // `Buffer#slice()` makes a view: a copy must not be one.
    const chunk = Buffer.from(`??${sharedText}${ownText}??`, 'latin1');
    const shared = { bytes: chunk, start: 2, end: 2 + sharedText.length };
    const own = { bytes: chunk, start: shared.end, end: shared.end + ownText.length };
    for (const line of [shared, own]) {
      waiting.add(line);
      store.keep(line, waiting.size);
    }
    chunk.fill(0x30);
    expect(shared.end - shared.start).toBe(128);
    expect(shared.bytes.length).toBe(16 * 1024);
    expect(textOf(shared)).toBe(sharedText);
    expect(own.bytes.length).toBe(129);
    expect(own.bytes.buffer).not.toBe(chunk.buffer);
    expect(own.bytes.buffer.byteLength).toBe(129);
    expect(textOf(own)).toBe(ownText);
  });

  it('compacts the waiting lines into fresh blocks, never rewriting bytes a released line holds', () => {
    const owner = new Owner(64);
    for (let i = 0; i < 200; i++) {
      const line = inChunk(`${i}|B\n`);
      owner.keep(line);
      // All but every 50th is released soon after.
      if (i % 50 !== 0) owner.release(line);
    }
    expect(owner.store.compactions).toBeGreaterThan(0);
    expect(owner.withinBound()).toBe(true);
    for (const [line, text] of owner.released) expect(textOf(line)).toBe(text);
    for (const [line, text] of owner.waiting) expect(textOf(line)).toBe(text);
  });

  it('moves many waiting lines through many compactions, and keeps every line intact', () => {
    const owner = new Owner(256);
    // 40 lines wait for good while 20,000 others come and go.
    for (let i = 0; i < 40; i++) owner.keep(inChunk(`${1_000_000 + i}|B\n`));
    for (let i = 0; i < 20_000; i++) {
      const line = inChunk(`${i}|B\n`);
      owner.keep(line);
      owner.release(line);
      if (i % 1_000 === 0) expect(owner.store.sharedWaitingBytes).toBe(owner.sharedBytes);
    }
    expect(owner.store.compactions).toBeGreaterThan(100);
    expect(owner.store.moved).toBeGreaterThanOrEqual(40 * owner.store.compactions);
    expect(owner.withinBound()).toBe(true);
    for (const [line, text] of owner.released) expect(textOf(line)).toBe(text);
    for (const [line, text] of owner.waiting) expect(textOf(line)).toBe(text);
  });

  it('bounds the blocks by the waiting bytes in them, not by lines of their own', () => {
    const owner = new Owner(1024);
    // Long lines (arrays of their own) wait: they must not let the blocks grow.
    for (let i = 0; i < 50; i++) owner.keep(inChunk(`${2_000_000 + i}|${'x'.repeat(400)}\n`));
    const blocks = (): number =>
      new Set([...owner.waiting.keys()].map((l) => l.bytes).filter((b) => b.length === 1024)).size;
    // One short line pinned per block while the others come and go.
    for (let k = 0; k < 60; k++) {
      owner.keep(inChunk(`${1_000_000 + k}|B\n`));
      for (let i = 0; i < 150; i++) {
        const line = inChunk(`${k * 1000 + i}|B\n`);
        owner.keep(line);
        owner.release(line);
      }
      expect(owner.withinBound()).toBe(true);
      expect(blocks() * 1024).toBeLessThanOrEqual(
        2 * owner.sharedBytes + 8 * owner.waiting.size + 2 * 1024,
      );
    }
    for (const [line, text] of owner.waiting) expect(textOf(line)).toBe(text);
  });

  it('matches the model on any sequence of keeps and releases', () => {
    const step = fc.oneof(
      fc.record({ keep: fc.constant(true), length: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ keep: fc.constant(false), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 256 }),
        fc.array(step, { maxLength: 300 }),
        (blockBytes, steps) => {
          const owner = new Owner(blockBytes);
          let keptBytes = 0;
          let n = 0;
          for (const s of steps) {
            if (s.keep) {
              const text = `${n++}|${'x'.repeat(s.length)}\n`;
              owner.keep(inChunk(text));
              keptBytes += text.length;
              expect(owner.withinBound()).toBe(true);
            } else if (owner.waiting.size > 0) {
              const lines = [...owner.waiting.keys()];
              owner.release(lines[s.pick % lines.length] as StoredLine);
            }
            expect(owner.store.sharedWaitingBytes).toBe(owner.sharedBytes);
            for (const [line, text] of owner.waiting) expect(textOf(line)).toBe(text);
          }
          for (const [line, text] of owner.released) expect(textOf(line)).toBe(text);
          // A compaction visits a line for every 8 bytes written at least, and every line
          // kept takes at least 4.
          expect(owner.visits).toBeLessThanOrEqual(keptBytes / 4 + 2 * n);
        },
      ),
      { seed: 23, numRuns: 200 },
    );
  });
});

describe('EventSequencer with the LineStore', () => {
  it('keeps a waiting line intact after the caller reuses its chunk, and copies no duplicate', () => {
    const sequencer = new EventSequencer();
    const chunk = latin1Bytes('3|B\n2|B\n3|B\n', 0x3f);
    expect(sequencer.offer(chunk, 0, 4)).toBeUndefined();
    expect(sequencer.next()).toBeUndefined();
    expect(sequencer.offer(chunk, 4, 8)).toBeUndefined();
    expect(sequencer.next()).toBeUndefined();
    // The duplicate of 3 is discarded.
    expect(sequencer.offer(chunk, 8, 12)?.[0]?.code).toBe('ERR_EVENT_DUPLICATE');
    chunk.fill(0x30);
    expect(sequencer.pendingBytes).toBe(8);
    const one = new TextEncoder().encode('1|B\n');
    sequencer.offer(one, 0, 4);
    const released: string[] = [];
    for (let slot = sequencer.next(); slot !== undefined; slot = sequencer.next()) {
      released.push(lineOf(slot as MazeEvent));
    }
    expect(released).toEqual(['1|B\n', '2|B\n', '3|B\n']);
  });

  it('copies no line that a gap skipped in its own offer releases', () => {
    const sequencer = new EventSequencer({ reorderCapacity: 1 });
    const chunk = latin1Bytes('3|B\n4|B\n', 0x3f);
    expect(sequencer.offer(chunk, 0, 4)).toBeUndefined();
    expect(sequencer.next()).toBeUndefined();
    // Two waiting: over the capacity, so 1..2 are skipped and both are released.
    expect(sequencer.offer(chunk, 4, 8)?.map((p) => p.code)).toEqual(['ERR_SEQUENCE_GAP']);
    const three = sequencer.next() as MazeEvent;
    const four = sequencer.next() as MazeEvent;
    expect(sequencer.next()).toBeUndefined();
    expect(three.bytes).not.toBe(chunk);
    expect(four.bytes).toBe(chunk);
    chunk.fill(0x30);
    expect(lineOf(three)).toBe('3|B\n');
  });

  it('delivers every line of a shuffled stream exactly, however many wait', () => {
    const core = new MazeCore({ reorderCapacity: 100_000 });
    core.connect(7);
    const lines = Array.from({ length: 20_000 }, (_, i) => `${i + 1}|B\n`);
    // Reversed in blocks of 5,000: up to 4,999 wait at a time.
    const order: string[] = [];
    for (let at = 0; at < lines.length; at += 5_000)
      order.push(...lines.slice(at, at + 5_000).reverse());
    const chunk = latin1Bytes(order.join(''), 0x3f);
    // A line released at once is a range of the chunk, read before the chunk is reused; a
    // line that waited is read only after.
    const delivered: (MazeEvent | string)[] = [];
    let at = 0;
    for (const line of order) {
      const result = core.push(chunk, at, at + line.length);
      for (const { event } of result.deliveries) {
        delivered.push(event.bytes === chunk ? lineOf(event) : event);
      }
      at += line.length;
    }
    chunk.fill(0x30);
    expect(delivered.filter((item) => typeof item !== 'string').length).toBeGreaterThan(15_000);
    expect(delivered.map((item) => (typeof item === 'string' ? item : lineOf(item)))).toEqual(
      lines,
    );
  });

  it('bounds the blocks while a few lines wait far ahead and thousands come and go', () => {
    const sequencer = new EventSequencer({ reorderBytes: 256 * 1024 });
    const pinned = 60;
    const long = 60;
    const pairs = 1_700;
    const cycled = 2 * pairs * pinned;
    const expected = Array.from({ length: cycled + pinned + long }, (_, i) =>
      i < cycled + pinned ? `${i + 1}|B\n` : `${'0'.repeat(4_000)}${i + 1}|B\n`,
    );
    // One reused chunk, as an embedder reuses its buffer: a line read after the chunk is
    // overwritten must be a copy.
    const chunk = Buffer.alloc(4_100);
    const delivered: (MazeEvent | string)[] = [];
    let problems = 0;
    const offer = (sequence: number): void => {
      const text = expected[sequence - 1] as string;
      chunk.write(text, 'latin1');
      if (sequencer.offer(chunk, 0, text.length) !== undefined) problems++;
      for (let slot = sequencer.next(); slot !== undefined; slot = sequencer.next()) {
        const event = slot as MazeEvent;
        delivered.push(event.bytes === chunk ? lineOf(event) : event);
      }
      chunk.fill(0x21, 0, text.length);
    };
    // Long lines wait far ahead: arrays of their own, which must not let the blocks grow.
    for (let i = 1; i <= long; i++) offer(cycled + pinned + i);
    // Each short line pinned far ahead lands in a block of its own, while the rest cycle.
    let next = 1;
    for (let k = 1; k <= pinned; k++) {
      offer(cycled + k);
      for (let j = 0; j < pairs; j++, next += 2) {
        offer(next + 1);
        offer(next);
      }
    }
    expect(problems).toBe(0);
    // The last pair released every line that waited, with no compaction since.
    const waited = delivered.slice(cycled) as MazeEvent[];
    expect(waited.every((event) => typeof event !== 'string')).toBe(true);
    const blocks = new Set(waited.map((e) => e.bytes).filter((b) => b.length === 16 * 1024));
    const sharedBytes = 60 * 'nnnnnn|B\n'.length;
    expect(blocks.size * 16 * 1024).toBeLessThanOrEqual(
      2 * sharedBytes + 8 * (pinned + long) + 2 * 16 * 1024,
    );
    expect(delivered.map((item) => (typeof item === 'string' ? item : lineOf(item)))).toEqual(
      expected,
    );
  });
});

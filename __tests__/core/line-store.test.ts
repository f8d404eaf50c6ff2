// The LineStore against a model: the owner's waiting lines as a set, each with the text it
// must keep. Checks every waiting and released line's bytes after every step, the bound on
// the blocks, and that compactions cost O(1) amortized per byte kept or released.
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
  visitedBytes = 0;
  readonly store: LineStore;

  constructor(blockBytes: number) {
    this.store = new LineStore((visit) => {
      for (const line of this.waiting.keys()) {
        this.visitedBytes += line.end - line.start;
        visit(line);
      }
    }, blockBytes);
  }

  get waitingBytes(): number {
    let bytes = 0;
    for (const text of this.waiting.values()) bytes += text.length;
    return bytes;
  }
}

describe('LineStore', () => {
  it('copies a line out of its chunk and points it at the copy', () => {
    const owner = new Owner(64);
    const line = inChunk('12|B\n');
    const chunk = line.bytes;
    owner.waiting.set(line, '12|B\n');
    owner.store.keep(line, 5);
    chunk.fill(0);
    expect(line.bytes).not.toBe(chunk);
    expect(textOf(line)).toBe('12|B\n');
  });

  it('keeps lines back to back in one block, and a long line in an array of its own', () => {
    const owner = new Owner(64);
    const a = inChunk('1|B\n');
    const b = inChunk('2|B\n');
    const long = inChunk('3|P|123456|7\n');
    for (const line of [a, b, long]) {
      owner.waiting.set(line, textOf(line));
      owner.store.keep(line, owner.waitingBytes);
    }
    expect(b.bytes).toBe(a.bytes);
    expect(b.start).toBe(a.end);
    // 13 bytes > 64 / 8.
    expect(long.bytes).not.toBe(a.bytes);
    expect(long.bytes.length).toBe(13);
    expect(textOf(long)).toBe('3|P|123456|7\n');
  });

  it('gives a line over 128 bytes an array of its own with blocks of the default size', () => {
    const waiting = new Set<StoredLine>();
    const store = new LineStore((visit) => {
      for (const line of waiting) visit(line);
    });
    const shared = inChunk(`1|${'x'.repeat(125)}\n`);
    const own = inChunk(`2|${'x'.repeat(126)}\n`);
    for (const line of [shared, own]) {
      waiting.add(line);
      store.keep(line, 255);
    }
    expect(shared.end - shared.start).toBe(128);
    expect(shared.bytes.length).toBeGreaterThan(128);
    expect(own.bytes.length).toBe(129);
    expect(textOf(own)).toBe(`2|${'x'.repeat(126)}\n`);
  });

  it('compacts the waiting lines into fresh blocks, never rewriting bytes a released line holds', () => {
    const owner = new Owner(64);
    const kept: StoredLine[] = [];
    for (let i = 0; i < 200; i++) {
      const line = inChunk(`${i}|B\n`);
      owner.waiting.set(line, textOf(line));
      owner.store.keep(line, owner.waitingBytes);
      kept.push(line);
      // All but every 50th is released soon after.
      if (i % 50 !== 0) {
        owner.waiting.delete(line);
        owner.released.push([line, textOf(line)]);
      }
    }
    expect(owner.store.compactions).toBeGreaterThan(0);
    expect(owner.store.blockBytes).toBeLessThanOrEqual(2 * owner.waitingBytes + 2 * 64);
    for (const [line, text] of owner.released) expect(textOf(line)).toBe(text);
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
          let releasedBytes = 0;
          let n = 0;
          for (const s of steps) {
            if (s.keep) {
              const text = `${n++}|${'x'.repeat(s.length)}\n`;
              const line = inChunk(text);
              owner.waiting.set(line, text);
              owner.store.keep(line, owner.waitingBytes);
              keptBytes += text.length;
              expect(owner.store.blockBytes).toBeLessThanOrEqual(
                2 * owner.waitingBytes + 2 * blockBytes,
              );
            } else if (owner.waiting.size > 0) {
              const lines = [...owner.waiting.keys()];
              const line = lines[s.pick % lines.length] as StoredLine;
              const text = owner.waiting.get(line) as string;
              owner.waiting.delete(line);
              owner.released.push([line, text]);
              releasedBytes += text.length;
            }
            for (const [line, text] of owner.waiting) expect(textOf(line)).toBe(text);
          }
          for (const [line, text] of owner.released) expect(textOf(line)).toBe(text);
          expect(owner.visitedBytes).toBeLessThanOrEqual(2 * (keptBytes + releasedBytes));
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

  it('delivers every line of a shuffled stream exactly, however many wait', () => {
    const core = new MazeCore({ reorderCapacity: 100_000 });
    core.connect(7);
    const lines = Array.from({ length: 20_000 }, (_, i) => `${i + 1}|B\n`);
    // Reversed in blocks of 5,000: up to 4,999 wait at a time, through many compactions.
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
});

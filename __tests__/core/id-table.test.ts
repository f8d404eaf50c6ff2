import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { capacityFor, hashId, IdTable, MIN_TABLE_CAPACITY } from '../../lib/core/id-table.js';

const EDGE_IDS = [0, 1, 2 ** 24 - 1, 2 ** 24, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER];

describe('IdTable', () => {
  it('maps every kind of id, 0 and 2^53 - 1 included', () => {
    const table = new IdTable(1);
    for (const [value, id] of EDGE_IDS.entries()) table.set(id, value);
    for (const [value, id] of EDGE_IDS.entries()) expect(table.get(id)).toBe(value);
    expect(table.get(3)).toBe(-1);
    expect(table.size).toBe(EDGE_IDS.length);
    table.set(0, 42);
    expect(table.get(0)).toBe(42);
    expect(table.size).toBe(EDGE_IDS.length);
    expect(table.delete(0)).toBe(42);
    expect(table.delete(0)).toBe(-1);
    expect(table.get(0)).toBe(-1);
  });

  it('tells apart ids above 2^32 whose low 32 bits are the same', () => {
    const table = new IdTable(7);
    const ids = Array.from({ length: 1000 }, (_, high) => high * 2 ** 32 + 5);
    for (const [value, id] of ids.entries()) table.set(id, value);
    for (const [value, id] of ids.entries()) expect(table.get(id)).toBe(value);
    // And they do not all land in one probe run: the hash uses the high half.
    const slots = new Set(ids.map((id) => hashId(id, 0, 7) & (table.capacity - 1)));
    expect(slots.size).toBeGreaterThan(500);
  });

  it('grows before 3/4 load and shrinks under 1/8, to load 1/2 at most', () => {
    const table = new IdTable();
    for (let id = 0; id < 1000; id++) {
      table.set(id, id);
      expect(table.size).toBeLessThanOrEqual((table.capacity * 3) / 4);
    }
    expect(table.capacity).toBe(2048);
    for (let id = 0; id < 990; id++) table.delete(id);
    expect(table.capacity).toBeLessThanOrEqual(capacityFor(10, MIN_TABLE_CAPACITY) * 2);
    for (let id = 990; id < 1000; id++) expect(table.get(id)).toBe(id);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.capacity).toBe(MIN_TABLE_CAPACITY);
  });

  it('keeps rebuild work linear in the operations, whatever the pattern', () => {
    const table = new IdTable();
    let operations = 0;
    // Churn at every size around the thresholds: grow, shrink, grow again.
    for (let round = 0; round < 6; round++) {
      for (let id = 0; id < 10_000; id++, operations++) table.set(id + round * 1e6, id);
      for (let id = 0; id < 9_990; id++, operations++) table.delete(id + round * 1e6);
      // Delete/insert pairs at a fixed size leave tombstones that only a rebuild clears.
      for (let id = 0; id < 5_000; id++, operations += 2) {
        table.delete(9_990 + (id % 10) + round * 1e6);
        table.set(9_990 + (id % 10) + round * 1e6, id);
      }
    }
    expect(table.work).toBeLessThan(16 * operations);
  });

  it('remap rewrites every value', () => {
    const table = new IdTable();
    for (let id = 0; id < 100; id++) table.set(id * 2 ** 33, id);
    table.remap((id, value) => value + id / 2 ** 33);
    for (let id = 0; id < 100; id++) expect(table.get(id * 2 ** 33)).toBe(2 * id);
  });

  it('agrees with a Map on random operations', () => {
    const id = fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.constantFrom(...EDGE_IDS),
      fc.integer({ min: 0, max: 40 }).map((high) => high * 2 ** 32 + 3),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), id, fc.nat(1000)), { maxLength: 400 }),
        (operations) => {
          const table = new IdTable();
          const model = new Map<number, number>();
          for (const [adding, key, value] of operations) {
            if (adding) {
              table.set(key, value);
              model.set(key, value);
            } else {
              expect(table.delete(key)).toBe(model.get(key) ?? -1);
              model.delete(key);
            }
            expect(table.size).toBe(model.size);
          }
          for (const [key, value] of model) expect(table.get(key)).toBe(value);
        },
      ),
      { numRuns: 200 },
    );
  });
});

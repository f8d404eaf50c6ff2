import { describe, expect, it } from '@jest/globals';
import { MAX_DECIMAL_DIGITS, writeDecimal } from '../../lib/simulate/decimal.js';

const text = (bytes: Uint8Array, from: number, to: number): string =>
  Buffer.from(bytes.subarray(from, to)).toString('latin1');

describe('writeDecimal', () => {
  it.each([0, 1, 9, 10, 99, 100, 4_294_967_295, 1e15, Number.MAX_SAFE_INTEGER])(
    'writes %i as String() does',
    (value) => {
      const bytes = new Uint8Array(MAX_DECIMAL_DIGITS + 4).fill(0x7c);
      const end = writeDecimal(bytes, 2, value);
      expect(text(bytes, 2, end)).toBe(String(value));
      // Nothing around it is touched.
      expect([bytes[1], bytes[end]]).toEqual([0x7c, 0x7c]);
    },
  );

  it('agrees with String() on every power of ten and its neighbours', () => {
    const bytes = new Uint8Array(MAX_DECIMAL_DIGITS);
    for (let power = 1; power <= 1e15; power *= 10) {
      for (const value of [power - 1, power, power + 1]) {
        expect(text(bytes, 0, writeDecimal(bytes, 0, value))).toBe(String(value));
      }
    }
  });
});

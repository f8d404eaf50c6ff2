import { describe, expect, it } from '@jest/globals';
import {
  FNV_OFFSET,
  foldDigest,
  formatDigest,
  hashBytes,
  hashLine,
} from '../../lib/simulate/hash.js';

describe('line hashes', () => {
  it('hashLine is 32-bit FNV-1a (published test vectors)', () => {
    expect(formatDigest(hashLine(''))).toBe('811c9dc5');
    expect(formatDigest(hashLine('a'))).toBe('e40c292c');
    expect(formatDigest(hashLine('foobar'))).toBe('bf9cf968');
  });

  it('hashBytes over a range equals hashLine over the same characters', () => {
    const bytes = Buffer.from('xx12|F|60|50\r\nyy', 'latin1');
    expect(hashBytes(bytes, 2, 14)).toBe(hashLine('12|F|60|50\r\n'));
    expect(hashBytes(bytes, 5, 5)).toBe(FNV_OFFSET);
  });

  it('the digest depends on the order of the lines', () => {
    const [a, b] = [hashLine('1|B\n'), hashLine('2|B\n')];
    expect(foldDigest(foldDigest(FNV_OFFSET, a), b)).not.toBe(
      foldDigest(foldDigest(FNV_OFFSET, b), a),
    );
  });
});

/**
 * Decimal numbers written straight into bytes, so that the generator builds event lines
 * without a string per number or per line.
 *
 * Invariant: the bytes written for a number are exactly those of `String(number)` (ASCII
 * digits, no sign, no leading zero), for every safe non-negative integer.
 */

const DIGIT_0 = 48;
const INT32_MAX = 0x7fffffff;
/** Digits of the largest safe integer, 2^53 - 1. */
export const MAX_DECIMAL_DIGITS = 16;

/** Writes `value` (a safe integer >= 0) in decimal at `bytes[at..]`; returns the end. */
export function writeDecimal(bytes: Uint8Array, at: number, value: number): number {
  let digits = 1;
  for (let power = 10; power <= value; power *= 10) digits++;
  const end = at + digits;
  let i = end - 1;
  let rest = value;
  for (; rest > INT32_MAX; i--) {
    const quotient = Math.floor(rest / 10);
    bytes[i] = DIGIT_0 + (rest - quotient * 10);
    rest = quotient;
  }
  // In int32 arithmetic the compiler divides by 10 with a multiply: twice as fast as the
  // float division above, and most numbers written are below 2^31.
  let small = rest | 0;
  for (; i > at; i--) {
    const quotient = (small / 10) | 0;
    bytes[i] = DIGIT_0 + (small - quotient * 10);
    small = quotient;
  }
  bytes[at] = DIGIT_0 + small;
  return end;
}

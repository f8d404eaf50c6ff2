/**
 * Lines as bytes, and bytes as text, one byte per character (latin1): what the core reads
 * and what a report quotes.
 *
 * Invariants: pure, no `Buffer` (the core runs in any JavaScript host); decoding never
 * returns a view into another string, so a decoded line pins nothing; encoding maps a
 * character that no latin1 byte stands for to a byte that no field of an event accepts, so
 * a string given by an embedder parses as it did as text.
 */

/** Decoded per call of `String.fromCharCode()`: far below any engine's argument limit. */
const DECODE_STEP = 4096;

/** The bytes `[start, end)` of `bytes` as text, one character per byte. */
export function latin1Text(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (let at = start; at < end; at += DECODE_STEP) {
    const stop = Math.min(end, at + DECODE_STEP);
    text += String.fromCharCode.apply(null, bytes.subarray(at, stop) as unknown as number[]);
  }
  return text;
}

/**
 * `text` as bytes, one per character. A character above 0xFF cannot be a digit, a
 * delimiter, a type letter or a terminator: it becomes `substitute`, which the caller picks
 * to be none of them either (`substituteFor()`).
 */
export function latin1Bytes(text: string, substitute: number): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    bytes[i] = code > 0xff ? substitute : code;
  }
  return bytes;
}

/** A byte that is neither `delimiter` (a character code below 256), a digit nor CR or LF. */
export function substituteFor(delimiter: number): number {
  return delimiter === 0 ? 1 : 0;
}

/**
 * The line hash both sides of the verification use: 32-bit FNV-1a over every byte of a line,
 * terminator included. A client stream folds its line hashes, in order, into a running
 * digest with the same step, so the digest depends on every byte and on their order.
 *
 * Invariant: `hashLine(text)` and `hashBytes` over the latin1 bytes of `text` (event lines
 * are ASCII, one byte per character) equal the byte loop of `ClientStream.receive`.
 */

/** FNV-1a 32-bit offset basis, as a signed 32-bit integer. */
export const FNV_OFFSET = 0x811c9dc5 | 0;
/** FNV-1a 32-bit prime. */
export const FNV_PRIME = 0x01000193;

/** The FNV-1a hash of a line given as a string of byte-sized characters. */
export function hashLine(line: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < line.length; i++) hash = Math.imul(hash ^ line.charCodeAt(i), FNV_PRIME);
  return hash;
}

/** The FNV-1a hash of the line in `bytes[start .. end-1]`. */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = FNV_OFFSET;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ (bytes[i] as number), FNV_PRIME);
  return hash;
}

/** Folds one line hash into a running, order-sensitive digest. */
export function foldDigest(digest: number, lineHash: number): number {
  return Math.imul(digest ^ lineHash, FNV_PRIME);
}

/** A digest as 8 hex digits. */
export function formatDigest(digest: number): string {
  return (digest >>> 0).toString(16).padStart(8, '0');
}

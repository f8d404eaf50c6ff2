/**
 * The checksum around a stored snapshot of the follow graph (docs/protocol.md §11): the
 * store keeps `FMC1 <length> <sha256>\n` followed by the `FMS` snapshot it covers, so bytes
 * changed, cut short or replaced are refused before anything is decoded.
 *
 * Invariants:
 * - `<length>` is the snapshot's byte count (canonical decimal), `<sha256>` the lowercase hex
 *   SHA-256 of those bytes; a framed snapshot whose rest is not exactly that is refused.
 * - An unframed `FMS1` snapshot (written before snapshots carried a checksum) is still read,
 *   with the decoder's checks only.
 * - Nothing is allocated from a claimed size: a claim is only compared with the bytes there.
 */
import { createHash } from 'node:crypto';
import { type DecodedGraphSnapshot, decodeGraphSnapshot } from '../core/graph-snapshot.js';

const FRAME = /^FMC1 (0|[1-9]\d{0,15}) ([0-9a-f]{64})\n/;
/** The frame header's longest form: a longer first line is not a frame. */
const FRAME_HEADER_MAX = 4 + 1 + 16 + 1 + 64 + 1;

/** `snapshot` (the bytes of `encodeGraphSnapshot()`) with its checksum, as stores keep it. */
export function sealSnapshot(snapshot: Uint8Array): Uint8Array {
  const header = new TextEncoder().encode(`FMC1 ${snapshot.length} ${sha256(snapshot)}\n`);
  const bytes = new Uint8Array(header.length + snapshot.length);
  bytes.set(header);
  bytes.set(snapshot, header.length);
  return bytes;
}

/** The snapshot that stored `bytes` hold once their checksum holds, or why they hold none. */
export function openSnapshot(bytes: Uint8Array): DecodedGraphSnapshot {
  if (startsWith(bytes, 'FMS1 ')) return decodeGraphSnapshot(bytes);
  const end = bytes.subarray(0, FRAME_HEADER_MAX).indexOf(0x0a);
  const frame = FRAME.exec(
    end < 0 ? '' : new TextDecoder('latin1').decode(bytes.subarray(0, end + 1)),
  );
  if (frame === null) {
    return { ok: false, reason: 'not a snapshot (no "FMC1 <length> <sha256>" header)' };
  }
  const snapshot = bytes.subarray(end + 1);
  if (snapshot.length !== Number(frame[1])) {
    return {
      ok: false,
      reason: `${snapshot.length} bytes after its header, which claims ${frame[1]}`,
    };
  }
  if (sha256(snapshot) !== frame[2]) return { ok: false, reason: 'its checksum does not match' };
  return decodeGraphSnapshot(snapshot);
}

/**
 * The most bytes a stored snapshot of a graph bounded at `maxEdges` can take: a larger one
 * is refused unread.
 */
export function maxStoredSnapshotBytes(maxEdges: number): number {
  // At most one followee per edge: 16 bytes each, plus 8 per edge; a header of at most 100.
  return FRAME_HEADER_MAX + 100 + 24 * maxEdges;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function startsWith(bytes: Uint8Array, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

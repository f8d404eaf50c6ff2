/**
 * The frame around a stored snapshot of the follow graph (docs/protocol.md §11): the store
 * keeps `FMC2 <length> <sha256> <epoch>\n` followed by the `FMS` snapshot it covers, so bytes
 * changed, cut short or replaced, and a snapshot of another stream, are refused before
 * anything is decoded.
 *
 * Invariants:
 * - `<length>` is the snapshot's byte count (canonical decimal), `<sha256>` the lowercase hex
 *   SHA-256 of those bytes; a framed snapshot whose rest is not exactly that is refused.
 * - `<epoch>` is the epoch of the log the snapshot was taken from (`LogIdentity.epoch`): a
 *   snapshot is opened only for that epoch, so one left in the bucket by a stream deleted
 *   since never starts a process on the stream created again. Bytes without this frame (a
 *   bare `FMS1` snapshot among them) are not a stored snapshot.
 * - Nothing is allocated from a claimed size: a claim is only compared with the bytes there.
 */
import { createHash } from 'node:crypto';
import { type DecodedGraphSnapshot, decodeGraphSnapshot } from '../core/graph-snapshot.js';
import { ErrorCode, MazeError } from '../errors.js';

const FRAME = /^FMC2 (0|[1-9]\d{0,15}) ([0-9a-f]{64}) ([!-~]{1,64})\n/;
/** What an epoch may be in a frame: printable ASCII without spaces, 64 characters at most. */
const EPOCH = /^[!-~]{1,64}$/;
/** The frame header's longest form: a longer first line is not a frame. */
const FRAME_HEADER_MAX = 4 + 1 + 16 + 1 + 64 + 1 + 64 + 1;

/**
 * `snapshot` (the bytes of `encodeGraphSnapshot()`) with its checksum and the epoch of the log
 * it was taken from, as stores keep it. Throws `ERR_INVALID_OPTION` for an epoch a frame
 * cannot hold.
 */
export function sealSnapshot(snapshot: Uint8Array, epoch: string): Uint8Array {
  if (!EPOCH.test(epoch)) {
    throw new MazeError(
      ErrorCode.InvalidOption,
      `a snapshot's epoch must be 1 to 64 printable ASCII characters without spaces, got ${JSON.stringify(epoch)}`,
    );
  }
  const header = new TextEncoder().encode(`FMC2 ${snapshot.length} ${sha256(snapshot)} ${epoch}\n`);
  const bytes = new Uint8Array(header.length + snapshot.length);
  bytes.set(header);
  bytes.set(snapshot, header.length);
  return bytes;
}

/**
 * The snapshot that stored `bytes` hold once their frame holds and names `epoch`, the epoch
 * of the log it is to start on, or why they hold none.
 */
export function openSnapshot(bytes: Uint8Array, epoch: string): DecodedGraphSnapshot {
  const end = bytes.subarray(0, FRAME_HEADER_MAX).indexOf(0x0a);
  const frame = FRAME.exec(
    end < 0 ? '' : new TextDecoder('latin1').decode(bytes.subarray(0, end + 1)),
  );
  if (frame === null) {
    return { ok: false, reason: 'not a snapshot (no "FMC2 <length> <sha256> <epoch>" header)' };
  }
  if (frame[3] !== epoch) {
    return {
      ok: false,
      reason: `it was taken from another stream (epoch ${frame[3]}, this one is ${epoch}): the stream was deleted and created again since`,
    };
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

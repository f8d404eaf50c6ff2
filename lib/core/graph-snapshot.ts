/**
 * The bytes of a snapshot of the follow graph at a position of cluster mode's event log
 * (docs/protocol.md §11): what a late gateway starts from instead of replaying the log from
 * its first event.
 *
 *     FMS1 <position> <lastSequence> <followees> <edges> <maxEdges>\n
 *     then, for each followee: its id, its follower count n, its n follower ids
 *     (each a little-endian float64: ids go up to 2^53 - 1)
 *
 * Invariants:
 * - `FMS` and the version open every snapshot; a reader refuses a version it does not know.
 *   Header numbers are canonical decimals; `position` is the log position the graph is
 *   the state after, `lastSequence` the last sequence number that position consumed,
 *   `maxEdges` the graph's bound: a follow refused at the bound leaves a graph that only the
 *   same bound rebuilds, so a reader with another one must not use the snapshot.
 * - The body is exactly `8 * (2 * followees + edges)` bytes; every count is at least 1 and
 *   the counts add up to `edges`; every id is an integer from 0 to `MAX_ID`. A snapshot that
 *   breaks any of this is refused as a whole (`decodeGraphSnapshot()` says why).
 * - Pure: bytes in, bytes out; 8 bytes per edge plus 16 per followee.
 */
import { MAX_ID } from './constants.js';
import type { UserId } from './events.js';
import type { FollowGraphView } from './follow-graph.js';

/** The version of the format written by `encodeGraphSnapshot()`. */
const GRAPH_SNAPSHOT_VERSION = 1;

/** Where in the log a snapshot stands. */
export interface SnapshotPoint {
  /** The log position whose state it is (the batch at it applied). */
  readonly position: number;
  /** The last sequence number consumed up to that position. */
  readonly lastSequence: number;
}

/** A decoded snapshot: its point, and its edges to walk. */
export interface GraphSnapshot extends SnapshotPoint {
  readonly followees: number;
  readonly edges: number;
  /** The bound of the graph it was taken from (`maxFollowEdges`). */
  readonly maxEdges: number;
  /** Calls `visit` for each followee with its followers (a view: copy what you keep). */
  forEachFollowee(visit: (followee: UserId, followers: readonly UserId[]) => void): void;
}

/** What `decodeGraphSnapshot()` found. */
export type DecodedGraphSnapshot =
  | { readonly ok: true; readonly snapshot: GraphSnapshot }
  | { readonly ok: false; readonly reason: string };

const HEADER = /^FMS(\d+) (\d+) (\d+) (\d+) (\d+) (\d+)\n/;
const CANONICAL = /^(0|[1-9]\d*)$/;
const ID_BYTES = 8;
/** Typed arrays use the host's byte order; the format is little-endian. */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of `graph` as the state after `point`. */
export function encodeGraphSnapshot(graph: FollowGraphView, point: SnapshotPoint): Uint8Array {
  const followees = graph.followeeCount;
  const header = new TextEncoder().encode(
    `FMS${GRAPH_SNAPSHOT_VERSION} ${point.position} ${point.lastSequence} ${followees} ${graph.edgeCount} ${graph.maxEdges}\n`,
  );
  const ids = new Float64Array(2 * followees + graph.edgeCount);
  let at = 0;
  graph.forEachFollowee((followee, followers) => {
    ids[at++] = followee;
    ids[at++] = followers.length;
    for (let i = 0; i < followers.length; i++) ids[at++] = followers[i] as number;
  });
  const bytes = new Uint8Array(header.length + ids.byteLength);
  bytes.set(header);
  bytes.set(littleEndian(ids), header.length);
  return bytes;
}

/** The bytes of `ids` as little-endian float64s (a copy only on a big-endian host). */
function littleEndian(ids: Float64Array): Uint8Array {
  const bytes = new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return bytes;
  const swapped = new Uint8Array(bytes.length);
  const view = new DataView(swapped.buffer);
  for (let i = 0; i < ids.length; i++) view.setFloat64(i * ID_BYTES, ids[i] as number, true);
  return swapped;
}

/** The snapshot `bytes` hold, or why they hold none. */
export function decodeGraphSnapshot(bytes: Uint8Array): DecodedGraphSnapshot {
  const headerEnd = bytes.indexOf(0x0a);
  const headerText =
    headerEnd < 0 || headerEnd > 100
      ? ''
      : new TextDecoder('latin1').decode(bytes.subarray(0, headerEnd + 1));
  const header = HEADER.exec(headerText);
  if (header === null) return refused('not a graph snapshot (no "FMS<version> …" header)');
  const [, version, ...numbers] = header as unknown as [string, string, ...string[]];
  if (Number(version) !== GRAPH_SNAPSHOT_VERSION) {
    return refused(
      `snapshot format version ${version}; this reader knows ${GRAPH_SNAPSHOT_VERSION}`,
    );
  }
  if (!numbers.every((text) => CANONICAL.test(text) && Number(text) <= MAX_ID)) {
    return refused(`header numbers out of range: ${headerText.trim()}`);
  }
  const [position, lastSequence, followees, edges, maxEdges] = numbers.map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const bodyLength = bytes.length - headerEnd - 1;
  if (bodyLength !== ID_BYTES * (2 * followees + edges)) {
    return refused(
      `body of ${bodyLength} bytes; ${followees} followees and ${edges} edges need ${ID_BYTES * (2 * followees + edges)}`,
    );
  }
  const body = new DataView(bytes.buffer, bytes.byteOffset + headerEnd + 1, bodyLength);
  const invalid = checkBody(body, followees, edges);
  if (invalid !== undefined) return refused(invalid);
  return {
    ok: true,
    snapshot: {
      position,
      lastSequence,
      followees,
      edges,
      maxEdges,
      forEachFollowee: (visit) => {
        let at = 0;
        const ids: UserId[] = [];
        for (let f = 0; f < followees; f++) {
          const followee = body.getFloat64(at, true);
          const count = body.getFloat64(at + ID_BYTES, true);
          at += 2 * ID_BYTES;
          ids.length = 0;
          for (let i = 0; i < count; i++, at += ID_BYTES) ids.push(body.getFloat64(at, true));
          visit(followee, ids);
        }
      },
    },
  };
}

// Every id an integer in range, every count at least 1, the counts adding up to `edges`.
function checkBody(body: DataView, followees: number, edges: number): string | undefined {
  let at = 0;
  let seen = 0;
  for (let f = 0; f < followees; f++) {
    const followee = body.getFloat64(at, true);
    const count = body.getFloat64(at + ID_BYTES, true);
    at += 2 * ID_BYTES;
    if (!isId(followee)) return `followee ${f + 1} has an invalid id`;
    if (!Number.isSafeInteger(count) || count < 1 || seen + count > edges) {
      return `followee ${followee} has an invalid follower count`;
    }
    for (let i = 0; i < count; i++, at += ID_BYTES) {
      if (!isId(body.getFloat64(at, true))) return `a follower of ${followee} has an invalid id`;
    }
    seen += count;
  }
  return seen === edges ? undefined : `the follower counts add up to ${seen}, not ${edges}`;
}

function isId(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_ID;
}

function refused(reason: string): DecodedGraphSnapshot {
  return { ok: false, reason };
}

/**
 * Follow graphs and graph snapshots as the snapshot tests compare them: every edge as a
 * sorted `followee>follower` string, and a snapshot decoded (or opened from a store) or the
 * test fails.
 */

import { openSnapshot } from '../../lib/cluster/snapshot-checksum.js';
import type { SnapshotStore } from '../../lib/cluster/snapshot-store.js';
import type { FollowGraphView } from '../../lib/core/follow-graph.js';
import { decodeGraphSnapshot, type GraphSnapshot } from '../../lib/core/graph-snapshot.js';

/** Every edge of `graph` as sorted `followee>follower` strings. */
export function edgesOf(graph: FollowGraphView): string[] {
  return graph
    .followees()
    .flatMap((followee) =>
      [...graph.followersOf(followee)].map((follower) => `${followee}>${follower}`),
    )
    .sort();
}

/** The snapshot `bytes` hold; throws with the decoder's reason if they are refused. */
export function decoded(bytes: Uint8Array): GraphSnapshot {
  const result = decodeGraphSnapshot(bytes);
  if (!result.ok) throw new Error(result.reason);
  return result.snapshot;
}

/** The snapshot that stored `bytes` (frame and all, taken from `epoch`) hold; throws why they hold none. */
export function opened(bytes: Uint8Array, epoch: string): GraphSnapshot {
  const result = openSnapshot(bytes, epoch);
  if (!result.ok) throw new Error(result.reason);
  return result.snapshot;
}

/** The bytes of the newest snapshot `store` holds; throws without one. */
export async function newestIn(store: SnapshotStore): Promise<Uint8Array> {
  const [newest] = await store.list();
  const bytes = newest === undefined ? undefined : await store.read(newest.name);
  if (bytes === undefined) throw new Error('no snapshot');
  return bytes;
}

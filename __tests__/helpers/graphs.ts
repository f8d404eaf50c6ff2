/**
 * Follow graphs and graph snapshots as the snapshot tests compare them: every edge as a
 * sorted `followee>follower` string, and a snapshot decoded or the test fails.
 */

import type { FollowGraph } from '../../lib/core/follow-graph.js';
import { decodeGraphSnapshot, type GraphSnapshot } from '../../lib/core/graph-snapshot.js';

/** Every edge of `graph` as sorted `followee>follower` strings. */
export function edgesOf(graph: FollowGraph): string[] {
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

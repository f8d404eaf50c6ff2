/**
 * A fresh epoch for a stream that starts in this process (docs/protocol.md §12): 64 random
 * bits in decimal, so two streams never share one in practice, and no delimiter (never a
 * digit) can occur in it.
 */
import { randomBytes } from 'node:crypto';

export function newEpoch(): string {
  return randomBytes(8).readBigUInt64BE().toString();
}

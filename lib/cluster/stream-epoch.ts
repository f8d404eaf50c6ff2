/**
 * The epoch a gateway gives its resume-aware clients (docs/protocol.md §12): a token made
 * from its log's identity (`LogIdentity.epoch`), the same on every gateway of the log and
 * another once the log is deleted and created again. A JetStream log's identity is the
 * stream's creation time (RFC 3339, nanoseconds): it becomes those nanoseconds since 1970 in
 * decimal, so an operator can read it. Any other identity (the in-memory log's random id,
 * an embedding's own log) becomes 64 bits of its SHA-256 digest in decimal. Digits only:
 * no delimiter can be one, and 20 of them at most fit the epoch's bound.
 */
import { createHash } from 'node:crypto';

const CREATION_TIME = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;
const NANOSECONDS_PER_MS = 1_000_000n;

export function streamEpochOf(logEpoch: string): string {
  const time = CREATION_TIME.exec(logEpoch);
  const ms = time === null ? Number.NaN : Date.parse(`${time[1]}${time[3]}`);
  if (time !== null && ms >= 0) {
    const fraction = BigInt((time[2] ?? '').padEnd(9, '0'));
    return (BigInt(ms) * NANOSECONDS_PER_MS + fraction).toString();
  }
  return createHash('sha256').update(logEpoch).digest().readBigUInt64BE().toString();
}

/**
 * The epoch a gateway gives its clients, from its log's identity (docs/protocol.md §12):
 * a JetStream creation time read as nanoseconds since 1970, anything else digested; digits
 * only, the same for the same identity, another for another.
 */
import { describe, expect, it } from '@jest/globals';
import { streamEpochOf } from '../../lib/cluster/stream-epoch.js';

describe('streamEpochOf', () => {
  it.each([
    ['2026-12-07T21:04:24.123456789Z', '1796677464123456789'],
    ['2026-12-07T21:04:24.1234Z', '1796677464123400000'],
    ['2026-12-07T21:04:24Z', '1796677464000000000'],
    ['2026-12-07T22:04:24.5+01:00', '1796677464500000000'],
    ['1970-01-01T00:00:00Z', '0'],
  ])('reads the creation time %j as its nanoseconds since 1970', (created, epoch) => {
    expect(streamEpochOf(created)).toBe(epoch);
  });

  it.each([
    '0f8c1e4a-3b9d-4a57-9c1e-5f2d6b7a8c90',
    '2026-12-07 21:04:24Z',
    '1969-12-31T23:59:59Z',
    'a|b',
    '',
  ])('digests any other identity (%j) into at most 20 digits', (identity) => {
    const epoch = streamEpochOf(identity);
    expect(epoch).toMatch(/^\d{1,20}$/);
    expect(streamEpochOf(identity)).toBe(epoch);
    expect(streamEpochOf(`${identity}x`)).not.toBe(epoch);
  });

  it('tells two creations of one stream apart, a nanosecond apart', () => {
    expect(streamEpochOf('2026-12-07T21:04:24.000000001Z')).not.toBe(
      streamEpochOf('2026-12-07T21:04:24.000000002Z'),
    );
  });
});

/**
 * Compares per-connection deliveries and describes the first difference in one line.
 * `expect(bigMap).toEqual(otherBigMap)` would print a diff of thousands of lines, which is
 * slow enough to stall fast-check's shrinking; a short description keeps failures cheap.
 */

const show = (line: string | undefined): string =>
  line === undefined ? 'nothing' : JSON.stringify(line);

/** `undefined` when both maps hold the same lines for the same connections, in order. */
export function firstDeliveryMismatch(
  actual: ReadonlyMap<number, readonly string[]>,
  expected: ReadonlyMap<number, readonly string[]>,
): string | undefined {
  for (const connection of new Set([...expected.keys(), ...actual.keys()])) {
    const got = actual.get(connection);
    const want = expected.get(connection);
    if (got === undefined || want === undefined) {
      return `connection ${connection} is ${got === undefined ? 'missing' : 'unexpected'}`;
    }
    const length = Math.max(got.length, want.length);
    for (let index = 0; index < length; index++) {
      if (got[index] !== want[index]) {
        return `connection ${connection}, line ${index}: got ${show(got[index])}, expected ${show(
          want[index],
        )} (${got.length} received, ${want.length} expected)`;
      }
    }
  }
  return undefined;
}

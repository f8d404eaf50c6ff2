/**
 * A seeded PRNG for test data and load scripts: the same seed gives the same stream, in the
 * scripts and in `__tests__/helpers/streams.ts` alike.
 */

/**
 * mulberry32: tiny, fast, good enough for test data, and seedable. Floats in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * An integer in `min..=max`.
 * @param {() => number} rng
 * @param {number} min
 * @param {number} max
 */
export function randomInt(rng, min, max) {
  return min + Math.floor(rng() * (max - min + 1));
}

/**
 * A small, fast, seeded pseudo-random generator (sfc32, seeded through splitmix32), so that a
 * simulation is reproducible from its seed alone on any platform.
 *
 * Invariant: the sequence of draws depends only on the seed; nothing reads the clock or
 * `Math.random`.
 */

const TWO_POW_32 = 4294967296;

export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** `seed` is any safe integer; its low and high 32-bit halves both matter. */
  constructor(seed: number) {
    let state = (seed >>> 0) ^ Math.imul(Math.floor(seed / TWO_POW_32) | 0, 0x9e3779b9);
    const splitmix = (): number => {
      state = (state + 0x9e3779b9) | 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = splitmix();
    this.#b = splitmix();
    this.#c = splitmix();
    this.#d = splitmix();
    // sfc32 needs a few rounds before its output is well mixed.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** An integer in `0 .. bound-1`, for `1 <= bound <= 2^32`. */
  below(bound: number): number {
    // Exact below 2^21; above, rounding could reach `bound` itself, hence the clamp.
    return Math.min(Math.floor((this.nextUint32() * bound) / TWO_POW_32), bound - 1);
  }

  /** Shuffles `items[0 .. count-1]` in place (Fisher-Yates). */
  shuffle<T>(items: T[], count: number = items.length): void {
    for (let i = count - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const item = items[i] as T;
      items[i] = items[j] as T;
      items[j] = item;
    }
  }

  /** `count` distinct integers from `1 ..= range`, in random order (partial Fisher-Yates). */
  distinct(count: number, range: number): number[] {
    const swapped = new Map<number, number>();
    const picked: number[] = [];
    for (let i = 0; i < count; i++) {
      const j = i + this.below(range - i);
      const atJ = swapped.get(j) ?? j;
      swapped.set(j, swapped.get(i) ?? i);
      picked.push(atJ + 1);
    }
    return picked;
  }
}

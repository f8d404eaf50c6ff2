/** Types of `random.mjs`, for the TypeScript test helpers that import it. */
export declare function mulberry32(seed: number): () => number;
export declare function randomInt(rng: () => number, min: number, max: number): number;

/** Types of `server-process.mjs`, for the TypeScript test helper that reads stats lines. */
export declare function parseStatsLine(line: string): Record<string, string> | undefined;

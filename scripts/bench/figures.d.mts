/** Types of `figures.mjs`, for the TypeScript test that imports it. */
export interface Figure {
  readonly key: string;
  readonly label: string;
  readonly decimals: number;
}
export type RunFigures = Readonly<Record<string, number | null>>;
export interface MedianRow {
  readonly name: string;
  readonly runs: number;
  readonly medians: RunFigures;
}

export declare const FIGURES: readonly Figure[];
export declare function median(values: readonly number[]): number;
export declare function medianFigures(runs: readonly RunFigures[]): Record<string, number | null>;
export declare function formatFigure(value: number | null | undefined, decimals: number): string;
export declare function formatMedianTable(rows: readonly MedianRow[]): string[];

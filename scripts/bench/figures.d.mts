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
export interface ClusterProcess {
  readonly prefix: string;
  readonly label: string;
}
export declare function clusterProcesses(gateways: number): ClusterProcess[];
export declare function comparisonFigures(gateways: number): Figure[];
export declare function medianFigures(
  runs: readonly RunFigures[],
  figures?: readonly Pick<Figure, 'key'>[],
): Record<string, number | null>;
export declare function formatFigure(value: number | null | undefined, decimals: number): string;
export declare function formatMedianTable(rows: readonly MedianRow[]): string[];
export declare function formatComparisonTable(
  columns: readonly MedianRow[],
  figures: readonly Figure[],
): string[];

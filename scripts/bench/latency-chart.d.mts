/** Types of `latency-chart.mjs`, for the TypeScript test that imports it. */
export interface LatencyPoint {
  readonly rate: number;
  readonly sendRate: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly label?: string;
  /** Clients the server dropped as slow during the point's runs (median). */
  readonly slowClientsDropped?: number;
  /** Share (0..1) of the time the bench's 1 ms timer was stalled during the runs (median). */
  readonly stalledShare?: number;
  /** Each run's p99, in run order. */
  readonly p99ByRun?: readonly number[];
}
export interface LatencySeries {
  readonly name: string;
  readonly points: readonly LatencyPoint[];
}
export declare const SUSTAINED_SHARE: number;
export declare function sustained(point: Pick<LatencyPoint, 'rate' | 'sendRate'>): boolean;
export declare function decades(min: number, max: number): number[];
export declare function linearTicks(max: number, count?: number): number[];
export declare function latencyChartSvg(chart: {
  readonly title: string;
  readonly series: readonly LatencySeries[];
}): string;
export declare function formatLatencyTable(series: readonly LatencySeries[]): string[];
export declare const P99_BOUNDS: readonly { readonly label: string; readonly boundMs: number }[];
export declare function p99Verdicts(series: readonly LatencySeries[]): string[];

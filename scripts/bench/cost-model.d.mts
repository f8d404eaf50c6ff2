/** Types of `cost-model.mjs`, for the TypeScript test that imports it. */
export interface CostMeasurements {
  readonly gatewayStartupCpuSeconds: number;
  readonly replayCpuSeconds: number;
  readonly eventsReplayed: number;
  readonly gatewayRunCpuSeconds: number;
  readonly gatewayEvents: number;
  readonly gatewayNotifications: number;
  readonly ingestRunCpuSeconds: number;
  readonly natsRunCpuSeconds: number;
  readonly events: number;
}
export interface CostModel {
  readonly replayMicrosPerEvent: number | null;
  readonly notificationMicros: number | null;
  readonly ingestMicrosPerEvent: number | null;
  readonly natsMicrosPerEvent: number | null;
  readonly notificationsPerEvent: number | null;
}
export interface ProjectionRow {
  readonly gateways: number;
  readonly coreShare: number;
  readonly maxEventsPerSecond: number;
  readonly maxNotificationsPerSecond: number;
}
export interface ProjectionSettings {
  readonly eventsPerSecond?: number;
  readonly gateways?: readonly number[];
  readonly headroom?: number;
}

export declare const HEADROOM: number;
export declare const COST_FIGURES: readonly {
  readonly key: keyof CostModel;
  readonly label: string;
  readonly decimals: number;
}[];
export declare function costModelOf(measured: CostMeasurements): CostModel;
export declare function medianCostModel(models: readonly Partial<CostModel>[]): CostModel;
export declare function costModelWarnings(model: Partial<CostModel>): string[];
export declare function projectCapacity(
  model: Partial<CostModel>,
  at?: ProjectionSettings,
): ProjectionRow[];
export declare function formatCostModel(
  model: Partial<CostModel>,
  at?: ProjectionSettings,
): string[];

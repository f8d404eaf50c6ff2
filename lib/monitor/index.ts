/**
 * `follower-maze/monitor`: the HTTP monitoring port (`/healthz`, `/metrics`, `/stats`,
 * `/clients`) and the sources it watches: a `listen()` server's, an ingest's, a gateway's, or
 * a program's own `MonitorSources`.
 */
export {
  gatewayMonitorSources,
  ingestMonitorSources,
  type LogConnection,
} from './cluster-sources.js';
export { MAZE_STAT_METRICS, serveMonitorSources } from './maze-sources.js';
export { type MonitorOptions, type MonitorServer, startMonitor } from './monitor-server.js';
export type { ClientPageRequest, Health, MonitorSources, StatMetric } from './sources.js';

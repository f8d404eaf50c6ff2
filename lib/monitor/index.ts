/** The HTTP monitoring port and the sources each front end plugs into it. */
export {
  GATEWAY_STAT_METRICS,
  gatewayMonitorSources,
  INGEST_PROCESS_STAT_METRICS,
  INGEST_STAT_METRICS,
  ingestMonitorSources,
  SNAPSHOT_WRITER_STAT_METRICS,
} from './cluster-sources.js';
export { MAZE_STAT_METRICS, serveMonitorSources } from './maze-sources.js';
export { type MonitorOptions, type MonitorServer, startMonitor } from './monitor-server.js';
export {
  type ClientPageRequest,
  type Health,
  METRIC_PREFIX,
  type MonitorSources,
  type StatMetric,
} from './sources.js';
export { StartingSources } from './starting-sources.js';

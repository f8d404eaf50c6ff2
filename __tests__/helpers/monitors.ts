/**
 * Monitoring ports for tests: `useMonitors()` registers an `afterEach` that closes every
 * monitor started in the test, and returns the starter (127.0.0.1, a free port).
 */
import { afterEach } from '@jest/globals';
import { type MonitorServer, type MonitorSources, startMonitor } from '../../lib/monitor/index.js';

export function useMonitors(): (sources: MonitorSources) => Promise<MonitorServer> {
  let started: MonitorServer[] = [];
  afterEach(async () => {
    const closing = started;
    started = [];
    await Promise.all(closing.map((monitor) => monitor.close()));
  });
  return async (sources) => {
    const monitor = await startMonitor({ sources, host: '127.0.0.1', port: 0 });
    started.push(monitor);
    return monitor;
  };
}

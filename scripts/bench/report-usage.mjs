/**
 * Preloaded into the simulator by the bench (`node --import …/report-usage.mjs`): as the
 * process exits it writes its own CPU time and lifetime as one JSON line to fd 3, which the
 * bench reads. getrusage() at exit is exact, while /proc/<pid> of a child that has just
 * exited may already be gone.
 */
import { writeSync } from 'node:fs';

const USAGE_FD = 3;

process.on('exit', () => {
  const usage = process.resourceUsage();
  const report = {
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    wallSeconds: process.uptime(),
    peakRssMb: usage.maxRSS / 1024,
  };
  try {
    writeSync(USAGE_FD, `${JSON.stringify(report)}\n`);
  } catch {
    // Started without the bench's fd 3: nobody is listening.
  }
});

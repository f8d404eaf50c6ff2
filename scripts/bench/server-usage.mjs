/**
 * Peak memory and CPU time of the running server process. On Linux both come from /proc:
 * `VmHWM` (the kernel's own high-water mark of the RSS) and utime + stime. Without /proc,
 * `ps` is sampled instead: its RSS peak is only as good as the sampling, its CPU time coarse.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { procStatusKiB } from '../support/server-process.mjs';

const run = promisify(execFile);
const HAS_PROC = existsSync('/proc/self/status');
const PS_SAMPLE_INTERVAL_MS = 200;
const PS_TIMEOUT_MS = 2_000;

/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
function clockTicksPerSecond() {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100; // The value on every common Linux.
  }
}
const CLOCK_TICKS = HAS_PROC ? clockTicksPerSecond() : 100;

/**
 * @typedef {{ peakRssMb: number | null, cpuSeconds: number | null }} ServerUsage
 * @typedef {{ read(): Promise<ServerUsage>, stop(): void }} UsageWatch
 */

/**
 * Starts watching process `pid`; `read()` just before stopping it, then `stop()`.
 * @param {number} pid
 * @returns {UsageWatch}
 */
export function watchServerUsage(pid) {
  return HAS_PROC ? watchWithProc(pid) : watchWithPs(pid);
}

/** @param {number} pid @returns {UsageWatch} */
function watchWithProc(pid) {
  return {
    async read() {
      const peakKiB = procStatusKiB(pid, 'VmHWM');
      // The command name in field 2 may hold spaces and parentheses: count from the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
      return {
        peakRssMb: peakKiB === undefined ? null : peakKiB / 1024,
        cpuSeconds: ticks / CLOCK_TICKS,
      };
    },
    stop() {},
  };
}

/** @param {number} pid @returns {UsageWatch} */
function watchWithPs(pid) {
  /** @type {ServerUsage} */
  const usage = { peakRssMb: null, cpuSeconds: null };
  const sample = async () => {
    try {
      const { stdout } = await run('ps', ['-o', 'rss=,time=', '-p', String(pid)], {
        timeout: PS_TIMEOUT_MS,
      });
      const [rssKb, time] = stdout.trim().split(/\s+/);
      usage.peakRssMb = Math.max(usage.peakRssMb ?? 0, Number(rssKb) / 1024);
      usage.cpuSeconds = parsePsTime(time);
    } catch {
      // A missed sample only makes the peak coarser.
    }
  };
  const timer = setInterval(sample, PS_SAMPLE_INTERVAL_MS);
  return {
    async read() {
      await sample();
      return { ...usage };
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/**
 * `ps`'s CPU time, `[[dd-]hh:]mm:ss[.cc]`, in seconds.
 * @param {string | undefined} time
 */
function parsePsTime(time) {
  if (time === undefined) return null;
  const [days, clock] = time.includes('-') ? time.split('-') : ['0', time];
  const seconds = clock.split(':').reduce((total, part) => total * 60 + Number(part), 0);
  const total = Number(days) * 86_400 + seconds;
  return Number.isFinite(total) ? total : null;
}

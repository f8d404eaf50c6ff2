/**
 * Memory measurements for tests that must show a server holds nothing it should not.
 * The server runs in the test's own process, so a forced full GC followed by
 * `process.memoryUsage()` shows what is really retained, not garbage waiting to be collected.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// `--expose-gc` at run time: a fresh context created after the flag is set gets `gc()`.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Bytes retained after a full GC: V8 heap plus Buffers and other external memory. */
export function retainedBytes(): number {
  collectGarbage();
  collectGarbage();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

export const MiB = 1024 * 1024;

/**
 * The coordinator's side of a spread run (`WorkerPool`), with stand-in workers
 * (helpers/worker-stub.mjs): the workers are told to connect together, once every one has
 * started, and never after the run failed; a worker that does not start fails the run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { SimulationFailure } from '../../lib/simulate/failures.js';
import { resolveSimulateOptions } from '../../lib/simulate/options.js';
import { WorkerPool } from '../../lib/simulate/workers.js';

const STUB = fileURLToPath(new URL('../helpers/worker-stub.mjs', import.meta.url));
const WAIT_MS = 10_000;

// Where the stubs read what to do (see worker-stub.mjs).
const CONFIG = join(tmpdir(), `worker-stub-${process.pid}.json`);

let directory: string;
let log: string;
const pools: WorkerPool[] = [];
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'worker-pool-'));
  log = join(directory, 'log');
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close(true)));
  rmSync(CONFIG, { force: true });
  rmSync(directory, { recursive: true, force: true });
});

/** The stubs' modes, by shard. */
function configure(modes: string[]): void {
  writeFileSync(CONFIG, JSON.stringify({ modes, log }));
}

/** Lines the stubs logged so far. */
function logged(): string[] {
  try {
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * A pool of stubs in `modes` (by shard); resolves once every worker started or the pool
 * failed, with the failure if any.
 */
async function startPool(
  modes: string[],
  timeoutMs = WAIT_MS,
): Promise<{ pool: WorkerPool; failure: SimulationFailure | undefined }> {
  configure(modes);
  let failure: SimulationFailure | undefined;
  let settle = (): void => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const pool = new WorkerPool(
    resolveSimulateOptions({ concurrencyLevel: 10, totalEvents: 10, workers: modes.length }),
    () => {
      if (pool.started) settle();
    },
    (failed) => {
      failure = failed;
      settle();
    },
    { entry: STUB, timeoutMs },
  );
  pools.push(pool);
  await bounded(settled, 'the pool to start or fail');
  return { pool, failure };
}

async function bounded(promise: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`waited ${WAIT_MS} ms for ${what}`)), WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
}

/** Waits until the stubs logged `line`. */
async function untilLogged(line: string): Promise<void> {
  await bounded(
    (async () => {
      while (!logged().includes(line)) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    `"${line}" in the stubs' log`,
  );
}

describe('WorkerPool', () => {
  it('tells the workers to connect only once every one of them has started', async () => {
    const { pool, failure } = await startPool(['ready', 'late']);
    expect(failure).toBeUndefined();
    expect(pool.started).toBe(true);
    await untilLogged('0 connect');
    await untilLogged('1 connect');
    const lines = logged();
    // Shard 0 was ready 200 ms before shard 1: it is told to connect only after shard 1's ready.
    expect(lines.indexOf('1 ready')).toBeLessThan(lines.indexOf('0 connect'));
  });

  it('fails when a worker exits before it started, and tells none to connect', async () => {
    const { pool, failure } = await startPool(['ready', 'exit']);
    expect(failure).toMatchObject({
      code: 'ERR_SIM_WORKER',
      context: { connection: 'worker#1' },
    });
    expect(failure?.message).toMatch(/^worker #1 exited \(code 3\) before it reported its clients/);
    expect(pool.started).toBe(false);
    await pool.close(true);
    expect(logged()).toEqual(['0 ready', '0 close']);
  });

  it('fails when a worker does not start in time', async () => {
    const { pool, failure } = await startPool(['never', 'never'], 50);
    expect(failure).toMatchObject({
      code: 'ERR_SIM_WORKER',
      message: 'worker #0 did not start within 50 ms',
      context: { connection: 'worker#0' },
    });
    expect(pool.started).toBe(false);
    await pool.close(true);
    expect(logged().sort()).toEqual(['0 close', '1 close']);
  });

  it('tells no worker to connect once the run failed, even when they all start after', async () => {
    configure(['ready', 'late']);
    const pool = new WorkerPool(
      resolveSimulateOptions({ concurrencyLevel: 10, totalEvents: 10, workers: 2 }),
      () => {},
      () => {},
      { entry: STUB, timeoutMs: WAIT_MS },
    );
    pools.push(pool);
    pool.abandon();
    await untilLogged('1 ready');
    await bounded(
      (async () => {
        while (!pool.started) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      'every worker to start',
    );
    await pool.close(true);
    // A connect would have reached each worker before its close.
    expect(logged().sort()).toEqual(['0 close', '0 ready', '1 close', '1 ready']);
  });
});

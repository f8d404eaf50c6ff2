/**
 * The examples in `examples/` run as a user would run them: `node examples/<file>.mjs`,
 * importing `follower-maze` by name (the package's self-reference, which resolves to the
 * build; `npm test` builds first). Each run is bounded and its output checked; the JSDoc
 * types of every example are checked against the built declarations with `tsc`.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { runNode } from '../helpers/binary.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const RUN_TIMEOUT_MS = 30_000;

/**
 * Runs `node args` in the package's root, without jest's NODE_OPTIONS
 * (--experimental-vm-modules), as a user's shell would; its stdout, once it exited 0.
 */
async function node(...args: string[]): Promise<string> {
  const result = await runNode(args).finished(RUN_TIMEOUT_MS);
  expect(result).toEqual({
    code: 0,
    signal: null,
    stdout: expect.any(String),
    stderr: expect.any(String),
  });
  return result.stdout;
}

describe('examples', () => {
  beforeAll(() => {
    if (!existsSync(`${ROOT}dist/lib/index.js`)) throw new Error('run `npm run build` first');
  });

  it('embed-in-service: in-memory streams, no TCP', async () => {
    const output = await node('examples/embed-in-service.mjs');
    expect(output.split('\n')).toEqual([
      'user 32 received: 3|F|56|32 4|S|56 5|B',
      'user 56 received: 1|F|32|56 2|P|32|56 5|B',
      'events applied: 5, notifications: 6',
      '',
    ]);
  });

  it('replay-log: the sample log through the pure core', async () => {
    const output = await node('examples/replay-log.mjs');
    expect(output).toContain('line 9: ERR_EVENT_BAD_SEQUENCE');
    expect(output).toContain('line 10: ERR_EVENT_BAD_BODY');
    expect(output).toContain('line 12: ERR_EVENT_STALE');
    expect(output).toContain('line 14: ERR_EVENT_DUPLICATE');
    expect(output).toContain('user 1: 3|P|7|1  4|B  5|S|7  7|F|3|1  8|S|7  11|F|7|1\n');
    expect(output).toContain('user 3: 4|B  5|S|7  10|P|1|3  12|S|1\n');
    expect(output).toContain('user 7: 1|F|1|7  2|F|3|7  4|B  12|S|1\n');
    expect(output).toContain('applied 11, no-op 1, discarded 3, still waiting 0');
  });

  it('replay-log: --users picks who is connected', async () => {
    const output = await node('examples/replay-log.mjs', 'examples/events.log', '--users', '3');
    expect(output).toContain('user 3: 4|B  5|S|7  10|P|1|3  12|S|1\n');
    expect(output).not.toContain('user 1:');
  });

  it('core-unit.test: the pure core under node:test', async () => {
    const output = await node('--test', 'examples/core-unit.test.mjs');
    expect(output).toMatch(/^# pass [1-9]\d*$/m);
    expect(output).toMatch(/^# fail 0$/m);
  });

  it('serve-and-verify: listen() and simulate() in one process', async () => {
    const output = await node('examples/serve-and-verify.mjs', '5000');
    expect(output).toMatch(/^verified \d+ notifications for 20 clients \(5002 events\)/m);
  });

  it('type-check against the built declarations', async () => {
    const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
    await expect(node(tsc, '-p', 'examples/tsconfig.json')).resolves.toBe('');
  });
});

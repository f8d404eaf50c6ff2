/**
 * `--monitor-token-file` on the built binary: the token from the file guards every monitoring
 * path but `/healthz`, never shows in the output or `--help`, and a file that cannot be used
 * stops startup with exit 2 and one line naming it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { run } from '../helpers/binary.js';
import { serve } from '../helpers/cluster-processes.js';
import { withTimeout } from '../helpers/sockets.js';

const TOKEN = 'c2VjcmV0LW1vbml0b3ItdG9rZW4';

let directory: string | undefined;
afterEach(() => {
  if (directory !== undefined) rmSync(directory, { recursive: true });
  directory = undefined;
});

function tokenFile(content: string): string {
  directory = mkdtempSync(join(tmpdir(), 'monitor-token-file-'));
  const file = join(directory, 'monitor.token');
  writeFileSync(file, content);
  return file;
}

describe('--monitor-token-file', () => {
  it('guards every path but /healthz with the token of the file, and never shows it', async () => {
    const file = tokenFile(`${TOKEN}\n`);
    const server = await serve(['--monitor-port', '0', '--monitor-token-file', file]);
    const line = await server.waitForLine('stderr', /^follower-maze monitor: http:/);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0];
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(5_000) });
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/stats')).status).toBe(401);
    const stats = await get('/stats', { authorization: `Bearer ${TOKEN}` });
    expect(stats.status).toBe(200);
    expect(await stats.text()).not.toContain(TOKEN);
    expect((await get('/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await withTimeout(server.exited, 10_000, 'the server to exit')).toBe(0);
    expect([...server.stdout, ...server.rawStderr].join('\n')).not.toContain(TOKEN);
  });

  it('is in --help without a default', async () => {
    const help = run(['serve', '--help']);
    expect(await withTimeout(help.exited, 10_000, 'the help to print')).toBe(0);
    const line = help.stdout.find((text) => text.includes('--monitor-token-file'));
    expect(line).toMatch(/bearer token/);
    expect(line).not.toMatch(/default/);
  });

  it.each([
    ['an empty file', '\n', /the monitorTokenFile .* is empty/],
    ['a token with spaces', `${TOKEN} ${TOKEN}`, /must be printable ASCII without spaces/],
  ])('exits 2 with one line for %s', async (_, content, message) => {
    const file = tokenFile(content);
    const binary = run(['--monitor-port', '0', '--monitor-token-file', file]);
    expect(await withTimeout(binary.exited, 10_000, 'the binary to exit')).toBe(2);
    const lines = binary.stderr.filter((text) => text !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(lines[0]).toContain('--monitor-token-file');
    expect(lines[0]).not.toContain(TOKEN);
  });

  it('exits 2 for a file that cannot be read', async () => {
    const binary = run(['--monitor-port', '0', '--monitor-token-file', '/nonexistent/token']);
    expect(await withTimeout(binary.exited, 10_000, 'the binary to exit')).toBe(2);
    expect(binary.stderr.filter((text) => text !== '')).toEqual([
      expect.stringMatching(/cannot read the monitorTokenFile .*\/nonexistent\/token: ENOENT/),
    ]);
  });
});

/**
 * The package's entry points, built and imported by name as a user would: the values each
 * one exports, and the modules a process loads. A resolve hook preloaded with `--import`
 * (helpers/record-modules.mjs) records every module URL the child resolves; the main entry
 * and `serve` without `--nats-url` must load none of the optional parts' dependencies, and
 * only `--client-auth jwt` loads the JWT library.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { runNode } from '../helpers/binary.js';
import { serve, stop } from '../helpers/cluster-processes.js';
import { withTimeout } from '../helpers/sockets.js';

const RECORDER = new URL('../helpers/record-modules.mjs', import.meta.url).href;
const EXIT_MS = 15_000;

// The dependencies only cluster mode, the monitor, the simulator and the CLI need.
const OPTIONAL = {
  nats: /\/node_modules\/@nats-io\//,
  promClient: /\/node_modules\/prom-client\//,
  hdrHistogram: /\/node_modules\/hdr-histogram-js\//,
  yargs: /\/node_modules\/yargs\//,
  jose: /\/node_modules\/jose\//,
};

const logs = mkdtempSync(join(tmpdir(), 'follower-maze-modules-'));
let logCount = 0;

afterAll(() => rmSync(logs, { recursive: true, force: true }));

/** The environment that makes a child record the modules it resolves into `file`. */
function recording(file: string): Record<string, string> {
  return { NODE_OPTIONS: `--import=${RECORDER}`, MODULE_LOG_FILE: file };
}

function newLogFile(): string {
  logCount += 1;
  return join(logs, `modules-${logCount}.log`);
}

function loadedModules(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

function loading(modules: readonly string[], dependency: RegExp): string[] {
  return modules.filter((url) => dependency.test(url));
}

/** Imports `specifier` in a fresh Node process; its value names and the modules it loaded. */
async function importInChild(specifier: string): Promise<{ names: string[]; modules: string[] }> {
  const file = newLogFile();
  const child = runNode(
    [
      '--input-type=module',
      '-e',
      `const entry = await import(${JSON.stringify(specifier)});` +
        'console.log(JSON.stringify(Object.keys(entry).sort()));',
    ],
    recording(file),
  );
  const code = await withTimeout(child.exited, EXIT_MS, `the import of ${specifier}`);
  expect({ code, stderr: child.rawStderr.join('\n') }).toEqual({ code: 0, stderr: '' });
  return { names: JSON.parse(child.stdout[0] as string) as string[], modules: loadedModules(file) };
}

describe('entry points (built package, imported by name)', () => {
  it('the main entry is the embedding API: these values and no other', async () => {
    const { names, modules } = await importInChild('follower-maze');
    expect(names).toEqual([
      'ErrorCode',
      'EventType',
      'FollowGraph',
      'FollowOutcome',
      'Maze',
      'MazeCore',
      'MazeError',
      'Sequencer',
      'ServerTls',
      'createMaze',
      'isEvent',
      'lineOf',
      'listen',
      'parseEvent',
      'recipientsOf',
    ]);
    // The recorder sees packages resolved from ES code, CommonJS ones included (debug is one).
    expect(loading(modules, /\/node_modules\/debug\//)).not.toEqual([]);
    expect(loading(modules, OPTIONAL.nats)).toEqual([]);
    expect(loading(modules, OPTIONAL.promClient)).toEqual([]);
    expect(loading(modules, OPTIONAL.hdrHistogram)).toEqual([]);
    expect(loading(modules, OPTIONAL.yargs)).toEqual([]);
    expect(loading(modules, OPTIONAL.jose)).toEqual([]);
  });

  it('follower-maze/cluster: the ingest, the gateway, the event logs and the ports', async () => {
    const { names, modules } = await importInChild('follower-maze/cluster');
    expect(names).toEqual([
      'MemoryEventLog',
      'connectEventLog',
      'createGateway',
      'createIngest',
      'openClientPort',
      'openEventPort',
    ]);
    // NATS is loaded by the first connectEventLog() call, not by the import.
    expect(loading(modules, OPTIONAL.nats)).toEqual([]);
    expect(loading(modules, OPTIONAL.promClient)).toEqual([]);
    expect(loading(modules, OPTIONAL.hdrHistogram)).toEqual([]);
    expect(loading(modules, OPTIONAL.yargs)).toEqual([]);
    expect(loading(modules, OPTIONAL.jose)).toEqual([]);
  });

  it('follower-maze/cluster: connectEventLog() loads the NATS client when it is called', async () => {
    const file = newLogFile();
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    const child = runNode(
      [
        '--input-type=module',
        '-e',
        "const { connectEventLog } = await import('follower-maze/cluster');" +
          "await connectEventLog({ natsUrl: 'nats://127.0.0.1:1' }).then(" +
          "() => console.log('connected'), (error) => console.log(error.code));",
      ],
      recording(file),
    );
    const code = await withTimeout(child.exited, EXIT_MS, 'connectEventLog() in a child');
    expect({ code, stdout: child.stdout }).toEqual({ code: 0, stdout: ['ERR_LOG_UNAVAILABLE'] });
    expect(loading(loadedModules(file), OPTIONAL.nats)).not.toEqual([]);
  });

  it('follower-maze/simulate: the verifier as a function', async () => {
    const { names, modules } = await importInChild('follower-maze/simulate');
    expect(names).toEqual(['SimulationErrorCode', 'simulate']);
    expect(loading(modules, OPTIONAL.hdrHistogram)).not.toEqual([]);
    expect(loading(modules, OPTIONAL.nats)).toEqual([]);
    expect(loading(modules, OPTIONAL.promClient)).toEqual([]);
    expect(loading(modules, OPTIONAL.yargs)).toEqual([]);
    expect(loading(modules, OPTIONAL.jose)).toEqual([]);
  });

  it('follower-maze/monitor: the monitoring port and its sources', async () => {
    const { names, modules } = await importInChild('follower-maze/monitor');
    expect(names).toEqual([
      'MAZE_STAT_METRICS',
      'gatewayMonitorSources',
      'ingestMonitorSources',
      'serveMonitorSources',
      'startMonitor',
    ]);
    expect(loading(modules, OPTIONAL.promClient)).not.toEqual([]);
    expect(loading(modules, OPTIONAL.nats)).toEqual([]);
    expect(loading(modules, OPTIONAL.hdrHistogram)).toEqual([]);
    expect(loading(modules, OPTIONAL.yargs)).toEqual([]);
    expect(loading(modules, OPTIONAL.jose)).toEqual([]);
  });
});

describe('docs/api.md', () => {
  it("gives each entry's number of values as the built package has it", async () => {
    const api = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const documented = new Map(
      [...api.matchAll(/^\| `(follower-maze[^`]*)` +\| +(\d+) \|/gm)].map((row) => [
        row[1] as string,
        Number(row[2]),
      ]),
    );
    const entries = [
      'follower-maze',
      'follower-maze/cluster',
      'follower-maze/simulate',
      'follower-maze/monitor',
    ];
    expect([...documented.keys()].sort()).toEqual([...entries].sort());
    for (const entry of entries) {
      const { names } = await importInChild(entry);
      expect({ entry, values: documented.get(entry) }).toEqual({ entry, values: names.length });
    }
  });
});

describe('docs/api.md names every export', () => {
  const api = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  it.each([
    ['follower-maze', 'lib/index.ts'],
    ['follower-maze/cluster', 'lib/cluster/index.ts'],
    ['follower-maze/simulate', 'lib/simulate/index.ts'],
    ['follower-maze/monitor', 'lib/monitor/index.ts'],
  ])('%s: each value and type of %s', (entry, file) => {
    const source = readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
    const exported = [...source.matchAll(/^export (?:type )?\{([^}]*)\} from/gm)].flatMap(
      (statement) =>
        (statement[1] as string)
          .split(',')
          .map((name) => name.replace(/^\s*type\s+/, '').trim())
          .filter(Boolean),
    );
    expect(exported.length).toBeGreaterThan(0);
    // The entry's section: from its heading to the next one of its level.
    const heading = `## \`${entry}\``;
    const start = api.indexOf(`\n${heading}\n`);
    expect(start).toBeGreaterThanOrEqual(0);
    const end = api.indexOf('\n## ', start + heading.length + 1);
    const section = api.slice(start, end === -1 ? undefined : end);
    const missing = exported.filter((name) => !new RegExp(`\`${name}[\`(]`).test(section));
    expect({ entry, missing }).toEqual({ entry, missing: [] });
  });
});

describe('modules the CLI loads', () => {
  it('serve without --nats-url loads no NATS, monitor or simulator code', async () => {
    const file = newLogFile();
    const server = await serve([], { env: recording(file) });
    expect(await stop(server)).toBe(0);
    const modules = loadedModules(file);
    expect(loading(modules, OPTIONAL.yargs)).not.toEqual([]);
    expect(loading(modules, OPTIONAL.nats)).toEqual([]);
    expect(loading(modules, OPTIONAL.promClient)).toEqual([]);
    expect(loading(modules, OPTIONAL.hdrHistogram)).toEqual([]);
    expect(loading(modules, OPTIONAL.jose)).toEqual([]);
  });

  it('serve --client-auth jwt loads the JWT library', async () => {
    const file = newLogFile();
    const secret = new URL('../fixtures/tls/jwt-hs256.secret', import.meta.url).pathname;
    const server = await serve(['--client-auth', 'jwt', '--jwt-secret-file', secret], {
      env: recording(file),
    });
    expect(await stop(server)).toBe(0);
    expect(loading(loadedModules(file), OPTIONAL.jose)).not.toEqual([]);
  });

  it('serve --monitor-port loads the metrics library, still no NATS or simulator code', async () => {
    const file = newLogFile();
    const server = await serve(['--monitor-port', '0'], { env: recording(file) });
    expect(await stop(server)).toBe(0);
    const modules = loadedModules(file);
    expect(loading(modules, OPTIONAL.promClient)).not.toEqual([]);
    expect(loading(modules, OPTIONAL.nats)).toEqual([]);
    expect(loading(modules, OPTIONAL.hdrHistogram)).toEqual([]);
  });
});

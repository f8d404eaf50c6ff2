/**
 * `examples/deploy/`, checked as far as this machine can run it: the systemd unit passes
 * `systemd-analyze verify` (with `ExecStart` pointed at this node and this build) and keeps
 * the settings `docs/operations.md` promises; the Dockerfile is parsed and linted (exec-form
 * `ENTRYPOINT`/`CMD` running node on the bin, never npm or npx, `NODE_ENV=production`, a
 * non-root user, only existing options and files) and its `HEALTHCHECK` command is run
 * against a monitoring port, ready and not. No container engine runs here.
 *
 * That the way both start the server (`node dist/bin/follower-maze.js`, no npm in between)
 * exits 0 on SIGTERM is tested on the built binary in `__tests__/cli/commands.test.ts` ('serves events end to
 * end and exits 0 on SIGTERM').
 */
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { maxClientsFor } from '../../lib/adapter/descriptor-limit.js';
import { ADAPTER_OPTIONS } from '../../lib/adapter/options.js';
import { ENV_PREFIX, envOf, SERVER_OPTIONS } from '../../lib/cli/options.js';
import type { Health } from '../../lib/monitor/sources.js';
import { runCommand, runNode } from '../helpers/binary.js';
import { useMonitors } from '../helpers/monitors.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const DEPLOY = join(ROOT, 'examples/deploy');
const UNIT_FILE = 'follower-maze.service';
const UNIT = readFileSync(join(DEPLOY, UNIT_FILE), 'utf8');
const DOCKERFILE = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(DEPLOY, 'Dockerfile.dockerignore'), 'utf8');
const BIN = 'dist/bin/follower-maze.js';
const INSTALLED_BIN = `/opt/follower-maze/${BIN}`;
const ENV_VARIABLES = new Set(SERVER_OPTIONS.map(envOf));
/** Set by `.ci/run`, which installs systemd when it is missing: CI never skips the verify. */
const TOOLS_REQUIRED = process.env.FOLLOWER_MAZE_REQUIRE_TOOLS === '1';

/** The first executable `name` on the PATH, or `undefined`. */
function which(name: string): string | undefined {
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    const path = join(directory, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `Key=value` settings of a unit file (commented ones with `#Key=value` when asked). */
function unitSettings(text: string, commented = false): [string, string][] {
  const pattern = commented ? /^#?([A-Za-z]+)=(.*)$/gm : /^([A-Za-z]+)=(.*)$/gm;
  return [...text.matchAll(pattern)].map((match) => [match[1] as string, match[2] as string]);
}

function unitSetting(key: string): string | undefined {
  return unitSettings(UNIT).find(([name]) => name === key)?.[1];
}

/** The `Environment=NAME=value` assignments of the unit, commented ones included. */
function unitEnvironment(commented = false): [string, string][] {
  return unitSettings(UNIT, commented)
    .filter(([key]) => key === 'Environment')
    .map(([, assignment]) => {
      const [name, ...value] = assignment.split('=');
      return [name as string, value.join('=')];
    });
}

describe('examples/deploy/follower-maze.service', () => {
  const systemdAnalyze = which('systemd-analyze');
  let scratch = '';

  beforeAll(() => {
    if (!existsSync(join(ROOT, BIN))) throw new Error('run `npm run build` first');
    scratch = mkdtempSync(join(tmpdir(), 'follower-maze-unit-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const verify = systemdAnalyze !== undefined || TOOLS_REQUIRED ? it : it.skip;
  verify(
    systemdAnalyze !== undefined
      ? 'passes systemd-analyze verify, with ExecStart pointed at this node and this build'
      : 'passes systemd-analyze verify (skipped: no systemd-analyze; apt-get install -y systemd)',
    async () => {
      if (systemdAnalyze === undefined) throw new Error('systemd-analyze is missing');
      // verify checks that the ExecStart binary exists, so run this node on this build.
      const unit = UNIT.replace(
        /^ExecStart=.*$/m,
        `ExecStart=${process.execPath} ${join(ROOT, BIN)}`,
      );
      const path = join(scratch, UNIT_FILE);
      writeFileSync(path, unit);
      const { code, stderr } = await runCommand(systemdAnalyze, ['verify', path]).finished(30_000);
      // Unknown keys and bad values are only warned about (exit 0): they fail here too.
      const aboutTheUnit = stderr.split('\n').filter((line) => line.includes(UNIT_FILE));
      expect({ code, aboutTheUnit }).toEqual({ code: 0, aboutTheUnit: [] });
    },
  );

  it('runs node on the bin directly, never npm or npx', () => {
    expect(unitSetting('ExecStart')).toBe(`/usr/bin/node ${INSTALLED_BIN}`);
    expect(UNIT).not.toMatch(/^ExecStart=.*\b(?:npm|npx)\b/m);
  });

  it('stops with SIGTERM and waits longer than twice the shutdown timeout (drain, then flush) before SIGKILL', () => {
    expect(unitSetting('KillSignal')).toBe('SIGTERM');
    const shutdownMs = Number(
      unitEnvironment().find(([name]) => name === `${ENV_PREFIX}_SHUTDOWN_TIMEOUT`)?.[1] ??
        ADAPTER_OPTIONS.shutdownTimeout.default,
    );
    expect(Number(unitSetting('TimeoutStopSec')) * 1000).toBeGreaterThan(2 * shutdownMs);
  });

  it('restarts on failure, but not after an invalid option (exit 2)', () => {
    expect(unitSetting('Restart')).toBe('on-failure');
    expect(unitSetting('RestartPreventExitStatus')).toBe('2');
  });

  it('is hardened and sets the descriptor limit the client limit derives from', () => {
    expect(unitSetting('NoNewPrivileges')).toBe('yes');
    expect(unitSetting('DynamicUser')).toBe('yes');
    expect(unitSetting('ProtectSystem')).toBe('strict');
    const limit = Number(unitSetting('LimitNOFILE'));
    expect(limit).toBeGreaterThanOrEqual(1024);
    // The client limit the unit's comment and the deploy README quote for it.
    const clients = maxClientsFor(limit);
    expect(UNIT).toContain(`${limit} minus a 5 % reserve, ${clients}.`);
    const readme = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
    expect(readme).toContain(`here ${clients.toLocaleString('en-US')} clients`);
  });

  it('sets NODE_ENV=production and only FOLLOWER_MAZE_* variables that exist', () => {
    const environment = unitEnvironment(true);
    expect(environment).toContainEqual(['NODE_ENV', 'production']);
    const options = environment.map(([name]) => name).filter((name) => name.startsWith('FOLLOWER'));
    expect(options.length).toBeGreaterThan(0);
    for (const name of options) expect(ENV_VARIABLES).toContain(name);
  });
});

/** One Dockerfile instruction: its keyword (upper case) and its arguments. */
interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [keyword = '', ...rest] = line.trim().split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The arguments of an exec-form instruction (a JSON array of strings), or `undefined`. */
function execForm(args: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((item) => typeof item === 'string')
      ? parsed
      : undefined;
  } catch {
    return undefined;
  }
}

/** `KEY=value` pairs of `ENV` instructions (the `ENV KEY value` form is not used). */
function envPairs(stage: Instruction[]): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const { keyword, args } of stage) {
    if (keyword !== 'ENV') continue;
    for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) {
      pairs.set(match[1] as string, match[2] as string);
    }
  }
  return pairs;
}

describe('examples/deploy/Dockerfile', () => {
  const all = instructions(DOCKERFILE);
  const lastFrom = all.map(({ keyword }) => keyword).lastIndexOf('FROM');
  const finalStage = all.slice(lastFrom);
  const last = (keyword: string) => finalStage.filter((item) => item.keyword === keyword).at(-1);

  it('builds on Node 20 or later', () => {
    const images = all.filter(({ keyword }) => keyword === 'FROM').map(({ args }) => args);
    expect(images.length).toBeGreaterThan(0);
    for (const image of images) {
      const major = Number(/^node:(\d+)/.exec(image)?.[1]);
      expect(major).toBeGreaterThanOrEqual(20);
    }
  });

  it('starts node on the bin in exec form, under an init that forwards signals', () => {
    const entrypoint = execForm(last('ENTRYPOINT')?.args ?? '');
    const command = execForm(last('CMD')?.args ?? '[]');
    expect(entrypoint).toBeDefined();
    expect(command).toBeDefined();
    const argv = [...(entrypoint ?? []), ...(command ?? [])];
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(argv.slice(2, 4)).toEqual(['node', BIN]);
    expect(argv.join(' ')).not.toMatch(/\b(?:npm|npx|yarn|pnpm)\b/);
  });

  it('never uses the shell form for ENTRYPOINT or CMD', () => {
    for (const { keyword, args } of all) {
      if (keyword === 'ENTRYPOINT' || keyword === 'CMD') expect(execForm(args)).toBeDefined();
    }
  });

  it('runs in production, as a non-root user, stopped by SIGTERM', () => {
    const environment = envPairs(finalStage);
    expect(environment.get('NODE_ENV')).toBe('production');
    const user = last('USER')?.args;
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(?:root|0)(?::|$)/);
    expect(last('STOPSIGNAL')?.args ?? 'SIGTERM').toBe('SIGTERM');
  });

  it('installs only the production dependencies in the final image', () => {
    const installs = finalStage.filter(
      ({ keyword, args }) => keyword === 'RUN' && /\bnpm (?:ci|install)\b/.test(args),
    );
    expect(installs.length).toBeGreaterThan(0);
    for (const { args } of installs) expect(args).toMatch(/--omit=dev\b/);
  });

  it('sets only FOLLOWER_MAZE_* variables that exist, and exposes the default ports', () => {
    for (const name of envPairs(all).keys()) {
      if (name.startsWith(`${ENV_PREFIX}_`)) expect(ENV_VARIABLES).toContain(name);
    }
    expect(last('EXPOSE')?.args.split(/\s+/).sort()).toEqual(['9090', '9099']);
  });

  describe('HEALTHCHECK', () => {
    const startMonitor = useMonitors();
    const check = execForm(/\bCMD\s+(\[.*\])$/.exec(last('HEALTHCHECK')?.args ?? '')?.[1] ?? '');
    const script = check?.[2] ?? '';
    const monitorPort = envPairs(finalStage).get(`${ENV_PREFIX}_MONITOR_PORT`);

    /**
     * Runs the check as the container would, against 127.0.0.1:`port`: its exit code, or the
     * signal that ended it.
     */
    async function runCheck(port: number): Promise<number | string> {
      const argv = (check ?? [])
        .slice(1)
        .map((arg) => arg.replace(`:${monitorPort}/`, `:${port}/`));
      const { code, signal } = await runNode(argv).finished(10_000);
      return code ?? (signal as string);
    }

    it('asks /healthz of the monitoring port the image turns on, with node in exec form', () => {
      expect(check?.slice(0, 2)).toEqual(['node', '-e']);
      expect(monitorPort).toMatch(/^[1-9]\d*$/);
      expect(script).toContain(`http://127.0.0.1:${monitorPort}/healthz`);
      // The monitoring port exists: nothing may call it planned.
      const readme = readFileSync(join(DEPLOY, 'README.md'), 'utf8');
      for (const text of [DOCKERFILE, readme]) expect(text).not.toMatch(/\bplanned\b/);
      expect(readme).toContain('`HEALTHCHECK` asks `/healthz`');
    });

    it('passes while /healthz says ready and fails once it does not', async () => {
      let health: Health = { ready: true };
      const monitor = await startMonitor({
        health: () => health,
        stats: () => ({}),
        statMetrics: {},
      });
      expect(await runCheck(monitor.address.port)).toBe(0);
      health = { ready: false, reason: 'shutting down' };
      expect(await runCheck(monitor.address.port)).toBe(1);
      await monitor.close();
      expect(await runCheck(monitor.address.port)).toBe(1);
    });
  });

  it('copies only files that exist and that its .dockerignore lets through', () => {
    const allowed = DOCKERIGNORE.split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    const sources = all
      .filter(({ keyword, args }) => keyword === 'COPY' && !args.startsWith('--from'))
      .flatMap(({ args }) => args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source))).toBe(true);
      expect(allowed).toContain(source);
    }
  });
});

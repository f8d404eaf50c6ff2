/**
 * The pages of `docs/` document what the code defines, so that neither can drift: every
 * server option with its commands, environment variable, default and meaning (`cli.md`),
 * every library option's default (`api.md`), every `ErrorCode` (`errors.md`), every metric
 * the monitoring port registers (`operations.md`); every relative link of the README and the
 * pages resolves, to a heading too; the CHANGELOG keeps its format. The simulator's page is
 * checked by `simulator.test.ts`, the protocol by `protocol.test.ts`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ADAPTER_OPTIONS, resolveMazeOptions } from '../../lib/adapter/options.js';
import { envOf, flagOf, SERVER_OPTIONS } from '../../lib/cli/options.js';
import { TLS_STAT_METRICS } from '../../lib/cli/tls-files.js';
import { ErrorCode } from '../../lib/errors.js';
import {
  GATEWAY_STAT_METRICS,
  INGEST_PROCESS_STAT_METRICS,
} from '../../lib/monitor/cluster-sources.js';
import { MAZE_STAT_METRICS } from '../../lib/monitor/maze-sources.js';
import { createMonitorMetrics } from '../../lib/monitor/metrics.js';
import type { StatMetric } from '../../lib/monitor/sources.js';
import { LISTEN_OPTIONS } from '../../lib/net/options.js';
import { defaultText } from '../../lib/options/option.js';
import {
  anchors,
  cells,
  firstCells,
  page,
  ROOT,
  relativeLinks,
  row,
  section,
  withoutCode,
} from '../helpers/markdown.js';

const DOCS = readdirSync(new URL('docs', ROOT)).filter((file) => file.endsWith('.md'));

describe('docs/cli.md', () => {
  const text = section(page('docs/cli.md'), 'Every option');

  it.each(SERVER_OPTIONS.map((spec) => [flagOf(spec), spec] as const))(
    'documents --%s with its commands, environment variable, default and meaning',
    (flag, spec) => {
      // Every cell derives from the option table, the meaning included.
      expect(row(text, `--${flag}`)?.slice(1, 5)).toEqual([
        spec.commands.join(', '),
        `\`${envOf(spec)}\``,
        `\`${defaultText(spec)}\``,
        spec.describe,
      ]);
    },
  );

  it('documents no option that does not exist', () => {
    const flags = SERVER_OPTIONS.map((spec) => `--${flagOf(spec)}`);
    const documented = firstCells(text, '--').filter(
      (flag) => flag !== '--help' && flag !== '--version',
    );
    expect(documented.sort()).toEqual([...flags].sort());
  });
});

describe('docs/api.md: library options', () => {
  const text = section(page('docs/api.md'), 'Options');
  const defaults: Record<string, unknown> = {
    host: LISTEN_OPTIONS.host.default,
    eventPort: LISTEN_OPTIONS.eventPort.default,
    clientPort: LISTEN_OPTIONS.clientPort.default,
    ...resolveMazeOptions(),
    // Resolved, it is this machine's descriptor limit minus the reserve; documented as 0.
    maxClients: ADAPTER_OPTIONS.maxClients.default,
  };

  it.each(Object.entries(defaults))('documents %s with its default', (name, value) => {
    expect(row(text, name)?.[1]).toBe(`\`${String(value)}\``);
  });
});

describe('docs/errors.md', () => {
  const text = section(page('docs/errors.md'), 'Server and library');

  it.each(Object.values(ErrorCode))('documents %s', (code) => {
    expect(row(text, code)).toBeDefined();
  });

  it('documents no code that does not exist', () => {
    expect(firstCells(text, 'ERR_').sort()).toEqual(Object.values(ErrorCode).sort());
  });
});

describe('docs/operations.md', () => {
  const operations = page('docs/operations.md');

  /**
   * `name kind` of every metric a monitor of `statMetrics` registers (with the resume
   * histogram for a server that takes clients), process metrics left out.
   */
  async function registered(
    statMetrics: Record<string, StatMetric>,
    takesClients: boolean,
  ): Promise<string[]> {
    const typesOf = async (
      metrics: Record<string, StatMetric>,
      watchesResumes: boolean,
    ): Promise<string[]> => {
      const exposition = createMonitorMetrics({
        health: () => ({ ready: true }),
        stats: () => ({}),
        statMetrics: metrics,
        ...(watchesResumes && { watchResumes: () => () => {} }),
      });
      const types = [...(await exposition.expose()).matchAll(/^# TYPE (\S+) (\S+)$/gm)];
      exposition.clear();
      return types.map((match) => `${match[1]} ${match[2]}`);
    };
    const processMetrics = new Set(await typesOf({}, false));
    return (await typesOf(statMetrics, takesClients)).filter((type) => !processMetrics.has(type));
  }

  /** `name kind` of every metric the table documents for `command`. */
  function documented(command: string): string[] {
    return section(operations, 'Metrics')
      .split('\n')
      .filter((line) => line.startsWith('| `follower_maze_'))
      .map(cells)
      .filter((fields) => (fields[2] as string).split(', ').includes(command))
      .map((fields) => `${(fields[0] as string).replaceAll('`', '')} ${fields[1]}`);
  }

  it.each([
    ['serve', { ...MAZE_STAT_METRICS, ...TLS_STAT_METRICS }, true],
    ['ingest', { ...INGEST_PROCESS_STAT_METRICS, ...TLS_STAT_METRICS }, false],
    ['gateway', { ...GATEWAY_STAT_METRICS, ...TLS_STAT_METRICS }, true],
  ] as const)(
    'lists exactly the metrics the monitor of %s registers (with TLS), with their type',
    async (command, metrics, takesClients) => {
      const names = await registered(metrics, takesClients);
      expect(names.length).toBeGreaterThan(10);
      expect(documented(command).sort()).toEqual(names.sort());
    },
  );

  it('documents each metric with the help text it is registered with', () => {
    const all = [
      MAZE_STAT_METRICS,
      INGEST_PROCESS_STAT_METRICS,
      GATEWAY_STAT_METRICS,
      TLS_STAT_METRICS,
    ].flatMap((metrics) => Object.values(metrics) as StatMetric[]);
    for (const metric of all) expect(row(operations, metric.name)?.[3]).toBe(metric.help);
  });

  it('says SIGHUP reloads nothing but the TLS files, the --config file included, here and in the protocol', () => {
    const signals = section(operations, 'Signals');
    expect(signals).toMatch(/^\| SIGHUP /m);
    expect(signals).toContain('`--config`');
    expect(signals).toContain('`--tls-cert`');
    expect(signals).not.toMatch(/no configuration/i);
    const contract = page('docs/protocol.md')
      .split(/\n(?=- )/)
      .find((item) => item.startsWith('- SIGHUP'));
    expect(contract).toContain('`--config`');
    expect(contract).toContain('`--tls-cert`');
  });
});

describe('links', () => {
  const pages = ['README.md', 'CHANGELOG.md', ...DOCS.map((file) => `docs/${file}`)];

  it.each(pages)('every relative link of %s resolves, to a heading too', (path) => {
    const broken: string[] = [];
    for (const link of relativeLinks(page(path))) {
      const [file = '', anchor] = link.split('#');
      const target = file === '' ? path : normalize(join(dirname(path), file));
      if (!existsSync(new URL(target, ROOT))) broken.push(link);
      else if (
        anchor !== undefined &&
        target.endsWith('.md') &&
        !anchors(page(target)).includes(anchor)
      ) {
        broken.push(link);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(pages)('%s cites no internal issue number', (path) => {
    expect(page(path)).not.toMatch(/\bissues?[- ]#?\d/i);
  });

  it('every file of docs/ that is no page is used by a page', () => {
    const others = readdirSync(new URL('docs', ROOT)).filter((file) => !file.endsWith('.md'));
    const text = DOCS.map((file) => page(`docs/${file}`)).join('\n');
    for (const file of others) expect(text).toContain(`](${file})`);
  });
});

describe('docs/performance.md', () => {
  it('has the current figures only: no dates, commits or issue numbers', () => {
    const text = withoutCode(page('docs/performance.md'));
    expect(text).not.toMatch(/\b20\d\d-\d\d-\d\d\b/);
    expect(text).not.toMatch(/\bcommit [0-9a-f]{7}/);
    expect(text).not.toMatch(/\bissue[- ]\d/i);
    expect(text).toMatch(/^## Method$/m);
  });
});

describe('CHANGELOG.md', () => {
  const changelog = page('CHANGELOG.md');

  it('keeps a changelog: Unreleased, then 0.1.0, with the usual groups', () => {
    const releases = [...changelog.matchAll(/^## \[([^\]]+)\]/gm)].map((match) => match[1]);
    expect(releases).toEqual(['Unreleased', '0.1.0']);
    for (const heading of changelog.match(/^### .*$/gm) ?? []) {
      expect([
        '### Added',
        '### Changed',
        '### Deprecated',
        '### Removed',
        '### Fixed',
        '### Security',
      ]).toContain(heading);
    }
    expect(section(changelog, '[Unreleased]')).toMatch(/^### Changed$/m);
  });

  it('has one line per change and no pull request or issue references', () => {
    expect(changelog).not.toMatch(/(^|\s)#\d+\b/m);
    const entries = changelog.split('\n').filter((line) => line.startsWith('- '));
    expect(entries.length).toBeGreaterThan(10);
    // An entry never wraps onto a second line.
    expect(changelog).not.toMatch(/^ {2}\S/m);
  });
});

/**
 * The default client limit (docs/protocol.md §5): the soft "Max open files" of a `/proc/<pid>/limits`
 * text, the reserve kept back from clients, the fallback where the file cannot be read, and
 * a given limit lowered to what the descriptors allow.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  CLIENT_DESCRIPTOR_RESERVE,
  clientLimitFor,
  defaultMaxClients,
  descriptorLimit,
  FALLBACK_DESCRIPTOR_LIMIT,
  knownDescriptorLimit,
  maxClientsFor,
  parseOpenFilesLimit,
  readDescriptorLimit,
  resolveMaxClients,
} from '../../lib/adapter/descriptor-limit.js';
import { resolveMazeOptions } from '../../lib/adapter/options.js';

/** `/proc/self/limits` as Linux writes it, with the open-files row given. */
function limitsText(openFiles: string): string {
  return [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max processes             96364                96364                processes ',
    openFiles,
    'Max locked memory         8388608              8388608              bytes     ',
    '',
  ].join('\n');
}

describe('parseOpenFilesLimit', () => {
  it('reads the soft limit, not the hard one', () => {
    expect(
      parseOpenFilesLimit(
        limitsText(
          'Max open files            1024                 524288               files     ',
        ),
      ),
    ).toBe(1024);
    expect(
      parseOpenFilesLimit(
        limitsText(
          'Max open files            20000                20000                files     ',
        ),
      ),
    ).toBe(20_000);
  });

  it.each([
    ['an unlimited soft limit', limitsText('Max open files  unlimited  unlimited  files')],
    ['a zero limit', limitsText('Max open files  0  0  files')],
    ['a garbled limit', limitsText('Max open files  12ab  4096  files')],
    ['no open-files row', limitsText('Max file locks  unlimited  unlimited  locks')],
    ['an empty text', ''],
  ])('gives undefined for %s', (_, text) => {
    expect(parseOpenFilesLimit(text)).toBeUndefined();
  });
});

describe('maxClientsFor', () => {
  it('keeps back 5 % of the descriptors, at least 64, and admits at least one client', () => {
    expect(maxClientsFor(20_000)).toBe(19_000);
    expect(maxClientsFor(1_048_576)).toBe(1_048_576 - 52_429);
    expect(maxClientsFor(1024)).toBe(1024 - CLIENT_DESCRIPTOR_RESERVE);
    expect(maxClientsFor(256)).toBe(192);
    expect(maxClientsFor(CLIENT_DESCRIPTOR_RESERVE + 1)).toBe(1);
    expect(maxClientsFor(10)).toBe(1);
  });
});

describe('readDescriptorLimit', () => {
  it('reads a limits file, and falls back to 1024 when it is missing or unusable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'follower-maze-limits-'));
    try {
      const file = join(dir, 'limits');
      writeFileSync(
        file,
        limitsText('Max open files            4096                 4096                 files'),
      );
      expect(readDescriptorLimit(file)).toBe(4096);
      writeFileSync(file, limitsText('Max open files  unlimited  unlimited  files'));
      expect(readDescriptorLimit(file)).toBe(FALLBACK_DESCRIPTOR_LIMIT);
      expect(readDescriptorLimit(join(dir, 'missing'))).toBe(FALLBACK_DESCRIPTOR_LIMIT);
      expect(FALLBACK_DESCRIPTOR_LIMIT).toBe(1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is this process's own limit by default, and the default client limit follows it", () => {
    const expected =
      process.platform === 'linux' ? readDescriptorLimit() : FALLBACK_DESCRIPTOR_LIMIT;
    expect(descriptorLimit()).toBe(expected);
    expect(defaultMaxClients()).toBe(maxClientsFor(expected));
  });
});

describe('clientLimitFor', () => {
  it('uses a given limit up to what the descriptors allow, and lowers one above it', () => {
    expect(clientLimitFor(50_000, 20_000)).toBe(19_000);
    expect(clientLimitFor(19_000, 20_000)).toBe(19_000);
    expect(clientLimitFor(18_999, 20_000)).toBe(18_999);
    expect(clientLimitFor(1, 20_000)).toBe(1);
    expect(clientLimitFor(50_000, 64)).toBe(1);
    expect(clientLimitFor(Number.MAX_SAFE_INTEGER, 256)).toBe(192);
  });

  it('derives 0 from the limit, or from the fallback where the limit is unknown', () => {
    expect(clientLimitFor(0, 20_000)).toBe(19_000);
    expect(clientLimitFor(0, undefined)).toBe(maxClientsFor(FALLBACK_DESCRIPTOR_LIMIT));
  });

  it('trusts a given limit where the descriptor limit is unknown', () => {
    expect(clientLimitFor(50_000, undefined)).toBe(50_000);
  });

  it("lowers a maze's maxClients to what this process's descriptors allow", () => {
    const known = knownDescriptorLimit();
    expect(known).toBe(process.platform === 'linux' ? readDescriptorLimit() : undefined);
    const huge = 1_000_000_000;
    const expected = known === undefined ? huge : maxClientsFor(known);
    expect(resolveMaxClients(huge)).toBe(expected);
    expect(resolveMazeOptions({ maxClients: huge }).maxClients).toBe(expected);
    expect(resolveMazeOptions({ maxClients: 7 }).maxClients).toBe(7);
    expect(resolveMaxClients(0)).toBe(defaultMaxClients());
  });
});

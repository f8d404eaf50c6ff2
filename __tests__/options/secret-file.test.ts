/**
 * Files named by a setting (lib/options/secret-file.ts): a secret is the file's bytes less one
 * trailing line break; a file that cannot be read or an empty secret is `ERR_INVALID_OPTION`
 * naming the setting and the path, never the content.
 */
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';
import {
  readSecretFile,
  readSettingFile,
  withoutLineBreak,
} from '../../lib/options/secret-file.js';

const dir = mkdtempSync(join(tmpdir(), 'maze-secret-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('withoutLineBreak', () => {
  it.each([
    ['s3cret', 's3cret'],
    ['s3cret\n', 's3cret'],
    ['s3cret\r\n', 's3cret'],
    ['s3cret\n\n', 's3cret\n'],
    ['s3cret\r', 's3cret\r'],
    ['\n', ''],
    ['', ''],
  ])('%j is %j', (text, secret) => {
    expect(withoutLineBreak(Buffer.from(text)).toString()).toBe(secret);
  });
});

describe('readSecretFile', () => {
  it('reads the secret less one trailing line break', () => {
    expect(readSecretFile(file('crlf', 'top-s3cret\r\n'), 'natsTokenFile').toString()).toBe(
      'top-s3cret',
    );
    expect(readSecretFile(file('bare', 'top-s3cret'), 'natsTokenFile').toString()).toBe(
      'top-s3cret',
    );
  });

  it('reads the file once, with the reader given', () => {
    const paths: string[] = [];
    const secret = readSecretFile('/s/key', 'logKeyFile', (path) => {
      paths.push(path);
      return Buffer.from('k3y\n');
    });
    expect(secret.toString()).toBe('k3y');
    expect(paths).toEqual(['/s/key']);
  });

  it.each(['', '\n', '\r\n'])('refuses a file that holds %j', (content) => {
    const path = file('empty', content);
    expect(() => readSecretFile(path, 'monitorTokenFile')).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOption,
        message: `the monitorTokenFile ${path} is empty`,
      }),
    );
  });
});

describe('readSettingFile', () => {
  it('reads the bytes as they are', () => {
    expect(readSettingFile(file('pem', 'PEM\n'), 'natsTlsCa').toString()).toBe('PEM\n');
  });

  it.each([
    ['monitorTokenFile', 'cannot read the monitorTokenFile'],
    ['--jwt-secret-file', 'cannot read the --jwt-secret-file'],
    ['natsTlsCa', 'cannot read the natsTlsCa file'],
  ])('names %s and the path of a file it cannot read, with the reason', (setting, start) => {
    const path = join(dir, 'missing');
    expect(() => readSettingFile(path, setting)).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidOption,
        message: `${start} ${path}: ENOENT`,
      }),
    );
  });

  it('gives the message of an error without a code', () => {
    const refusal = (() => {
      try {
        readSettingFile('/s/x', 'natsCreds', () => {
          throw new Error('EACCES: denied');
        });
      } catch (error) {
        return error as Error;
      }
      throw new Error('nothing thrown');
    })();
    expect(refusal.message).toBe('cannot read the natsCreds file /s/x: EACCES: denied');
  });
});

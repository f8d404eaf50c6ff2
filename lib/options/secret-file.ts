/**
 * Files named by a setting (`monitorTokenFile`, `logKeyFile`, `natsPasswordFile`,
 * `--jwt-secret-file`, a PEM file...), read with one set of rules and one wording.
 *
 * Invariants:
 * - A file is read once; a file that cannot be read, or a secret file that is empty, throws
 *   `MazeError(ERR_INVALID_OPTION)` naming the setting and the path, never what it holds.
 * - A secret is the file's bytes less one trailing line break (`\n` or `\r\n`), so a secret
 *   written by `openssl rand -hex 32 > file` or saved by an editor is the same everywhere.
 *   Callers check what the secret must be (its characters, its length).
 */
import type { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { ErrorCode, MazeError } from '../errors.js';

/** Reads a whole file (`readFileSync` unless a test gives another). */
export type ReadBytes = (path: string) => Buffer;

/**
 * The bytes of the file at `path`, which setting `setting` names. Throws
 * `MazeError(ERR_INVALID_OPTION)` with the reason (`ENOENT`...) when it cannot be read.
 */
export function readSettingFile(
  path: string,
  setting: string,
  readFile: ReadBytes = readFileSync,
): Buffer {
  try {
    return readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw invalid(`cannot read the ${fileOf(setting)} ${path}: ${reason}`);
  }
}

/**
 * The secret in the file at `path`: its bytes less one trailing line break, not empty (a
 * view of the bytes read, which a caller may zero once it is done with them).
 */
export function readSecretFile(
  path: string,
  setting: string,
  readFile: ReadBytes = readFileSync,
): Buffer {
  const secret = withoutLineBreak(readSettingFile(path, setting, readFile));
  if (secret.length === 0) throw invalid(`the ${fileOf(setting)} ${path} is empty`);
  return secret;
}

/** `bytes` less one trailing `\n` or `\r\n`. */
export function withoutLineBreak(bytes: Buffer): Buffer {
  if (bytes.at(-1) !== 0x0a) return bytes;
  return bytes.subarray(0, bytes.at(-2) === 0x0d ? -2 : -1);
}

/** How a message names the setting's file: `monitorTokenFile`, `natsTlsCa file`. */
function fileOf(setting: string): string {
  return /file$/i.test(setting) ? setting : `${setting} file`;
}

function invalid(message: string): MazeError {
  return new MazeError(ErrorCode.InvalidOption, message);
}

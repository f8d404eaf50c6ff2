/** Where the server commands write: the process's stdout and stderr, bounded and never throwing. */
import { formatWithOptions } from 'node:util';
import createDebug from 'debug';
import { LineWriter } from './line-writer.js';

/** Where the CLI writes; the process by default. */
export interface ServeOutput {
  out(line: string): void;
  err(line: string): void;
}

let processLines: ServeOutput | undefined;

/**
 * The process's stdout and stderr through `LineWriter`s (made once, on first use): never
 * throws, never buffers without bound. `debug` output goes through the stderr writer too.
 */
export function processOutput(): ServeOutput {
  if (processLines === undefined) {
    const stdout = new LineWriter(process.stdout, 'stdout');
    const stderr = new LineWriter(process.stderr, 'stderr');
    createDebug.log = (...args: unknown[]) => {
      stderr.write(formatWithOptions({ colors: process.stderr.isTTY === true }, ...args));
    };
    processLines = { out: (line) => stdout.write(line), err: (line) => stderr.write(line) };
  }
  return processLines;
}

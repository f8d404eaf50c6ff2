/** The resolve hook of `record-modules.mjs`; runs on the loader's thread. */
import { appendFileSync } from 'node:fs';

let file;

export function initialize(data) {
  if (typeof data?.file !== 'string') throw new Error('MODULE_LOG_FILE is not set');
  file = data.file;
}

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  // Synchronous, so that every line is written when the process reports it is ready.
  appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}

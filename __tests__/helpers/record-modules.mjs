/**
 * Preloaded with `node --import` by a test: records the URL of every module the process
 * resolves through the ES module loader, one per line, in the file named by
 * `MODULE_LOG_FILE`. A CommonJS package imported from ES code is recorded too (its
 * entry is resolved here); what it then require()s itself is not, and need not be.
 */
import { register } from 'node:module';

register('./record-modules-hooks.mjs', import.meta.url, {
  data: { file: process.env.MODULE_LOG_FILE },
});

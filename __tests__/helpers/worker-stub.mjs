/**
 * A stand-in for the simulator's worker process (lib/simulate/worker.ts), for WorkerPool's
 * tests: it starts as its test says for its shard (`ready` at once, `late` 200 ms after its
 * start message, `never`, or `exit` before it is ready), appends `<shard> <what>` to the
 * test's log file for each message it sends or receives, and exits when told to close or
 * when the pool goes away. The test (its parent process) writes both, `{ modes, log }`, to
 * `worker-stub-<its pid>.json` in the temporary directory: a test's `process.env` is not
 * the environment its children inherit.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const config = JSON.parse(readFileSync(join(tmpdir(), `worker-stub-${process.ppid}.json`), 'utf8'));
const log = (what) => appendFileSync(config.log, `${shard} ${what}\n`);
let shard;

process.once('disconnect', () => process.exit(0));
process.on('message', (message) => {
  if (message.type !== 'start') {
    log(message.type);
    if (message.type === 'close') process.exit(0);
    return;
  }
  shard = message.shard;
  const ready = () => {
    log('ready');
    process.send({ type: 'ready' });
  };
  switch (config.modes[shard]) {
    case 'ready':
      ready();
      break;
    case 'late':
      setTimeout(ready, 200);
      break;
    case 'exit':
      process.exit(3);
      break;
    default:
      break;
  }
});

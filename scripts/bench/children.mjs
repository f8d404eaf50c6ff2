/**
 * The bench's child processes: the set of those still running (`track`), killing them all on
 * a failed run or when the bench exits (`killChildren`), bounded waits (`withTimeout`), a
 * stop by signal that must end in exit code 0 (`stopChild`), and what a child said.
 *
 * Invariants: every child the bench starts is tracked until it exits; every wait is bounded;
 * nothing here picks processes by name: only tracked children are ever signalled.
 */

/** Characters of a child's output quoted when it fails. */
const LOG_TAIL_CHARS = 2_000;
/** Longest wait for a server process to print its startup line. */
export const STARTUP_TIMEOUT_MS = 10_000;
/** Longest wait for a server process to exit after SIGTERM. */
export const STOP_TIMEOUT_MS = 10_000;

/** @type {Set<import('node:child_process').ChildProcess>} */
const children = new Set();

/** Kills every child still running: on a failed run, and when the bench itself exits. */
export function killChildren() {
  for (const child of children) child.kill('SIGKILL');
}

/**
 * Counts `child` among the children `killChildren()` kills until it exits.
 * @template {import('node:child_process').ChildProcess} T
 * @param {T} child
 * @returns {T}
 */
export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Sends `signal` to `child` and waits up to `ms` for it to exit, which it must do with code 0.
 * Rejects (leaving the child to `killChildren()`) on a timeout or another exit code.
 * @param {import('node:child_process').ChildProcess} child
 * @param {{ name: string, signal: NodeJS.Signals, ms: number }} how
 */
export async function stopChild(child, { name, signal, ms }) {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`${name} had exited (${child.exitCode ?? child.signalCode}) before ${signal}`);
  }
  const exited = new Promise((resolve) => {
    child.once('exit', (code, exitSignal) => resolve([code, exitSignal]));
  });
  child.kill(signal);
  const [code, exitSignal] = await withTimeout(exited, ms, `${name} shutdown`);
  if (code !== 0) {
    throw new Error(`${name} exited with ${code ?? exitSignal} after ${signal}`);
  }
}

/**
 * Rejects when `promise` takes longer than `ms`.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
export function withTimeout(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout])).finally(() =>
    clearTimeout(timer),
  );
}

/**
 * Everything a stream says; read it once it ended.
 * @param {import('node:stream').Readable | null} stream
 */
export function collect(stream) {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk) => {
    text += chunk;
  });
  return () => text;
}

/**
 * How often `pattern` (global) occurs in what a stream says, within a chunk.
 * @param {import('node:stream').Readable | null} stream
 * @param {RegExp} pattern
 */
export function count(stream, pattern) {
  let found = 0;
  stream?.on('data', (chunk) => {
    found += String(chunk).match(pattern)?.length ?? 0;
  });
  return () => found;
}

/**
 * The last LOG_TAIL_CHARS a stream said, to quote in an error.
 * @param {import('node:stream').Readable | null} stream
 */
export function tail(stream) {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk) => {
    text = (text + chunk).slice(-LOG_TAIL_CHARS);
  });
  return () => text;
}

/** @param {unknown} error */
export function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

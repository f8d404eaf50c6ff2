/**
 * The README's "A local cluster, copy-paste" block, run as written by bash from the
 * repository's root after the build: `simulate` must pass, and after the stop lines no
 * process the block started may be left.
 *
 * The only rewrites are of what would clash with other runs on this machine: the fixed ports
 * (NATS 4222 and the client ports 9099, 9199, 9299 in the text; the event port 9090, which
 * the block leaves to the defaults, through the environment), the store directory (a temp
 * dir) and, for time, the number of events. Every process the block starts is found from
 * /proc as a descendant of its shell, so none escapes the check; all are killed if the test
 * fails or runs out of time.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, expect, it } from '@jest/globals';
import { natsServerPath } from '../../scripts/support/nats-server.mjs';
import { BINARY, runCommand } from '../helpers/binary.js';
import { page } from '../helpers/markdown.js';
import { describeWithNats } from '../helpers/nats.js';
import { unusedPort } from '../helpers/sockets.js';

const README = page('README.md');
/** Longest the whole block may take, start to stop. */
const BLOCK_MS = 150_000;
/** How often the shell's descendants are looked up while it runs. */
const POLL_MS = 50;
/** Events the simulator streams here instead of the block's million. */
const TOTAL_EVENTS = 20_000;

/** The first `sh` block after the heading, as it stands. */
function clusterBlock(): string {
  const block = /^### A local cluster, copy-paste\n[\s\S]*?^```sh\n([\s\S]*?)^```$/m.exec(
    README,
  )?.[1];
  if (block === undefined) throw new Error('README.md has no "A local cluster, copy-paste" block');
  return block;
}

/** Replaces every `from` in `text` (at least one must be there) by `to`. */
function rewrite(text: string, from: string | RegExp, to: string): string {
  const pattern = typeof from === 'string' ? new RegExp(`\\b${from}\\b`, 'g') : from;
  expect(text).toMatch(pattern);
  return text.replace(pattern, to);
}

/** Parent PID of every process, from /proc. */
function parents(): Map<number, number> {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last `)`.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // Exited meanwhile.
    }
  }
  return parentOf;
}

/**
 * Adds to `found` every living descendant of `root`, with its arguments (read again on each
 * call: a child seen between fork and exec still has its shell's; an exited one not reaped
 * yet has none, and keeps the last ones read).
 */
function collectDescendants(root: number, found: Map<number, string[]>): void {
  const parentOf = parents();
  let added = true;
  const tree = new Set([root]);
  while (added) {
    added = false;
    for (const [pid, ppid] of parentOf) {
      if (tree.has(ppid) && !tree.has(pid)) {
        tree.add(pid);
        added = true;
      }
    }
  }
  tree.delete(root);
  for (const pid of tree) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline !== '' || !found.has(pid)) found.set(pid, cmdline.split('\0'));
    } catch {
      // Exited meanwhile.
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves true if something accepts a connection on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `count` distinct free ports. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await unusedPort());
  return [...ports];
}

const started = new Map<number, string[]>();
let storeRoot: string | undefined;

// A failed or timed-out run leaves nothing behind: the helper kills the shell's process
// group; every process it started is killed here too, by PID, should one have left the group.
afterEach(() => {
  for (const pid of started.keys()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  started.clear();
  if (storeRoot !== undefined) rmSync(storeRoot, { recursive: true, force: true });
  storeRoot = undefined;
});

describeWithNats('README: the local cluster block', () => {
  it(
    'passes simulate as written, and leaves no process behind after its stop lines',
    async () => {
      expect(existsSync(BINARY)).toBe(true);
      const [natsPort, eventPort, ...clientPorts] = (await freePorts(5)) as [number, ...number[]];
      storeRoot = mkdtempSync(join(tmpdir(), 'follower-maze-readme-'));
      const store = join(storeRoot, 'nats');

      let script = clusterBlock();
      script = rewrite(script, '4222', String(natsPort));
      for (const [index, port] of ['9099', '9199', '9299'].entries()) {
        script = rewrite(script, port, String(clientPorts[index]));
      }
      script = rewrite(script, /\/tmp\/follower-maze-nats/g, store);
      script = rewrite(script, /(--total(?:Events|-events)) \d+/g, `$1 ${TOTAL_EVENTS}`);
      // Nothing of the block's fixed ports and store is left to clash with another run (the
      // comments may still name them).
      expect(script.replace(/#.*$/gm, '')).not.toMatch(
        /\b(4222|9090|9099|9199|9299)\b|\/tmp\/follower-maze-nats/,
      );

      const nats = natsServerPath() as string;
      // Its own process group, so a failed run can be killed whole.
      const shell = runCommand('bash', ['-c', script], {
        env: {
          PATH: `${process.env.PATH ?? ''}:${dirname(nats)}`,
          // The event port the block leaves to the defaults (ingest and simulate).
          FOLLOWER_MAZE_EVENT_PORT: String(eventPort),
          eventListenerPort: String(eventPort),
        },
        group: true,
      });
      const root = shell.child.pid as number;
      const poller = setInterval(() => collectDescendants(root, started), POLL_MS);
      const { code, signal, stdout, stderr } = await shell
        .finished(BLOCK_MS)
        .finally(() => clearInterval(poller));
      const output = stdout + stderr;

      expect({ code, signal, output }).toEqual({
        code: 0,
        signal: null,
        output: expect.any(String),
      });
      expect(output).toContain('ALL NOTIFICATIONS RECEIVED');
      expect(output).not.toContain('FAILED');
      // What it started: nats-server, the ingest, three gateways and the simulator (besides
      // short-lived helpers such as rm).
      const roles = [...started.values()]
        .map(([program, , command]) =>
          program?.endsWith('nats-server') ? 'nats-server' : program === 'node' ? command : '',
        )
        .filter((role) => role !== '')
        .sort();
      expect(roles).toEqual(['gateway', 'gateway', 'gateway', 'ingest', 'nats-server', 'simulate']);
      const left = [...started].filter(([pid]) => alive(pid));
      expect(left).toEqual([]);
      for (const port of [natsPort, eventPort, ...clientPorts]) {
        expect(await listening(port)).toBe(false);
      }
      expect(existsSync(store)).toBe(false);
    },
    BLOCK_MS + 30_000,
  );
});

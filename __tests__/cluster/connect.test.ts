/**
 * Cluster mode's settings (the `cluster` rows of the option table): how the `ingest` and
 * `gateway` command lines take them, that `serve` has no such flags and that they never reach
 * the library's options, and how `natsConnectOptions()` maps them to the NATS client's
 * options. No NATS server here: see `jetstream-event-log.test.ts`.
 */
import { describe, expect, it } from '@jest/globals';
import {
  resolveGatewayArgs,
  resolveIngestArgs,
  toGatewayOptions,
  toIngestOptions,
} from '../../lib/cli/cluster-options.js';
import { commandYargsOptions } from '../../lib/cli/command-options.js';
import { flagOf, SERVER_OPTIONS } from '../../lib/cli/options.js';
import { resolveServeArgs } from '../../lib/cli/serve-options.js';
import {
  NATS_CONNECT_TIMEOUT_MS,
  NATS_RECONNECT_WAIT_MS,
  natsConnectOptions,
} from '../../lib/cluster/connect.js';
import { NATS_OPTIONS, SNAPSHOT_OPTIONS } from '../../lib/cluster/options.js';
import { ErrorCode } from '../../lib/errors.js';

const NO_FILES = { env: {}, readFile: (path: string): string => missing(path) };

function missing(path: string): never {
  throw new Error(`ENOENT: no such file, open '${path}'`);
}

/** The `MazeError` code and message `action` throws. */
function thrown(action: () => unknown): { code: string; message: string } {
  try {
    action();
  } catch (error) {
    return { code: (error as { code: string }).code, message: (error as Error).message };
  }
  throw new Error('nothing thrown');
}

describe('cluster settings on the command line', () => {
  const cluster = Object.keys(NATS_OPTIONS);
  const snapshots = Object.keys(SNAPSHOT_OPTIONS);

  it('are the nats… rows and the snapshot cadence, in their own help group', () => {
    expect(cluster).toEqual([
      'natsUrl',
      'natsCreds',
      'natsUser',
      'natsPasswordFile',
      'natsTokenFile',
      'natsTlsCa',
      'natsTlsCert',
      'natsTlsKey',
      'logKeyFile',
      'natsStream',
      'natsSubject',
      'natsStorage',
      'natsReplicas',
      'natsMaxAge',
      'natsMaxBytes',
    ]);
    expect(snapshots).toEqual(['snapshotEvents', 'snapshotInterval']);
    for (const command of ['serve', 'ingest', 'gateway'] as const) {
      const yargs = commandYargsOptions(command);
      for (const spec of SERVER_OPTIONS) {
        if (!cluster.includes(spec.name) && !snapshots.includes(spec.name)) continue;
        if ((spec.commands as readonly string[]).includes(command)) {
          expect(yargs[flagOf(spec)]?.group).toBe('Cluster mode (NATS JetStream):');
        } else expect(yargs).not.toHaveProperty(flagOf(spec));
      }
    }
  });

  it('default to no server and the documented stream', () => {
    expect(resolveGatewayArgs({}, NO_FILES)).toMatchObject({
      natsUrl: undefined,
      natsCreds: undefined,
      natsStream: 'FOLLOWER_MAZE',
      natsSubject: 'follower-maze.events',
      natsStorage: 'file',
      natsReplicas: 1,
    });
  });

  it('are parsed from flags and the environment, and checked like every setting', () => {
    const args = resolveIngestArgs(
      { natsUrl: 'nats://a:4222,nats://b:4222', natsStorage: 'memory' },
      { env: { FOLLOWER_MAZE_NATS_REPLICAS: '3' }, readFile: missing },
    );
    expect(args).toMatchObject({
      natsUrl: 'nats://a:4222,nats://b:4222',
      natsStorage: 'memory',
      natsReplicas: 3,
    });
    expect(thrown(() => resolveGatewayArgs({ natsStorage: 'disk' }, NO_FILES))).toEqual({
      code: ErrorCode.InvalidOption,
      message: '--nats-storage must be one of file, memory, got "disk"',
    });
    expect(
      thrown(() =>
        resolveIngestArgs({}, { env: { FOLLOWER_MAZE_NATS_REPLICAS: '6' }, readFile: missing }),
      ).message,
    ).toBe('FOLLOWER_MAZE_NATS_REPLICAS must be an integer from 1 to 5, got 6');
  });

  it('never reach the library options of the ingest or the gateway', () => {
    const ingest = toIngestOptions(resolveIngestArgs({ natsUrl: 'nats://a:4222' }, NO_FILES));
    const gateway = toGatewayOptions(resolveGatewayArgs({ natsUrl: 'nats://a:4222' }, NO_FILES));
    for (const name of cluster) {
      expect(ingest).not.toHaveProperty(name);
      expect(gateway).not.toHaveProperty(name);
    }
    expect(Object.keys(ingest).sort()).toEqual([
      'delimiter',
      'maxFollowEdges',
      'maxLineLength',
      'reorderBytes',
      'reorderCapacity',
      'shutdownTimeout',
      'sourceIdleTimeout',
      'startSequence',
    ]);
    expect(Object.keys(gateway).sort()).toEqual([
      'clientBufferLimit',
      'delimiter',
      'identifyTimeout',
      'maxClients',
      'maxFollowEdges',
      'maxIdLineLength',
      'resumeBytes',
      'shutdownTimeout',
      'slowClientTimeout',
      'totalBufferLimit',
    ]);
  });

  it('may sit in a shared environment or config file, each command using its own', () => {
    const shared = {
      env: { FOLLOWER_MAZE_NATS_URL: 'nats://a:4222' },
      readFile: () => '{"natsStream": "EVENTS", "resetOnDisconnect": true, "snapshotEvents": 5}',
    };
    const serve = resolveServeArgs({ config: 'cluster.json' }, shared);
    expect(serve).toMatchObject({ natsUrl: 'nats://a:4222', resetOnDisconnect: true });
    const gateway = resolveGatewayArgs({ config: 'cluster.json' }, shared);
    expect(gateway).toMatchObject({ natsUrl: 'nats://a:4222', natsStream: 'EVENTS' });
    expect(gateway).not.toHaveProperty('resetOnDisconnect');
    expect(gateway).not.toHaveProperty('snapshotEvents');
    // Named in the banner, so nothing is ignored without a word.
    expect(serve.unusedSettings).toEqual([]);
    expect(gateway.unusedSettings).toEqual([
      'resetOnDisconnect (serve)',
      'snapshotEvents (serve, ingest)',
    ]);
    // A shared environment with a bad value is wrong for every command.
    expect(
      thrown(() =>
        resolveGatewayArgs(
          {},
          { env: { FOLLOWER_MAZE_RESET_ON_DISCONNECT: 'maybe' }, readFile: missing },
        ),
      ).code,
    ).toBe(ErrorCode.InvalidOption);
  });
});

describe('a cluster setting without --nats-url', () => {
  it.each([
    [{ natsStream: 'X' }, {}, '--nats-stream'],
    [{}, { FOLLOWER_MAZE_NATS_CREDS: 'a.creds' }, 'FOLLOWER_MAZE_NATS_CREDS'],
    [{ snapshotEvents: '5' }, {}, '--snapshot-events'],
  ])('is refused, not ignored: %j %j', (argv, env, label) => {
    for (const resolve of [resolveServeArgs, resolveIngestArgs]) {
      expect(thrown(() => resolve(argv, { env, readFile: missing }))).toEqual({
        code: ErrorCode.InvalidOption,
        message: `${label} needs --nats-url (FOLLOWER_MAZE_NATS_URL): the cluster settings apply only to an event log on NATS`,
      });
    }
  });

  it('is refused from the config file too, and taken with a URL', () => {
    const file = { env: {}, readFile: () => '{"natsStream": "EVENTS"}' };
    expect(thrown(() => resolveGatewayArgs({ config: 'c.json' }, file)).message).toBe(
      'c.json: natsStream needs --nats-url (FOLLOWER_MAZE_NATS_URL): the cluster settings apply only to an event log on NATS',
    );
    expect(resolveGatewayArgs({ config: 'c.json', natsUrl: 'nats://a:4222' }, file)).toMatchObject({
      natsStream: 'EVENTS',
    });
  });
});

describe('natsConnectOptions', () => {
  const files: Record<string, string> = {
    '/etc/nats/password': 's3cret\n',
  };
  const readFile = (path: string): string => files[path] ?? missing(path);

  it('takes comma-separated servers, fails fast on the first connect, then reconnects', () => {
    expect(natsConnectOptions({ natsUrl: ' nats://a:4222 , b:4223,' }, readFile)).toEqual({
      servers: ['nats://a:4222', 'b:4223'],
      name: 'follower-maze',
      reconnectTimeWait: NATS_RECONNECT_WAIT_MS,
      timeout: NATS_CONNECT_TIMEOUT_MS,
      waitOnFirstConnect: false,
      maxReconnectAttempts: -1,
      ignoreAuthErrorAbort: true,
    });
  });

  it('needs a server', () => {
    expect(thrown(() => natsConnectOptions({}, readFile))).toEqual({
      code: ErrorCode.InvalidOption,
      message: 'natsUrl is required: nats://host:4222',
    });
  });

  it('maps the login and TLS files to the client options (nats-auth.test.ts has every case)', () => {
    const url = { natsUrl: 'nats://a:4222' };
    expect(
      natsConnectOptions(
        { ...url, natsUser: 'maze', natsPasswordFile: '/etc/nats/password' },
        readFile,
      ),
    ).toMatchObject({ user: 'maze', pass: 's3cret' });
    expect(
      natsConnectOptions({ ...url, natsTokenFile: '/etc/nats/password' }, readFile),
    ).toMatchObject({
      token: 's3cret',
    });
  });

  it('refuses conflicting logins, bad values, unreadable files and credentials in the URL', () => {
    const url = { natsUrl: 'nats://a:4222' };
    expect(
      thrown(() => natsConnectOptions({ ...url, natsTokenFile: 't', natsUser: 'u' }, readFile)),
    ).toEqual({
      code: ErrorCode.InvalidOption,
      message: 'give one way to log in to NATS, not natsUser/natsPasswordFile and natsTokenFile',
    });
    expect(thrown(() => natsConnectOptions({ ...url, natsReplicas: 0 }, readFile)).message).toBe(
      'natsReplicas must be an integer from 1 to 5, got 0',
    );
    expect(
      thrown(() => natsConnectOptions({ ...url, natsCreds: '/nowhere.creds' }, readFile)),
    ).toEqual({
      code: ErrorCode.InvalidOption,
      message:
        "cannot read the natsCreds file /nowhere.creds: ENOENT: no such file, open '/nowhere.creds'",
    });
    expect(
      thrown(() => natsConnectOptions({ natsUrl: 'nats://maze:s3cret@a:4222' }, readFile)).message,
    ).toMatch(/^natsUrl must not carry credentials/);
  });
});

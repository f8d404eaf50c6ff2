/**
 * The serve command's pieces in process: the option table, its validation and mapping to
 * `listen()`, the log formats, and `runServe()` on a port that is in use.
 */

import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { createMaze } from '../../lib/adapter/maze.js';
import { resolveGatewayArgs, resolveIngestArgs } from '../../lib/cli/cluster-options.js';
import { commandYargsOptions, type SettingSources } from '../../lib/cli/command-options.js';
import { formatAddress, formatProblem, formatStats } from '../../lib/cli/format.js';
import { envOf, flagOf, SERVER_OPTIONS } from '../../lib/cli/options.js';
import { runServe } from '../../lib/cli/serve.js';
import { resolveServeArgs, type ServeArgs, toListenOptions } from '../../lib/cli/serve-options.js';
import { withSuggestions } from '../../lib/cli/suggest.js';
import { ErrorCode } from '../../lib/errors.js';
import { LISTEN_OPTIONS } from '../../lib/net/options.js';
import { closest } from '../../lib/options/suggest.js';

/** Sources with only the given environment and files. */
function sources(
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): SettingSources {
  return {
    env,
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
  };
}

function defaults(): ServeArgs {
  return resolveServeArgs({}, sources());
}

/** The message `resolveServeArgs` throws for these inputs. */
function refusal(
  argv: Record<string, unknown>,
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): string {
  try {
    resolveServeArgs(argv, sources(env, files));
  } catch (error) {
    expect(error).toMatchObject({ code: ErrorCode.InvalidOption });
    return (error as Error).message;
  }
  throw new Error('no refusal');
}

describe('serve options', () => {
  it('has one flag per row of the option table (serve takes every one), and the library defaults', () => {
    expect(Object.keys(commandYargsOptions('serve'))).toEqual(SERVER_OPTIONS.map(flagOf));
    const args = defaults();
    expect(args).toMatchObject({
      eventPort: LISTEN_OPTIONS.eventPort.default,
      clientPort: LISTEN_OPTIONS.clientPort.default,
      host: LISTEN_OPTIONS.host.default,
      statsInterval: 0,
      config: undefined,
    });
    // Every maze option the CLI sets resolves to the same value as the library default.
    const { host, eventPort, clientPort, ...mazeOptions } = toListenOptions(args);
    expect([host, eventPort, clientPort]).toEqual(['127.0.0.1', 9090, 9099]);
    expect(createMaze(mazeOptions).options).toEqual(createMaze().options);
  });

  it('derives flags and variables from the camelCase names', () => {
    const spec = SERVER_OPTIONS.find((candidate) => candidate.name === 'slowClientTimeout');
    if (spec === undefined) throw new Error('no slowClientTimeout');
    expect(flagOf(spec)).toBe('slow-client-timeout');
    expect(envOf(spec)).toBe('FOLLOWER_MAZE_SLOW_CLIENT_TIMEOUT');
  });

  it('takes a flag over the environment, the environment over the config file', () => {
    const files = { 'maze.json': '{"eventPort": 7000, "clientPort": 7001, "statsInterval": 5}' };
    const env = { FOLLOWER_MAZE_CLIENT_PORT: '8001', FOLLOWER_MAZE_CONFIG: 'maze.json' };
    expect(resolveServeArgs({ eventPort: '9000' }, sources(env, files))).toMatchObject({
      eventPort: 9000,
      clientPort: 8001,
      statsInterval: 5,
      config: 'maze.json',
    });
  });

  it.each([
    ['yes', true],
    ['On', true],
    ['1', true],
    ['true', true],
    [true, true],
    ['no', false],
    ['OFF', false],
    ['0', false],
    ['false', false],
  ])('reads the boolean flag value %j as %s', (text, value) => {
    expect(resolveServeArgs({ resetOnDisconnect: text }, sources()).resetOnDisconnect).toBe(value);
  });

  it('refuses an empty boolean, as flag and as variable (a flag alone is true)', () => {
    expect(refusal({ resetOnDisconnect: '' })).toMatch(
      /^--reset-on-disconnect is empty: give true/,
    );
    expect(refusal({}, { FOLLOWER_MAZE_RESET_ON_DISCONNECT: '' })).toMatch(
      /^FOLLOWER_MAZE_RESET_ON_DISCONNECT is empty: give true/,
    );
  });

  it('takes a delimiter as given, untrimmed: a space is one', () => {
    expect(resolveServeArgs({ delimiter: ';' }, sources()).delimiter).toBe(';');
    expect(resolveServeArgs({}, sources({ FOLLOWER_MAZE_DELIMITER: ' ' })).delimiter).toBe(' ');
    const config = { 'c.json': '{ "delimiter": "\\u00a7" }' };
    expect(resolveServeArgs({ config: 'c.json' }, sources({}, config)).delimiter).toBe('\xa7');
    expect(refusal({ delimiter: ' ;' })).toBe(
      '--delimiter must be one character (code below 256), none of "0123456789\\r\\nFUBPS", got " ;"',
    );
    expect(refusal({}, { FOLLOWER_MAZE_DELIMITER: '' })).toMatch(
      /^FOLLOWER_MAZE_DELIMITER is empty: give one character/,
    );
    expect(refusal({ config: 'c.json' }, {}, { 'c.json': '{ "delimiter": "0" }' })).toMatch(
      /delimiter must be one character .*, got "0"$/,
    );
    expect(refusal({}, { FOLLOWER_MAZE_DELIMITER: 'F' })).toMatch(
      /^FOLLOWER_MAZE_DELIMITER must be one character .*, got "F"$/,
    );
  });

  it('reads booleans from the environment by the same spellings', () => {
    const env = { FOLLOWER_MAZE_RESET_ON_DISCONNECT: '1' };
    expect(resolveServeArgs({}, sources(env)).resetOnDisconnect).toBe(true);
  });

  it.each([
    [{ eventPort: '-1' }, {}, '--event-port must be an integer from 0 to 65535, got "-1"'],
    [{ clientPort: 'abc' }, {}, '--client-port must be an integer from 0 to 65535, got "abc"'],
    [
      { identifyTimeout: '0' },
      {},
      '--identify-timeout must be an integer from 1 to 2147483647, got 0',
    ],
    [
      { reorderCapacity: '2.5' },
      {},
      '--reorder-capacity must be an integer from 1 to 9007199254740991, got "2.5"',
    ],
    [
      { maxFollowEdges: String(2 ** 27 + 1) },
      {},
      '--max-follow-edges must be an integer from 1 to 134217728, got 134217729',
    ],
    [
      { resetOnDisconnect: 'maybe' },
      {},
      '--reset-on-disconnect must be true or false (also yes/no, on/off, 1/0), got "maybe"',
    ],
    [
      { eventPort: '' },
      {},
      '--event-port is empty: give an integer from 0 to 65535, or leave it out for the default (9090)',
    ],
    [
      { host: ' ' },
      {},
      '--host is empty: give a non-empty string, or leave it out for the default (127.0.0.1)',
    ],
    [{ startSequence: ['1', '2'] }, {}, '--start-sequence is given more than once'],
    [
      {},
      { FOLLOWER_MAZE_EVENT_PORT: '' },
      'FOLLOWER_MAZE_EVENT_PORT is empty: give an integer from 0 to 65535, or leave it out for the default (9090)',
    ],
    [
      {},
      { FOLLOWER_MAZE_RESET_ON_DISCONNECT: 'yes please' },
      'FOLLOWER_MAZE_RESET_ON_DISCONNECT must be true or false (also yes/no, on/off, 1/0), got "yes please"',
    ],
    [
      {},
      { FOLLOWER_MAZE_FOO: '1' },
      'FOLLOWER_MAZE_FOO is set in the environment but is not a follower-maze setting: unset it or correct its name',
    ],
    [
      {},
      { FOLLOWER_MAZE_EVENT_PROT: '9000' },
      'FOLLOWER_MAZE_EVENT_PROT is set in the environment but is not a follower-maze setting (did you mean FOLLOWER_MAZE_EVENT_PORT?): unset it or correct its name',
    ],
  ])('refuses %j with environment %j', (argv, env, message) => {
    expect(refusal(argv, env)).toBe(message);
  });

  it("checks the simulator's variables too, and names them as another command's", () => {
    expect(
      resolveServeArgs({}, sources({ FOLLOWER_MAZE_TOTAL_EVENTS: '5' })).unusedSettings,
    ).toEqual(['totalEvents (simulate)']);
    expect(refusal({}, { FOLLOWER_MAZE_TOTAL_EVENTS: 'many' })).toBe(
      'FOLLOWER_MAZE_TOTAL_EVENTS must be an integer from 0 to 1000000000000000, got "many"',
    );
  });

  it('takes a variable of a name several commands share if any of them accepts its value', () => {
    // A list of client ports is the simulator's (a cluster); a server command that does not
    // take clientPort must not refuse it.
    const ports = sources({ FOLLOWER_MAZE_CLIENT_PORT: '9099,9199' });
    expect(resolveIngestArgs({}, ports).unusedSettings).toEqual(['clientPort (simulate)']);
    // A server that takes it still wants one port.
    expect(refusal({}, { FOLLOWER_MAZE_CLIENT_PORT: '9099,9199' })).toBe(
      'FOLLOWER_MAZE_CLIENT_PORT must be an integer from 0 to 65535, got "9099,9199"',
    );
    // A value no command accepts is refused by one that does not take it too.
    expect(() => resolveGatewayArgs({}, sources({ FOLLOWER_MAZE_EVENT_PORT: 'many' }))).toThrow(
      'FOLLOWER_MAZE_EVENT_PORT must be an integer from 0 to 65535, got "many"',
    );
  });

  it("ignores the test suite's own variables", () => {
    const env = { FOLLOWER_MAZE_REQUIRE_NATS: '1', FOLLOWER_MAZE_REQUIRE_TOOLS: '1' };
    expect(() => resolveServeArgs({}, sources(env))).not.toThrow();
  });

  it.each([
    ['[1, 2]', 'the config file c.json must hold a JSON object of settings'],
    ['{"eventPort": "9000"}', 'c.json: eventPort must be an integer from 0 to 65535, got "9000"'],
    [
      '{"evnetPort": 9000}',
      'c.json: "evnetPort" is not a setting (did you mean "eventPort"?); settings use the camelCase names of the flags',
    ],
    [
      '{"config": "other.json"}',
      'c.json: "config" is not a setting; settings use the camelCase names of the flags',
    ],
    [
      '{"resetOnDisconnect": "yes"}',
      'c.json: resetOnDisconnect must be true or false (also yes/no, on/off, 1/0), got "yes"',
    ],
  ])('refuses the config file %s', (text, message) => {
    expect(refusal({ config: 'c.json' }, {}, { 'c.json': text })).toBe(message);
  });

  it('says when the config file cannot be read or parsed', () => {
    expect(refusal({ config: 'missing.json' })).toMatch(
      /^cannot read the config file missing.json: ENOENT/,
    );
    expect(refusal({ config: 'bad.json' }, {}, { 'bad.json': '{eventPort: 1}' })).toMatch(
      /^cannot read the config file bad.json: /,
    );
  });
});

describe('suggestions', () => {
  it('suggests the closest name only when it is plausibly meant', () => {
    expect(closest('evnt-port', ['event-port', 'client-port'])).toBe('event-port');
    expect(closest('EVENT_PROT', ['EVENT_PORT'])).toBe('EVENT_PORT');
    expect(closest('verbose', ['event-port', 'client-port'])).toBeUndefined();
  });

  it('names unknown flags once each, with the closest known one', () => {
    expect(withSuggestions('Unknown arguments: evnt-port, evntPort')).toBe(
      'unknown option --evnt-port (did you mean --event-port?)',
    );
    expect(withSuggestions('Unknown arguments: client-prot, zzz')).toBe(
      'unknown options --client-prot (did you mean --client-port?), --zzz',
    );
    expect(withSuggestions('Not enough arguments following: event-port')).toBe(
      'Not enough arguments following: event-port',
    );
  });

  it('names the commands an option of another command belongs to', () => {
    expect(withSuggestions('Unknown arguments: event-port, eventPort', ['gateway'])).toBe(
      '--event-port is not an option of gateway (it belongs to serve, ingest, simulate)',
    );
    expect(withSuggestions('Unknown argument: total-events', ['--total-events', '5'])).toBe(
      '--total-events is not an option of serve (it belongs to simulate)',
    );
    expect(withSuggestions('Unknown argument: nats-url', ['simulate', '--nats-url', 'x'])).toBe(
      '--nats-url is not an option of simulate (it belongs to serve, ingest, gateway)',
    );
    // The original verifier's spelling of a simulate option.
    const typed = ['--eventListenerPort', '1'];
    expect(withSuggestions('Unknown argument: eventListenerPort', typed)).toBe(
      '--event-listener-port is not an option of serve (it belongs to simulate)',
    );
  });

  it('reports a stray word as an unexpected argument, not as an option', () => {
    expect(withSuggestions('Unknown argument: extra', ['serve', 'extra'])).toBe(
      'unexpected argument extra',
    );
    expect(
      withSuggestions('Unknown arguments: evnt-port, evntPort, extra', [
        'extra',
        '--evnt-port',
        '1',
      ]),
    ).toBe('unknown option --evnt-port (did you mean --event-port?); unexpected argument extra');
    // A word that is also typed as a flag is the flag.
    expect(withSuggestions('Unknown argument: extra', ['--extra', 'extra'])).toBe(
      'unknown option --extra',
    );
  });
});

describe('log formats', () => {
  it('puts a problem and its context on one line', () => {
    expect(
      formatProblem({
        code: ErrorCode.ClientSlow,
        message: 'too slow; disconnected',
        context: { connection: 'client#4', userId: 17 },
      }),
    ).toBe('problem ERR_CLIENT_SLOW [client#4 user 17]: too slow; disconnected');
    expect(formatProblem({ code: ErrorCode.StreamError, message: 'boom', context: {} })).toBe(
      'problem ERR_STREAM: boom',
    );
  });

  it('writes IPv6 hosts in brackets', () => {
    expect(formatAddress({ address: '127.0.0.1', family: 'IPv4', port: 9090 })).toBe(
      '127.0.0.1:9090',
    );
    expect(formatAddress({ address: '::1', family: 'IPv6', port: 9099 })).toBe('[::1]:9099');
  });

  it('prints every counter as key=value', () => {
    const line = formatStats(createMaze().stats());
    expect(line).toMatch(/^stats eventsReceived=0 .* nextSequence=1 .* clientsConnected=0 /);
    expect(line).toMatch(/ bytesOut=0 /);
    expect(line).toMatch(/ slowClientDisconnects=0 /);
  });
});

describe('runServe', () => {
  let blocker: Server | undefined;
  const exitCode = process.exitCode;

  afterEach(async () => {
    process.exitCode = exitCode;
    const server = blocker;
    blocker = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('prints one line and sets exit code 1 when a port is in use', async () => {
    blocker = createServer();
    const server = blocker;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const lines: string[] = [];
    const output = {
      out: (line: string) => lines.push(line),
      err: (line: string) => lines.push(line),
    };
    const result = await runServe({ ...defaults(), eventPort: 0, clientPort: port }, output);
    expect(result).toBeUndefined();
    expect(process.exitCode).toBe(1);
    expect(lines).toEqual([
      `follower-maze: cannot listen for client connections on 127.0.0.1:${port}: address already in use (EADDRINUSE)`,
    ]);
  });
});

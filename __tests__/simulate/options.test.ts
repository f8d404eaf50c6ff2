import { describe, expect, it } from '@jest/globals';
import { readGivenSettings } from '../../lib/cli/command-options.js';
import { envOf, flagOf, SIMULATE_COMMAND_OPTIONS } from '../../lib/cli/options.js';
import { ErrorCode, MazeError } from '../../lib/errors.js';
import {
  parseEventMix,
  resolveSimulateOptions,
  SIMULATE_OPTIONS,
} from '../../lib/simulate/options.js';

/** The environment variables of the original verification program. */
const ORIGINAL_VARIABLES = [
  'eventListenerPort',
  'clientListenerPort',
  'totalEvents',
  'concurrencyLevel',
  'numberOfUsers',
  'randomSeed',
  'timeout',
  'maxEventSourceBatchSize',
  'logInterval',
];

describe('the simulate command options', () => {
  it('are the simulator rows and --json, named like the server options', () => {
    expect(SIMULATE_COMMAND_OPTIONS.map((option) => option.name)).toEqual([
      ...Object.keys(SIMULATE_OPTIONS),
      'json',
    ]);
    const [host, eventPort, clientPort] = SIMULATE_COMMAND_OPTIONS;
    expect([host, eventPort, clientPort].map(flagOf)).toEqual([
      'host',
      'event-port',
      'client-port',
    ]);
    expect(envOf(eventPort)).toBe('FOLLOWER_MAZE_EVENT_PORT');
    for (const option of SIMULATE_COMMAND_OPTIONS) {
      expect(option.describe.length).toBeGreaterThan(10);
    }
  });

  it('keep exactly the original variables as aliases', () => {
    const aliases = SIMULATE_COMMAND_OPTIONS.flatMap((option) => option.aliases ?? []);
    expect(aliases).toEqual(ORIGINAL_VARIABLES);
  });
});

describe('simulate settings from the command line and the environment', () => {
  const read = (argv: Record<string, unknown>, env: Record<string, string>) =>
    readGivenSettings('simulate', argv, {
      env,
      readFile: (path) => {
        throw new Error(`no file ${path}`);
      },
    });

  it('takes a flag over FOLLOWER_MAZE_*, that over the original variable', () => {
    const env = {
      FOLLOWER_MAZE_TOTAL_EVENTS: '123',
      totalEvents: '7',
      timeout: '456',
      randomSeed: ' 9 ',
      logInterval: '',
    };
    expect(read({ totalEvents: '5' }, env)).toEqual({
      values: { totalEvents: 5, randomSeed: 9, timeout: 456 },
      labels: { totalEvents: '--total-events', randomSeed: 'randomSeed', timeout: 'timeout' },
      unusedSettings: [],
    });
    expect(read({}, env).values.totalEvents).toBe(123);
    expect(read({ eventListenerPort: '9' }, {}).labels.eventPort).toBe('--event-listener-port');
  });

  it('names a flag as the command line spelled it, though yargs sets every spelling', () => {
    // yargs gives a flag under its name and each alias, whichever was typed.
    const argv = { eventPort: 'abc', eventListenerPort: 'abc' };
    const sources = (typed: string[]) => ({
      env: {},
      readFile: (path: string): string => {
        throw new Error(`no file ${path}`);
      },
      typed,
    });
    for (const spelling of ['--eventListenerPort', '--event-listener-port', '--event-port']) {
      expect(() => readGivenSettings('simulate', argv, sources([spelling, 'abc']))).toThrow(
        `${spelling} must be an integer from 1 to 65535, got "abc"`,
      );
    }
    expect(() => readGivenSettings('simulate', argv, sources(['--eventListenerPort=abc']))).toThrow(
      '--eventListenerPort must be an integer',
    );
  });

  it('reads every option from FOLLOWER_MAZE_*, the newer ones too', () => {
    const env = {
      FOLLOWER_MAZE_LINGER: '1',
      FOLLOWER_MAZE_CLIENT_PORT: '9099,9199',
      FOLLOWER_MAZE_DELIMITER: ' ',
    };
    expect(read({}, env).values).toEqual({ linger: 1, clientPort: '9099,9199', delimiter: ' ' });
  });

  it('refuses a bad value from the environment, naming the variable', () => {
    expect(() => read({}, { maxEventSourceBatchSize: 'lots' })).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        'maxEventSourceBatchSize must be an integer from 1 to 10000, got "lots"',
      ),
    );
    expect(() => read({}, { FOLLOWER_MAZE_RATE: '' })).toThrow(
      /^FOLLOWER_MAZE_RATE is empty: give an integer from 0 to 1000000000/,
    );
  });
});

describe('resolveSimulateOptions', () => {
  it('has the original defaults', () => {
    expect(resolveSimulateOptions()).toMatchObject({
      host: '127.0.0.1',
      eventPort: 9090,
      clientPorts: [9099],
      totalEvents: 10_000_000,
      concurrencyLevel: 100,
      numberOfUsers: 1_000,
      randomSeed: 666,
      timeout: 20_000,
      maxEventSourceBatchSize: 100,
      logInterval: 1_000,
      eventTerminator: 'lf',
      idTerminator: 'lf',
      delimiter: '|',
      eventWeights: [30, 10, 5, 25, 30],
      linger: 250,
      waitForPorts: 0,
    });
  });

  it('takes any delimiter the server takes, untrimmed, a latin1 byte above 0x7F included', () => {
    expect(resolveSimulateOptions({ delimiter: ';' }).delimiter).toBe(';');
    expect(resolveSimulateOptions({ delimiter: '\xa7' }).delimiter).toBe('\xa7');
    expect(resolveSimulateOptions({ delimiter: ' ' }).delimiter).toBe(' ');
  });

  it('derives numberOfUsers from concurrencyLevel', () => {
    expect(resolveSimulateOptions({ concurrencyLevel: 7 }).numberOfUsers).toBe(70);
    expect(resolveSimulateOptions({ concurrencyLevel: '8' }).numberOfUsers).toBe(80);
  });

  it('takes the original names of the ports, but not together with the new ones', () => {
    expect(
      resolveSimulateOptions({ eventListenerPort: 7000, clientListenerPort: '7001' }),
    ).toMatchObject({ eventPort: 7000, clientPorts: [7001] });
    expect(() => resolveSimulateOptions({ eventPort: 1, eventListenerPort: 2 })).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        'eventPort and eventListenerPort are the same option: give one',
      ),
    );
  });

  it('sends as fast as possible, with no stalled client, unless told otherwise', () => {
    expect(resolveSimulateOptions({})).toMatchObject({
      rate: 0,
      latencyWarmup: 0,
      stalledClients: 0,
    });
    expect(
      resolveSimulateOptions({ rate: '5000', latencyWarmup: ' 2000 ', stalledClients: 2 }),
    ).toMatchObject({
      rate: 5_000,
      latencyWarmup: 2_000,
      stalledClients: 2,
    });
  });

  it('spreads the clients over one worker per 17,000, or as many as given', () => {
    expect(resolveSimulateOptions({})).toMatchObject({ workers: 1, sourceAddresses: [] });
    expect(resolveSimulateOptions({ concurrencyLevel: 17_000 })).toMatchObject({ workers: 1 });
    expect(resolveSimulateOptions({ concurrencyLevel: 17_000, stalledClients: 1 })).toMatchObject({
      workers: 2,
    });
    expect(resolveSimulateOptions({ concurrencyLevel: 100_000 })).toMatchObject({ workers: 6 });
    expect(
      resolveSimulateOptions({ workers: '3', sourceAddresses: ' 127.0.0.2, 127.0.0.3 ' }),
    ).toMatchObject({ workers: 3, sourceAddresses: ['127.0.0.2', '127.0.0.3'] });
    expect(() => resolveSimulateOptions({ sourceAddresses: '127.0.0.2,localhost' })).toThrow(
      'sourceAddresses must be a comma-separated list of distinct IP addresses, got "127.0.0.2,localhost"',
    );
    expect(() => resolveSimulateOptions({ sourceAddresses: '127.0.0.2,127.0.0.2' })).toThrow(
      'distinct IP addresses',
    );
    expect(() => resolveSimulateOptions({ workers: 65 })).toThrow('workers must be');
    expect(
      resolveSimulateOptions({ workers: 8, concurrencyLevel: 3, stalledClients: 2 }),
    ).toMatchObject({
      workers: 5,
    });
  });

  it('keeps every client connected unless told to reconnect', () => {
    expect(resolveSimulateOptions({})).toMatchObject({ reconnectEvery: 0, reconnectPause: 50 });
    expect(resolveSimulateOptions({ reconnectEvery: '500', reconnectPause: 0 })).toMatchObject({
      reconnectEvery: 500,
      reconnectPause: 0,
    });
  });

  it('names an option as the caller spelled it', () => {
    const labelOf = (name: string) => `--${name}!`;
    expect(() => resolveSimulateOptions({ timeout: 'soon' }, labelOf)).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        '--timeout! must be an integer from 1 to 2147483647, got "soon"',
      ),
    );
    expect(() => resolveSimulateOptions({ eventListenerPort: 0 }, labelOf)).toThrow(
      /^--eventListenerPort! must be an integer from 1 to 65535, got 0$/,
    );
  });

  it.each([
    [{ eventPort: 0 }, 'eventPort must be an integer from 1 to 65535, got 0'],
    [{ timeout: 1.5 }, 'timeout must be an integer from 1 to 2147483647, got 1.5'],
    [{ timeout: Number.NaN }, 'timeout must be an integer from 1 to 2147483647, got NaN'],
    [
      { totalEvents: '1e3' },
      'totalEvents must be an integer from 0 to 1000000000000000, got "1e3"',
    ],
    [
      { concurrencyLevel: 20, numberOfUsers: 10 },
      'numberOfUsers must be an integer from 20 to 4294967295, got 10',
    ],
    [{ rate: -1 }, 'rate must be an integer from 0 to 1000000000, got -1'],
    [{ stalledClients: 'x' }, 'stalledClients must be an integer from 0 to 100000, got "x"'],
    [{ latencyWarmup: -1 }, 'latencyWarmup must be an integer from 0 to 2147483647, got -1'],
    [{ waitForPorts: -1 }, 'waitForPorts must be an integer from 0 to 2147483647, got -1'],
    [{ reconnectEvery: 1.5 }, 'reconnectEvery must be an integer from 0 to 1000000000, got 1.5'],
    [{ reconnectPause: -1 }, 'reconnectPause must be an integer from 0 to 2147483647, got -1'],
    [{ eventTerminator: 'cr' }, 'eventTerminator must be one of lf, crlf, got "cr"'],
    ...['5', '\r', '\n', '', ';;', '\u0100', 'F', 'S'].map(
      (delimiter): [Record<string, unknown>, string] => [
        { delimiter },
        delimiter === ''
          ? 'delimiter is empty: give one character (code below 256), none of "0123456789\\r\\nFUBPS", or leave it out for the default (|)'
          : `delimiter must be one character (code below 256), none of "0123456789\\r\\nFUBPS", got ${JSON.stringify(delimiter)}`,
      ],
    ),
    [{ host: ' ' }, 'host must be a non-empty string, got " "'],
    [
      { eventMix: 'F:1,X:2' },
      'eventMix must be distinct TYPE:WEIGHT pairs, TYPE one of F U B P S, got "F:1,X:2"',
    ],
  ])('refuses %j', (given, message) => {
    expect(() => resolveSimulateOptions(given)).toThrow(
      new MazeError(ErrorCode.InvalidOption, message),
    );
  });
});

describe('resolveSimulateOptions: clientPort', () => {
  const LIST_EXPECTED = 'a port from 1 to 65535 or a comma-separated list of distinct ones';

  it.each([
    [9199, [9199]],
    ['9199', [9199]],
    ['9099,9199,9299', [9099, 9199, 9299]],
    [' 9099 , 9199 ', [9099, 9199]],
    ['1,65535', [1, 65535]],
    [
      [9299, 9099],
      [9299, 9099],
    ],
    [
      ['9099', '9199'],
      [9099, 9199],
    ],
  ])('reads %j as the ports %j, in the order given', (clientPort, ports) => {
    expect(resolveSimulateOptions({ clientPort }).clientPorts).toEqual(ports);
    expect(resolveSimulateOptions({ clientListenerPort: clientPort }).clientPorts).toEqual(ports);
  });

  it.each([
    [0, '0'],
    [70_000, '70000'],
    ['0', '"0"'],
    ['70000', '"70000"'],
    ['9099,,9100', '"9099,,9100"'],
    ['9099,', '"9099,"'],
    [',9099', '",9099"'],
    ['', '""'],
    ['9099,9099', '"9099,9099"'],
    ['9099, 9100,9099', '"9099, 9100,9099"'],
    [[9099, 9099], '"9099,9099"'],
    [[], '""'],
    ['abc', '"abc"'],
    ['9099;9100', '"9099;9100"'],
    ['9099,abc', '"9099,abc"'],
    [9099.5, '9099.5'],
    ['-9099', '"-9099"'],
  ])('refuses %j', (clientPort, got) => {
    expect(() => resolveSimulateOptions({ clientPort })).toThrow(
      new MazeError(ErrorCode.InvalidOption, `clientPort must be ${LIST_EXPECTED}, got ${got}`),
    );
    expect(() => resolveSimulateOptions({ clientListenerPort: clientPort })).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        `clientListenerPort must be ${LIST_EXPECTED}, got ${got}`,
      ),
    );
  });

  it('refuses more ports than clients: a port without a client would go unverified', () => {
    expect(
      resolveSimulateOptions({ clientPort: '1,2,3', concurrencyLevel: 3 }).clientPorts,
    ).toEqual([1, 2, 3]);
    expect(() => resolveSimulateOptions({ clientPort: '1,2,3', concurrencyLevel: 2 })).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        'clientPort must be at most as many ports as' +
          ' concurrencyLevel (2), so that every port gets a client, got "1,2,3"',
      ),
    );
  });
});

describe('parseEventMix', () => {
  it('reads the default', () => {
    expect(parseEventMix(SIMULATE_OPTIONS.eventMix.default)).toEqual([30, 10, 5, 25, 30]);
  });

  it('gives a missing type no weight, in any order and with spaces', () => {
    expect(parseEventMix(' S : 2 , B:1')).toEqual([0, 0, 1, 0, 2]);
  });

  it.each(['', 'F', 'F:', 'F:1,F:2', 'F:0,U:0', 'f:1', 'F:-1'])('refuses %j', (mix) => {
    expect(() => parseEventMix(mix)).toThrow(MazeError);
  });
});

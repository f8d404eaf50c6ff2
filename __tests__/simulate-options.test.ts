import { describe, expect, it } from '@jest/globals';
import { ErrorCode, MazeError } from '../lib/core/errors.js';
import { DEFAULT_EVENT_MIX } from '../lib/simulate/constants.js';
import {
  parseEventMix,
  resolveSimulateOptions,
  SIMULATE_OPTIONS,
} from '../lib/simulate/options.js';

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

describe('SIMULATE_OPTIONS', () => {
  it('reads exactly the original variables from the environment, by their own names', () => {
    const withEnv = Object.entries(SIMULATE_OPTIONS)
      .filter(([, definition]) => 'env' in definition)
      .map(([name, definition]) => [name, 'env' in definition ? definition.env : undefined]);
    expect(withEnv).toEqual(ORIGINAL_VARIABLES.map((name) => [name, name]));
  });

  it('names each flag after its option', () => {
    for (const [name, definition] of Object.entries(SIMULATE_OPTIONS)) {
      expect(definition.flag).toBe(`--${name}`);
      expect(definition.description.length).toBeGreaterThan(10);
    }
  });
});

describe('resolveSimulateOptions', () => {
  it('has the original defaults', () => {
    expect(resolveSimulateOptions()).toMatchObject({
      host: '127.0.0.1',
      eventListenerPort: 9090,
      clientListenerPorts: [9099],
      totalEvents: 10_000_000,
      concurrencyLevel: 100,
      numberOfUsers: 1_000,
      randomSeed: 666,
      timeout: 20_000,
      maxEventSourceBatchSize: 100,
      logInterval: 1_000,
      eventTerminator: 'lf',
      idTerminator: 'lf',
      eventWeights: [30, 10, 5, 25, 30],
      linger: 250,
      waitForPorts: 0,
    });
  });

  it('derives numberOfUsers from concurrencyLevel', () => {
    expect(resolveSimulateOptions({ concurrencyLevel: 7 }).numberOfUsers).toBe(70);
    expect(resolveSimulateOptions({}, { concurrencyLevel: '8' }).numberOfUsers).toBe(80);
  });

  it('takes a flag over the environment, and the environment over the default', () => {
    const env = { totalEvents: '123', timeout: '456', randomSeed: ' 9 ', logInterval: '' };
    expect(resolveSimulateOptions({ totalEvents: 5 }, env)).toMatchObject({
      totalEvents: 5,
      timeout: 456,
      randomSeed: 9,
      logInterval: 1_000,
    });
  });

  it('sends as fast as possible, with no stalled client, unless told otherwise', () => {
    expect(resolveSimulateOptions({})).toMatchObject({
      rate: 0,
      latencyWarmup: 0,
      stalledClients: 0,
    });
    expect(
      resolveSimulateOptions({ rate: '5000', latencyWarmup: '2000', stalledClients: 2 }),
    ).toMatchObject({
      rate: 5_000,
      latencyWarmup: 2_000,
      stalledClients: 2,
    });
  });

  it('reads no environment variable for the newer options', () => {
    expect(resolveSimulateOptions({}, { host: 'example.org', linger: '1' })).toMatchObject({
      host: '127.0.0.1',
      linger: 250,
    });
  });

  it.each([
    [
      { eventListenerPort: 0 },
      '--eventListenerPort (or $eventListenerPort) must be an integer from 1 to 65535, got 0',
    ],
    [{ timeout: 1.5 }, '--timeout (or $timeout) must be an integer from 1 to 2147483647, got 1.5'],
    [
      { timeout: Number.NaN },
      '--timeout (or $timeout) must be an integer from 1 to 2147483647, got NaN',
    ],
    [
      { totalEvents: '1e3' },
      '--totalEvents (or $totalEvents) must be an integer from 0 to 1000000000000000, got "1e3"',
    ],
    [
      { concurrencyLevel: 20, numberOfUsers: 10 },
      '--numberOfUsers (or $numberOfUsers) must be an integer from 20 to 4294967295, got 10',
    ],
    [{ rate: -1 }, '--rate must be an integer from 0 to 1000000000, got -1'],
    [{ stalledClients: 'x' }, '--stalledClients must be an integer from 0 to 100000, got "x"'],
    [{ latencyWarmup: -1 }, '--latencyWarmup must be an integer from 0 to 2147483647, got -1'],
    [{ waitForPorts: -1 }, '--waitForPorts must be an integer from 0 to 2147483647, got -1'],
    [{ eventTerminator: 'cr' }, '--eventTerminator must be "lf" or "crlf", got "cr"'],
    [{ host: ' ' }, '--host must be a host name or address, got " "'],
    [
      { eventMix: 'F:1,X:2' },
      '--eventMix must be distinct TYPE:WEIGHT pairs, TYPE one of F U B P S, got "F:1,X:2"',
    ],
  ])('refuses %j', (given, message) => {
    expect(() => resolveSimulateOptions(given)).toThrow(
      new MazeError(ErrorCode.InvalidOption, message),
    );
  });

  it('refuses a bad value from the environment, naming the variable', () => {
    expect(() => resolveSimulateOptions({}, { maxEventSourceBatchSize: 'lots' })).toThrow(
      /\(or \$maxEventSourceBatchSize\) must be an integer/,
    );
  });
});

describe('resolveSimulateOptions: clientListenerPort', () => {
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
  ])('reads %j as the ports %j, in the order given', (clientListenerPort, ports) => {
    expect(resolveSimulateOptions({ clientListenerPort }).clientListenerPorts).toEqual(ports);
  });

  it('reads the list from the environment variable too, a flag winning', () => {
    const env = { clientListenerPort: '9099,9199,9299' };
    expect(resolveSimulateOptions({}, env).clientListenerPorts).toEqual([9099, 9199, 9299]);
    expect(resolveSimulateOptions({ clientListenerPort: '9399' }, env).clientListenerPorts).toEqual(
      [9399],
    );
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
  ])('refuses %j', (clientListenerPort, got) => {
    expect(() => resolveSimulateOptions({ clientListenerPort })).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        `--clientListenerPort (or $clientListenerPort) must be ${LIST_EXPECTED}, got ${got}`,
      ),
    );
  });

  it('refuses a bad list from the environment, naming the variable', () => {
    expect(() => resolveSimulateOptions({}, { clientListenerPort: '9099,,9100' })).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        `--clientListenerPort (or $clientListenerPort) must be ${LIST_EXPECTED}, got "9099,,9100"`,
      ),
    );
  });

  it('refuses more ports than clients: a port without a client would go unverified', () => {
    expect(
      resolveSimulateOptions({ clientListenerPort: '1,2,3', concurrencyLevel: 3 })
        .clientListenerPorts,
    ).toEqual([1, 2, 3]);
    expect(() =>
      resolveSimulateOptions({ clientListenerPort: '1,2,3', concurrencyLevel: 2 }),
    ).toThrow(
      new MazeError(
        ErrorCode.InvalidOption,
        '--clientListenerPort (or $clientListenerPort) must be at most as many ports as' +
          ' --concurrencyLevel (2), so that every port gets a client, got "1,2,3"',
      ),
    );
  });
});

describe('parseEventMix', () => {
  it('reads the default', () => {
    expect(parseEventMix(DEFAULT_EVENT_MIX)).toEqual([30, 10, 5, 25, 30]);
  });

  it('gives a missing type no weight, in any order and with spaces', () => {
    expect(parseEventMix(' S : 2 , B:1')).toEqual([0, 0, 1, 0, 2]);
  });

  it.each(['', 'F', 'F:', 'F:1,F:2', 'F:0,U:0', 'f:1', 'F:-1'])('refuses %j', (mix) => {
    expect(() => parseEventMix(mix)).toThrow(MazeError);
  });
});

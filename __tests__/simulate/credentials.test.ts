/** The simulator's id fields: plain ids, or tokens signed with a key file named by its flag. */

import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '../../lib/errors.js';
import { idFieldsOf } from '../../lib/simulate/credentials.js';
import type { ResolvedSimulateOptions } from '../../lib/simulate/options.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url);
const fixture = (name: string): string => new URL(name, FIXTURES).pathname;

function optionsWith(keys: {
  jwtSecretFile?: string;
  jwtPrivateKey?: string;
}): ResolvedSimulateOptions {
  return {
    jwtSecretFile: keys.jwtSecretFile,
    jwtPrivateKey: keys.jwtPrivateKey,
    jwtAudience: undefined,
    jwtIssuer: undefined,
  } as ResolvedSimulateOptions;
}

describe('idFieldsOf', () => {
  it('gives the user id without a key, and a token with one', async () => {
    expect(await (await idFieldsOf(optionsWith({})))(42)).toBe('42');
    const token = await (
      await idFieldsOf(optionsWith({ jwtSecretFile: fixture('jwt-hs256.secret') }))
    )(42);
    expect(token.split('.')).toHaveLength(3);
  });

  it.each([
    [{ jwtSecretFile: fixture('missing.secret') }, 'cannot read the --jwt-secret-file '],
    [{ jwtPrivateKey: fixture('missing.pem') }, 'cannot read the --jwt-private-key '],
    [{ jwtPrivateKey: fixture('ca.pem') }, '--jwt-private-key'],
  ])('names the flag of a key file it cannot use (%j)', async (keys, message) => {
    await expect(idFieldsOf(optionsWith(keys))).rejects.toMatchObject({
      code: ErrorCode.InvalidOption,
      message: expect.stringContaining(message),
    });
  });
});

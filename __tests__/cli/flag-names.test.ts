/** The CLI's rewriting of library option names into its flags and variables. */
import { describe, expect, it } from '@jest/globals';
import { withFlagNames } from '../../lib/cli/flag-names.js';

describe('withFlagNames', () => {
  it('follows each option name with its flag and environment variable', () => {
    expect(withFlagNames('natsUrl is required: nats://host:4222')).toBe(
      'natsUrl (--nats-url, FOLLOWER_MAZE_NATS_URL) is required: nats://host:4222',
    );
    expect(withFlagNames('not natsUser/natsPasswordFile and natsTokenFile')).toBe(
      'not natsUser (--nats-user, FOLLOWER_MAZE_NATS_USER)/natsPasswordFile (--nats-password-file, FOLLOWER_MAZE_NATS_PASSWORD_FILE) and natsTokenFile (--nats-token-file, FOLLOWER_MAZE_NATS_TOKEN_FILE)',
    );
  });

  it('leaves plain words, parts of words and messages without option names alone', () => {
    for (const message of [
      'cannot connect to NATS at nats://host:4222: ECONNREFUSED',
      'the config is wrong',
      'natsUrls and xnatsUrl are not options',
    ]) {
      expect(withFlagNames(message)).toBe(message);
    }
  });
});

/**
 * The simulator's TLS options (lib/simulate/tls.ts): off without `tlsCa`, the files read
 * when the options are resolved, every incomplete or unreadable setting refused before
 * anything connects.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, MazeError } from '../../lib/errors.js';
import { resolveSimulateOptions } from '../../lib/simulate/options.js';

const FIXTURES = new URL('../fixtures/tls/', import.meta.url).pathname;
const fixture = (name: string): string => `${FIXTURES}${name}`;

function refusal(given: Record<string, unknown>): string {
  try {
    resolveSimulateOptions(given);
  } catch (error) {
    if (error instanceof MazeError && error.code === ErrorCode.InvalidOption) return error.message;
    throw error;
  }
  return 'accepted';
}

describe('the simulator over TLS', () => {
  it('is off without tlsCa', () => {
    expect(resolveSimulateOptions({}).tls).toBeUndefined();
  });

  it('trusts the CA on every connection, and gives the source its certificate', () => {
    const tls = resolveSimulateOptions({
      tlsCa: fixture('ca.pem'),
      eventTlsCert: fixture('source.pem'),
      eventTlsKey: fixture('source-key.pem'),
    }).tls;
    const ca = readFileSync(fixture('ca.pem'), 'utf8');
    expect(tls?.client).toEqual({ ca });
    expect(tls?.eventSource).toEqual({
      ca,
      cert: readFileSync(fixture('source.pem'), 'utf8'),
      key: readFileSync(fixture('source-key.pem'), 'utf8'),
    });
  });

  it.each([
    [
      'a certificate without its key',
      { tlsCa: fixture('ca.pem'), eventTlsCert: fixture('source.pem') },
      /eventTlsCert needs eventTlsKey/,
    ],
    [
      'a key without its certificate',
      { tlsCa: fixture('ca.pem'), eventTlsKey: fixture('source-key.pem') },
      /eventTlsKey needs eventTlsCert/,
    ],
    [
      'a certificate without tlsCa',
      { eventTlsCert: fixture('source.pem'), eventTlsKey: fixture('source-key.pem') },
      /eventTlsCert needs tlsCa/,
    ],
    ['an unreadable CA', { tlsCa: fixture('missing.pem') }, /tlsCa .*missing\.pem cannot be read/],
    [
      'a CA file without a certificate',
      { tlsCa: fixture('source-key.pem') },
      /holds no PEM certificate/,
    ],
    [
      'a key of another certificate',
      {
        tlsCa: fixture('ca.pem'),
        eventTlsCert: fixture('source.pem'),
        eventTlsKey: fixture('server-key.pem'),
      },
      /not valid PEM/,
    ],
  ])('refuses %s', (_what, given, message) => {
    expect(refusal(given)).toMatch(message);
  });
});

import { describe, expect, it } from '@jest/globals';
import { ClientsByUser } from '../../lib/adapter/clients-by-user.js';
import { MAX_ID } from '../../lib/core/constants.js';

describe('ClientsByUser', () => {
  it('keeps small and large ids apart and alike', () => {
    const byUser = new ClientsByUser<string>();
    for (const user of [0, 7, 65_535, 65_536, MAX_ID]) byUser.set(user, [`client of ${user}`]);
    for (const user of [0, 7, 65_535, 65_536, MAX_ID]) {
      expect(byUser.get(user)).toEqual([`client of ${user}`]);
    }
    expect(byUser.get(8)).toBeUndefined();
    expect(byUser.get(100_000)).toBeUndefined();
    byUser.delete(7);
    byUser.delete(MAX_ID);
    expect(byUser.get(7)).toBeUndefined();
    expect(byUser.get(MAX_ID)).toBeUndefined();
    expect(byUser.get(0)).toEqual(['client of 0']);
  });
});

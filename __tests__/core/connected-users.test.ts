import { describe, expect, it } from '@jest/globals';
import { ConnectedUsers } from '../../lib/core/connected-users.js';
import { ErrorCode } from '../../lib/errors.js';

describe('ConnectedUsers', () => {
  it('counts several connections per user and lists each user once', () => {
    const connected = ConnectedUsers.of([5, 5, 9]);
    expect(connected.size).toBe(2);
    expect(connected.connectionsOf(5)).toBe(2);
    expect([...connected.list()].sort()).toEqual([5, 9]);
    connected.disconnect(5);
    expect(connected.has(5)).toBe(true);
    connected.disconnect(5);
    expect(connected.has(5)).toBe(false);
    expect(connected.list()).toEqual([9]);
  });

  it('replaces its list snapshot on a change instead of changing it', () => {
    const connected = ConnectedUsers.of([1, 2]);
    const before = connected.list();
    expect(connected.list()).toBe(before);
    connected.connect(3);
    expect([...before].sort()).toEqual([1, 2]);
    expect([...connected.list()].sort()).toEqual([1, 2, 3]);
    expect(Object.isFrozen(connected.list())).toBe(true);
  });

  it('knows users at both ends of the id range, before and after they leave', () => {
    const big = Number.MAX_SAFE_INTEGER;
    const users = [0, 1, 2 ** 24 - 1, 2 ** 24, 2 ** 32 + 1, 2 * 2 ** 32 + 1, big];
    const connected = ConnectedUsers.of(users);
    for (const user of users) expect(connected.has(user)).toBe(true);
    expect(connected.has(2)).toBe(false);
    expect(connected.has(3 * 2 ** 32 + 1)).toBe(false);
    expect([...connected.list()].sort((a, b) => a - b)).toEqual(users);
    for (const user of users) connected.disconnect(user);
    for (const user of users) expect(connected.has(user)).toBe(false);
    expect(connected.size).toBe(0);
    expect(connected.bitset().every((word) => word === 0)).toBe(true);
  });

  it('refuses to remove a connection that does not exist', () => {
    expect(() => new ConnectedUsers().disconnect(4)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidState }),
    );
  });
});

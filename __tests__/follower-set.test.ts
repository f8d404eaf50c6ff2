import { describe, expect, it } from '@jest/globals';
import { ConnectedUsers, FollowerSet } from '../lib/core/index.js';
import { mulberry32, randomInt } from './helpers/streams.js';

const sorted = (users: Iterable<number>) => [...users].sort((a, b) => a - b);

describe('FollowerSet', () => {
  it('behaves as a set of ids through every change of form', () => {
    const rng = mulberry32(11);
    for (const largestId of [40, 1_000, 100_000, 2 ** 24 + 5, Number.MAX_SAFE_INTEGER]) {
      const followers = new FollowerSet();
      const model = new Set<number>();
      for (let step = 0; step < 5_000; step++) {
        // Mostly small ids, sometimes one at the far end, so both forms and switches occur.
        const user = rng() < 0.05 ? largestId - randomInt(rng, 0, 3) : randomInt(rng, 1, 300);
        const adding = rng() < (step < 2_500 ? 0.8 : 0.3);
        const changed = adding ? followers.add(user) : followers.delete(user);
        expect(changed).toBe(adding ? !model.has(user) : model.has(user));
        if (adding) model.add(user);
        else model.delete(user);
        expect(followers.size).toBe(model.size);
      }
      expect(sorted(followers)).toEqual(sorted(model));
      for (let user = 1; user <= 400; user++) expect(followers.has(user)).toBe(model.has(user));
      const connected = ConnectedUsers.of([1, 2, 3, 150, 299, largestId, largestId - 1]);
      expect(sorted(followers.among(connected))).toEqual(
        sorted(connected.list().filter((user) => model.has(user))),
      );
    }
  });

  it('finds nobody among no users and in an empty set', () => {
    const followers = new FollowerSet();
    expect(followers.among(ConnectedUsers.of([1]))).toEqual([]);
    followers.add(1);
    expect(followers.among(new ConnectedUsers())).toEqual([]);
  });
});

/**
 * `RequestPacer`: a burst runs at once, the rest waits for the rate, connections take turns,
 * urgent turns go before ordinary ones (a costly turn that waits too), unwanted turns are dropped for free, and
 * `close()` drops what waits.
 */
import { describe, expect, it } from '@jest/globals';
import { RequestPacer, type Turn } from '../../lib/monitor/request-pacer.js';
import { waitUntil } from '../helpers/sockets.js';

/** A clock that stands still until `start()`, then runs: what happens at once is checked first. */
function heldClock(): { now: () => number; start: () => void } {
  let startedAt: number | undefined;
  return {
    now: () => (startedAt === undefined ? 0 : performance.now() - startedAt),
    start: () => {
      startedAt = performance.now();
    },
  };
}

function turn(ran: string[], name: string, options: Partial<Turn> = {}): Turn {
  return {
    cost: 1,
    urgent: false,
    from: name,
    wanted: () => true,
    run: () => ran.push(name),
    ...options,
  };
}

describe('RequestPacer', () => {
  it('runs a burst at once and the rest in order at the rate, urgent turns first', async () => {
    const clock = heldClock();
    const pacer = new RequestPacer(200, 2, clock.now);
    const ran: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) pacer.schedule(turn(ran, name));
    pacer.schedule(turn(ran, 'probe', { urgent: true }));
    expect(ran).toEqual(['a', 'b']);
    expect(pacer.waiting).toBe(3);
    clock.start();
    await waitUntil(() => ran.length === 5, 'every turn');
    expect(ran).toEqual(['a', 'b', 'probe', 'c', 'd']);
    pacer.close();
  });

  it('makes a costly turn wait for its share, passed by urgent turns; unwanted ones are free', async () => {
    const clock = heldClock();
    const pacer = new RequestPacer(1_000, 10, clock.now);
    const ran: string[] = [];
    pacer.schedule(turn(ran, 'first'));
    pacer.schedule(turn(ran, 'page', { cost: 10 }));
    pacer.schedule(turn(ran, 'next'));
    pacer.schedule(turn(ran, 'gone', { urgent: true, wanted: () => false }));
    pacer.schedule(turn(ran, 'probe', { urgent: true }));
    // Nine left: not enough for the page, which 'next' waits behind; the probe goes by.
    expect(ran).toEqual(['first', 'probe']);
    expect(pacer.waiting).toBe(2);
    clock.start();
    await waitUntil(() => ran.length === 4, 'the page and the turn after it');
    expect(ran).toEqual(['first', 'probe', 'page', 'next']);
    pacer.close();
  });

  it('lets connections take turns: one with many waiting delays another by one turn', async () => {
    const clock = heldClock();
    const pacer = new RequestPacer(200, 1, clock.now);
    const ran: string[] = [];
    for (const name of ['a1', 'a2', 'a3', 'a4']) pacer.schedule(turn(ran, name, { from: 'a' }));
    pacer.schedule(turn(ran, 'b1', { from: 'b' }));
    pacer.schedule(turn(ran, 'b2', { from: 'b' }));
    expect(ran).toEqual(['a1']);
    expect(pacer.waiting).toBe(5);
    clock.start();
    await waitUntil(() => ran.length === 6, 'every turn');
    expect(ran).toEqual(['a1', 'a2', 'b1', 'a3', 'b2', 'a4']);
    pacer.close();
  });

  it('drops every waiting turn on close()', async () => {
    const pacer = new RequestPacer(1, 1, () => performance.now());
    const ran: string[] = [];
    pacer.schedule(turn(ran, 'a'));
    pacer.schedule(turn(ran, 'b'));
    pacer.close();
    pacer.schedule(turn(ran, 'c'));
    expect(ran).toEqual(['a']);
    expect(pacer.waiting).toBe(0);
  });
});

/**
 * `RequestPacer`: a burst runs at once, the rest waits for the rate, urgent turns go before
 * ordinary ones, a costly turn delays the next, unwanted turns are dropped for free, and
 * `close()` drops what waits.
 */
import { describe, expect, it } from '@jest/globals';
import { RequestPacer, type Turn } from '../../lib/monitor/request-pacer.js';
import { waitUntil } from '../helpers/sockets.js';

function turn(ran: string[], name: string, options: Partial<Turn> = {}): Turn {
  return { cost: 1, urgent: false, wanted: () => true, run: () => ran.push(name), ...options };
}

describe('RequestPacer', () => {
  it('runs a burst at once and the rest in order at the rate, urgent turns first', async () => {
    const pacer = new RequestPacer(200, 2, () => performance.now());
    const ran: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) pacer.schedule(turn(ran, name));
    pacer.schedule(turn(ran, 'probe', { urgent: true }));
    expect(ran).toEqual(['a', 'b']);
    expect(pacer.waiting).toBe(3);
    await waitUntil(() => ran.length === 5, 'every turn');
    expect(ran).toEqual(['a', 'b', 'probe', 'c', 'd']);
    pacer.close();
  });

  it('lets a costly turn delay the next, and drops unwanted turns without cost', async () => {
    const pacer = new RequestPacer(1_000, 1, () => performance.now());
    const ran: string[] = [];
    pacer.schedule(turn(ran, 'page', { cost: 10 }));
    pacer.schedule(turn(ran, 'gone', { wanted: () => false }));
    pacer.schedule(turn(ran, 'next'));
    // The page took ten turns of the budget: 'next' waits for them to be paid back.
    expect(ran).toEqual(['page']);
    expect(pacer.waiting).toBe(1);
    await waitUntil(() => ran.length === 2, 'the turn after the costly one');
    expect(ran).toEqual(['page', 'next']);
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

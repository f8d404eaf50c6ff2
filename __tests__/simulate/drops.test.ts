import { describe, expect, it } from '@jest/globals';
import { DropSchedule, NO_DROP } from '../../lib/simulate/drops.js';
import { mulberry32, randomEventLine } from '../helpers/streams.js';

/** `count` event lines numbered 1..count, LF or CRLF. */
function streamOf(seed: number, count: number): string {
  const rng = mulberry32(seed);
  let text = '';
  for (let sequence = 1; sequence <= count; sequence++) {
    text += randomEventLine(rng, sequence, 1e6, rng() < 0.5 ? '\n' : '\r\n');
  }
  return text;
}

/**
 * Plays `text` to a client that drops by `schedule`, read in chunks of `chunkSize` bytes;
 * after each drop the stream goes on after the last whole line received, as an exact resume
 * would. Returns where each drop fell: the offset in `text` of the first byte lost.
 */
function dropPoints(schedule: DropSchedule, text: string, chunkSize: number): number[] {
  const bytes = Buffer.from(text, 'latin1');
  const points: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    const chunk = bytes.subarray(at, at + chunkSize);
    // A reused read buffer: bytes past `end` are stale and must not count.
    const buffer = Buffer.alloc(chunk.length + 8, 0x0a);
    chunk.copy(buffer);
    const cut = schedule.cut(buffer, chunk.length);
    if (cut === NO_DROP) {
      at += chunk.length;
      continue;
    }
    points.push(at + cut);
    at = bytes.lastIndexOf(0x0a, at + cut - 1) + 1;
  }
  return points;
}

describe('DropSchedule', () => {
  const text = streamOf(1, 2_000);

  it('drops at the same points however the stream is chunked', () => {
    const points = dropPoints(new DropSchedule(666, 3, 40), text, 1);
    expect(points.length).toBeGreaterThan(20);
    for (const size of [2, 7, 64, 4096, text.length]) {
      expect(dropPoints(new DropSchedule(666, 3, 40), text, size)).toEqual(points);
    }
  });

  it('drops after a whole line at least once resumed, never taking an LF of a line it cuts', () => {
    const bytes = Buffer.from(text, 'latin1');
    const points = dropPoints(new DropSchedule(7, 0, 3), text, 4096);
    let resumedAt = 0;
    let midLine = 0;
    for (const [index, point] of points.entries()) {
      const lastLf = bytes.lastIndexOf(0x0a, point - 1);
      // A whole line of this connection was received before the drop (the first connection
      // may drop before its first line).
      if (index > 0) expect(lastLf).toBeGreaterThanOrEqual(resumedAt);
      if (point !== lastLf + 1) midLine++;
      resumedAt = lastLf + 1;
    }
    expect(midLine).toBeGreaterThan(points.length / 2);
    expect(midLine).toBeLessThan(points.length);
  });

  it('does not count the lines each connection opens with', () => {
    const every = 3;
    const plain = dropPoints(new DropSchedule(5, 2, every), text, 4096);
    // Each connection opens with one more line (an epoch line): the drops move one line on.
    const bytes = Buffer.from(text, 'latin1');
    const opened = dropPoints(new DropSchedule(5, 2, every, 1), text, 4096);
    const lineIndexOf = (point: number) =>
      bytes.subarray(0, point).filter((b) => b === 0x0a).length;
    let resumedAt = 0;
    let drops = 0;
    for (const point of opened) {
      // The opening line, then (after the first connection) a whole line more, was received
      // before each drop.
      const lastLf = bytes.lastIndexOf(0x0a, point - 1);
      const secondLast = bytes.lastIndexOf(0x0a, lastLf - 1);
      expect(drops === 0 ? lastLf : secondLast).toBeGreaterThanOrEqual(resumedAt);
      resumedAt = lastLf + 1;
      drops++;
    }
    expect(drops).toBeGreaterThan(20);
    expect(lineIndexOf(opened[0] as number)).toBe(lineIndexOf(plain[0] as number) + 1);
  });

  it('drops every reconnectEvery lines on average', () => {
    const every = 25;
    const points = dropPoints(new DropSchedule(666, 0, every), text, 4096);
    // Each connection receives its drawn number of whole lines: 1..2 x every - 1.
    const lines = text.split('\n').length - 1;
    const perDrop = lines / points.length;
    expect(perDrop).toBeGreaterThan(every * 0.8);
    expect(perDrop).toBeLessThan(every * 1.2);
  });

  it('lets the first connection drop after its opening lines alone, at 1 in 2 x reconnectEvery + 1', () => {
    const short = streamOf(2, 20);
    const bytes = Buffer.from(short, 'latin1');
    let early = 0;
    for (let client = 0; client < 700; client++) {
      const first = dropPoints(new DropSchedule(666, client, 3, 1), short, 4096)[0] as number;
      const openingLf = bytes.indexOf(0x0a);
      expect(first).toBeGreaterThan(openingLf);
      if (first <= bytes.indexOf(0x0a, openingLf + 1)) early++;
    }
    // 100 expected.
    expect(early).toBeGreaterThan(60);
    expect(early).toBeLessThan(140);
  });

  it('with reconnectEvery 1, drops within the line after each first one once resumed', () => {
    const bytes = Buffer.from(text, 'latin1');
    const points = dropPoints(new DropSchedule(666, 0, 1), text, 4096);
    let resumedAt = bytes.lastIndexOf(0x0a, (points[0] as number) - 1) + 1;
    for (const point of points.slice(1, 50)) {
      const firstLf = bytes.indexOf(0x0a, resumedAt);
      expect(point).toBeGreaterThan(firstLf);
      expect(point).toBeLessThanOrEqual(bytes.indexOf(0x0a, firstLf + 1));
      resumedAt = firstLf + 1;
    }
  });

  it('draws from the seed and the client: another of either drops elsewhere', () => {
    const points = dropPoints(new DropSchedule(666, 3, 40), text, 4096);
    expect(dropPoints(new DropSchedule(666, 4, 40), text, 4096)).not.toEqual(points);
    expect(dropPoints(new DropSchedule(667, 3, 40), text, 4096)).not.toEqual(points);
    expect(dropPoints(new DropSchedule(666, 3, 40), text, 4096)).toEqual(points);
  });

  it('pauses 0..max ms, by the seed', () => {
    const pauses = (schedule: DropSchedule): number[] =>
      Array.from({ length: 200 }, () => schedule.pauseMs(50));
    const drawn = pauses(new DropSchedule(666, 3, 40));
    expect(Math.min(...drawn)).toBe(0);
    expect(Math.max(...drawn)).toBe(50);
    expect(pauses(new DropSchedule(666, 3, 40))).toEqual(drawn);
    expect(new DropSchedule(666, 3, 40).pauseMs(0)).toBe(0);
  });
});

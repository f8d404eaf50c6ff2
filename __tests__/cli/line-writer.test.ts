/**
 * LineWriter on in-memory streams: a stream error stops the writing without throwing, a
 * stalled stream holds at most the bound and the drop count is said once it drains.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { LineWriter, MAX_BUFFERED_OUTPUT_BYTES } from '../../lib/cli/line-writer.js';

/** A stream that holds every write until `release()`, then takes the rest at once. */
function stalledStream(highWaterMark = 16): {
  stream: Writable;
  written: string[];
  release(): void;
} {
  const written: string[] = [];
  const held: (() => void)[] = [];
  let stalled = true;
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString());
      if (stalled) held.push(callback);
      else callback();
    },
  });
  return {
    stream,
    written,
    release() {
      stalled = false;
      for (const callback of held.splice(0)) callback();
    },
  };
}

describe('LineWriter', () => {
  it('writes lines with a newline', () => {
    const { stream, written, release } = stalledStream();
    release();
    const writer = new LineWriter(stream, 'stdout');
    expect(writer.write('hello')).toBe(true);
    expect(written).toEqual(['hello\n']);
  });

  it('drops lines past the bound, and says how many once the stream drains', async () => {
    const { stream, written, release } = stalledStream();
    const writer = new LineWriter(stream, 'stderr', 100);
    let accepted = 0;
    for (let i = 0; i < 1_000; i++)
      if (writer.write(`line ${String(i).padStart(4, '0')}`)) accepted++;
    // Lines of 10 bytes: writing stops once more than 100 bytes wait.
    expect(accepted).toBe(11);
    expect(stream.writableLength).toBeLessThanOrEqual(110);
    expect(writer.dropped).toBe(989);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(written.at(-1)).toBe(
      'follower-maze: 989 log lines dropped (stderr was not keeping up)\n',
    );
    expect(writer.write('after')).toBe(true);
    expect(written.at(-1)).toBe('after\n');
  });

  it('stops writing, silently, once the stream failed', async () => {
    const written: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString());
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const writer = new LineWriter(stream, 'stdout');
    expect(writer.write('one')).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.failed).toBe(true);
    expect(writer.write('two')).toBe(false);
    expect(written).toEqual(['one\n']);
    expect(writer.dropped).toBe(1);
  });

  it('bounds by a mebibyte by default', () => {
    expect(MAX_BUFFERED_OUTPUT_BYTES).toBe(1024 * 1024);
  });
});

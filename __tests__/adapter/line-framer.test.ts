import { describe, expect, it } from '@jest/globals';
import { LineFramer, type LineSink } from '../../lib/adapter/line-framer.js';
import { MAX_QUOTED_LINE_LENGTH } from '../../lib/core/constants.js';

interface Framed {
  lines: Array<[string, number]>;
  tooLong: Array<[number, string]>;
  framer: LineFramer;
}

function framerOf(maxLineLength: number): Framed {
  const lines: Array<[string, number]> = [];
  const tooLong: Array<[number, string]> = [];
  const sink: LineSink = {
    onLine: (bytes, start, end, lineNumber) =>
      lines.push([Buffer.from(bytes.subarray(start, end)).toString('latin1'), lineNumber]),
    onLineTooLong: (lineNumber, head) => tooLong.push([lineNumber, head]),
  };
  return { lines, tooLong, framer: new LineFramer(maxLineLength, sink) };
}

function frame(chunks: readonly string[], maxLineLength = 4096): Framed {
  const framed = framerOf(maxLineLength);
  for (const chunk of chunks) framed.framer.push(Buffer.from(chunk, 'latin1'));
  return framed;
}

const STREAM = '1|F|60|50\n\n2|B\r\n\r\n3|P|32|56\n4|S|32\r\n';
const EXPECTED: Array<[string, number]> = [
  ['1|F|60|50\n', 1],
  ['2|B\r\n', 3],
  ['3|P|32|56\n', 5],
  ['4|S|32\r\n', 6],
];

describe('LineFramer', () => {
  it('hands on each line with its terminator and skips empty lines', () => {
    const { lines, tooLong } = frame([STREAM]);
    expect(lines).toEqual(EXPECTED);
    expect(tooLong).toEqual([]);
  });

  it('gives the same lines whatever the split into two chunks', () => {
    for (let at = 0; at <= STREAM.length; at++) {
      const { lines } = frame([STREAM.slice(0, at), STREAM.slice(at)]);
      expect(lines).toEqual(EXPECTED);
    }
  });

  it('gives the same lines whatever the split into three chunks', () => {
    for (let a = 0; a <= STREAM.length; a++) {
      for (let b = a; b <= STREAM.length; b++) {
        const { lines } = frame([STREAM.slice(0, a), STREAM.slice(a, b), STREAM.slice(b)]);
        expect(lines).toEqual(EXPECTED);
      }
    }
  });

  it('gives the same lines one byte at a time', () => {
    expect(frame([...STREAM]).lines).toEqual(EXPECTED);
  });

  it('keeps a CR that is not right before the LF as part of the line', () => {
    expect(frame(['1|B\r\r\n', '2|\rB\n']).lines).toEqual([
      ['1|B\r\r\n', 1],
      ['2|\rB\n', 2],
    ]);
  });

  it('treats a CR split from its LF as the terminator', () => {
    expect(frame(['1|B\r', '\n', '\r', '\n', '2|B\n']).lines).toEqual([
      ['1|B\r\n', 1],
      ['2|B\n', 3],
    ]);
  });

  it('accepts a line of exactly the maximum length, terminator included', () => {
    const max = 10;
    const lf = `${'1'.repeat(max - 1)}\n`;
    const crlf = `${'2'.repeat(max - 2)}\r\n`;
    for (let at = 0; at <= lf.length; at++) {
      const { lines, tooLong } = frame([lf.slice(0, at), lf.slice(at), crlf], max);
      expect(lines).toEqual([
        [lf, 1],
        [crlf, 2],
      ]);
      expect(tooLong).toEqual([]);
    }
  });

  it('reports a line one byte over the maximum and goes on with the next', () => {
    const max = 10;
    const over = `${'1'.repeat(max)}\n`;
    const overCrlf = `${'2'.repeat(max - 1)}\r\n`;
    const stream = `${over}3|B\n${overCrlf}4|B\n`;
    for (let at = 0; at <= stream.length; at++) {
      const { lines, tooLong } = frame([stream.slice(0, at), stream.slice(at)], max);
      expect(lines).toEqual([
        ['3|B\n', 2],
        ['4|B\n', 4],
      ]);
      expect(tooLong.map(([lineNumber]) => lineNumber)).toEqual([1, 3]);
    }
  });

  it('drops an over-long line without holding it, however it is cut', () => {
    const max = 64;
    const { framer, lines, tooLong } = framerOf(max);
    framer.push(Buffer.from('1|B\n', 'latin1'));
    for (let i = 0; i < 10_000; i++) {
      framer.push(Buffer.from('x'.repeat(97), 'latin1'));
      expect(framer.bufferedLength).toBeLessThan(max);
    }
    framer.push(Buffer.from('yyy\n2|B\n', 'latin1'));
    expect(lines).toEqual([
      ['1|B\n', 1],
      ['2|B\n', 3],
    ]);
    expect(tooLong).toHaveLength(1);
    expect(tooLong[0]?.[0]).toBe(2);
    expect(tooLong[0]?.[1]).toMatch(/^x+$/);
  });

  it('reports each over-long line once, also within one chunk', () => {
    const max = 8;
    const { tooLong, lines } = frame([`${'a'.repeat(20)}\n${'b'.repeat(30)}\n1|B\n`], max);
    expect(tooLong.map(([lineNumber]) => lineNumber)).toEqual([1, 2]);
    expect(lines).toEqual([['1|B\n', 3]]);
  });

  it('hands on the head of an over-long line, one character longer than a report quotes', () => {
    const long = `${'a'.repeat(60)}${'b'.repeat(60)}\n`;
    const quoted = long.slice(0, MAX_QUOTED_LINE_LENGTH + 1);
    // Whole; cut where the start still fits (the head takes from both pieces); cut where it
    // does not.
    for (const at of [long.length, 10, 60, long.length - 1]) {
      expect(frame([long.slice(0, at), long.slice(at)], 100).tooLong).toEqual([[1, quoted]]);
    }
  });

  it('counts bytes, not characters (latin1 input)', () => {
    const utf8Line = Buffer.from('1|B|é\n', 'utf8').toString('latin1');
    expect(utf8Line.length).toBe(7);
    expect(frame([utf8Line], 6).tooLong).toHaveLength(1);
    expect(frame([utf8Line], 7).lines).toEqual([[utf8Line, 1]]);
  });

  it('gives back an unterminated remainder once', () => {
    const { framer, lines } = frame(['1|B\n2|', 'B']);
    expect(lines).toEqual([['1|B\n', 1]]);
    expect(framer.lineCount).toBe(1);
    expect(framer.takeRemainder()).toBe('2|B');
    expect(framer.takeRemainder()).toBe('');
  });

  it('gives back no remainder for an over-long tail', () => {
    const { framer, tooLong } = frame(['1|B\n', 'z'.repeat(50)], 16);
    expect(tooLong).toHaveLength(1);
    expect(framer.takeRemainder()).toBe('');
  });

  describe('hold() and unhold()', () => {
    /** A framer whose sink holds it after the lines numbered in `holdAfter`. */
    function holdingFramer(holdAfter: readonly number[]) {
      const lines: Array<[string, number]> = [];
      const framer: LineFramer = new LineFramer(4096, {
        onLine: (bytes, start, end, lineNumber) => {
          lines.push([Buffer.from(bytes.subarray(start, end)).toString('latin1'), lineNumber]);
          if (holdAfter.includes(lineNumber)) framer.hold();
        },
        onLineTooLong: () => undefined,
      });
      return { lines, framer };
    }

    it('stops after the line being handed on and frames the rest on unhold()', () => {
      const { lines, framer } = holdingFramer([1, 5]);
      framer.push(Buffer.from(STREAM, 'latin1'));
      expect(lines).toEqual(EXPECTED.slice(0, 1));
      expect(framer.holding).toBe(true);
      framer.unhold();
      expect(lines).toEqual(EXPECTED.slice(0, 3));
      framer.unhold();
      expect(lines).toEqual(EXPECTED);
      expect(framer.holding).toBe(false);
    });

    it('keeps input pushed while held, partial lines included, in order', () => {
      const { lines, framer } = holdingFramer([1]);
      framer.push(Buffer.from('1|F|60|50\n\n2|B\r', 'latin1'));
      framer.push(Buffer.from('\n\r\n3|P|32|5', 'latin1'));
      expect(lines).toEqual(EXPECTED.slice(0, 1));
      framer.unhold();
      framer.push(Buffer.from('6\n4|S|32\r\n', 'latin1'));
      expect(lines).toEqual(EXPECTED);
    });

    it('drops what it holds with the remainder when the input ends', () => {
      const { lines, framer } = holdingFramer([1]);
      framer.push(Buffer.from('1|F|60|50\n2|B\n3|B', 'latin1'));
      expect(framer.takeRemainder()).toBe('');
      framer.unhold();
      expect(lines).toEqual([['1|F|60|50\n', 1]]);
    });
  });
});

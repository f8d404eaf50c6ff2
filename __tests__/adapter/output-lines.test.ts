import { describe, expect, it } from '@jest/globals';
import { OutputLines } from '../../lib/adapter/output-lines.js';

const bytesOf = (text: string): Buffer => Buffer.from(text, 'latin1');

describe('OutputLines', () => {
  it("assembles a client's lines in its order, from several buffers, in one buffer", () => {
    const lines = new OutputLines();
    const chunk = bytesOf('1|B\n2|P|1|2\n3|S|7\n');
    const spanning = bytesOf('4|B\n');
    const one = lines.add(chunk, 0, 4);
    const two = lines.add(chunk, 4, 12);
    const three = lines.add(chunk, 12, 18);
    const four = lines.add(spanning, 0, 4);
    expect(lines.assemble([three, one, four], 14).toString('latin1')).toBe('3|S|7\n1|B\n4|B\n');
    // Lines that follow each other in their bytes are copied as one range.
    expect(lines.assemble([one, two, three], 18).toString('latin1')).toBe(chunk.toString('latin1'));
  });

  it('copies long ranges as exactly as short ones, high bytes included', () => {
    const lines = new OutputLines();
    const long = bytesOf(`${'x\u00e9'.repeat(200)}\n`);
    const short = bytesOf('9|B\r\n');
    const a = lines.add(long, 0, long.length);
    const b = lines.add(short, 0, short.length);
    const output = lines.assemble([b, a, b], long.length + 2 * short.length);
    expect(output).toEqual(Buffer.concat([short, long, short]));
  });

  it('numbers lines from 0 again after clear()', () => {
    const lines = new OutputLines();
    lines.add(bytesOf('1|B\n'), 0, 4);
    lines.clear();
    const again = lines.add(bytesOf('2|B\n'), 0, 4);
    expect(again).toBe(0);
    expect(lines.assemble([again], 4).toString('latin1')).toBe('2|B\n');
  });
});

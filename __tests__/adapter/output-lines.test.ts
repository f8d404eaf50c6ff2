import { once } from 'node:events';
import { connect, createServer, Socket } from 'node:net';
import { type Duplex, duplexPair, Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { ClientConnection } from '../../lib/adapter/client-connection.js';
import { OutputLines } from '../../lib/adapter/output-lines.js';
import { waitUntil } from '../helpers/sockets.js';

const bytesOf = (text: string): Buffer => Buffer.from(text, 'latin1');

/** A stream that keeps every chunk written to it. */
function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('latin1') };
}

describe('OutputLines', () => {
  it("writes a client's lines in its order, from several buffers, in one write", () => {
    const lines = new OutputLines();
    const chunk = bytesOf('1|B\n2|P|1|2\n3|S|7\n');
    const spanning = bytesOf('4|B\n');
    const one = lines.add(chunk, 0, 4);
    const two = lines.add(chunk, 4, 12);
    const three = lines.add(chunk, 12, 18);
    const four = lines.add(spanning, 0, 4);
    const out = collector();
    lines.write(out.stream, [three, one, four], 3, 14);
    expect(out.text()).toBe('3|S|7\n1|B\n4|B\n');
    // Lines that follow each other in their bytes are copied as one range.
    const whole = collector();
    lines.write(whole.stream, [one, two, three], 3, 18);
    expect(whole.text()).toBe(chunk.toString('latin1'));
  });

  it('copies lines of every length at every offset of their bytes, in any order', () => {
    const lines = new OutputLines();
    // A view at an odd offset of a larger buffer, as a pooled input chunk can be.
    const backing = Buffer.alloc(4_000);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 7 + 3) & 255;
    const bytes = backing.subarray(3, 3_997);
    const indices: number[] = [];
    const expected: Buffer[] = [];
    let at = 0;
    for (let length = 1; length <= 70; length++) {
      indices.push(lines.add(bytes, at, at + length));
      expected.push(bytes.subarray(at, at + length));
      at += length + (length % 3);
    }
    const order = indices.map((_, i) => (i * 37) % indices.length);
    const out = collector();
    const total = expected.reduce((sum, line) => sum + line.length, 0);
    lines.write(
      out.stream,
      order.map((i) => indices[i] as number),
      order.length,
      total,
    );
    expect(out.text()).toBe(
      Buffer.concat(order.map((i) => expected[i] as Buffer)).toString('latin1'),
    );
  });

  it('copies lines interleaved from three buffers right, with a view per switch of two', () => {
    const lines = new OutputLines();
    const buffers = ['a', 'b', 'c'].map((letter) => bytesOf(`${letter.repeat(7)}\n`.repeat(40)));
    // Two buffers alternating (the input chunk and a block of waiting lines), then a third.
    const pattern = [0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 2, 0, 2, 1, 2, 2, 0];
    const real = globalThis.DataView;
    type ViewConstructor = new (
      buffer: ArrayBuffer,
      byteOffset?: number,
      length?: number,
    ) => DataView;
    let views = 0;
    class CountedView extends (real as ViewConstructor) {
      constructor(buffer: ArrayBuffer, byteOffset?: number, byteLength?: number) {
        super(buffer, byteOffset, byteLength);
        views++;
      }
    }
    Reflect.set(globalThis, 'DataView', CountedView);
    let indices: number[];
    try {
      indices = pattern.map((which, i) => lines.add(buffers[which] as Buffer, i * 8, i * 8 + 8));
    } finally {
      Reflect.set(globalThis, 'DataView', real);
    }
    // a and b once each while they alternate; then c, a, b, a again as each comes back
    // after two others (a view per line switch would be 14).
    expect(views).toBe(6);
    const out = collector();
    lines.write(out.stream, indices, indices.length, indices.length * 8);
    expect(out.text()).toBe(pattern.map((which) => `${'abc'[which]?.repeat(7)}\n`).join(''));
  });

  it('copies long lines as exactly as short ones, high bytes included', () => {
    const lines = new OutputLines();
    const long = bytesOf(`${'x\u00e9'.repeat(200)}\n`);
    const short = bytesOf('9|B\r\n');
    const a = lines.add(long, 0, long.length);
    const b = lines.add(short, 0, short.length);
    const out = collector();
    lines.write(out.stream, [b, a, b], 3, long.length + 2 * short.length);
    expect(out.text()).toBe(Buffer.concat([short, long, short]).toString('latin1'));
  });

  it('writes only the first `count` indices: the rest of a reused array is stale', () => {
    const lines = new OutputLines();
    const chunk = bytesOf('1|B\n2|B\n');
    const one = lines.add(chunk, 0, 4);
    const two = lines.add(chunk, 4, 8);
    const out = collector();
    lines.write(out.stream, [two, one, two], 2, 8);
    expect(out.text()).toBe('2|B\n1|B\n');
  });

  it('refills its arrays after clear() with the new lines, however many flushes reuse them', () => {
    const lines = new OutputLines();
    for (let flush = 0; flush < 3; flush++) {
      const count = [5_000, 3, 20_000][flush] as number;
      const text = Array.from({ length: count }, (_, i) => `${flush}${i}|B\n`).join('');
      const chunk = bytesOf(text);
      const indices: number[] = [];
      for (let at = 0, end = 0; at < chunk.length; at = end) {
        end = chunk.indexOf(10, at) + 1;
        indices.push(lines.add(chunk, at, end));
      }
      // Every other line, so no two follow each other in the chunk.
      const picked = indices.filter((index) => index % 2 === 0);
      const expected = text
        .split(/(?<=\n)/)
        .filter((_, i) => i % 2 === 0)
        .join('');
      const out = collector();
      lines.write(out.stream, picked, picked.length, expected.length);
      expect(out.text()).toBe(expected);
      lines.clear();
    }
  });

  it('keeps index arrays for clients within one budget for all of them', () => {
    const lines = new OutputLines();
    // The budget is 256 Ki slots.
    expect(lines.keep(0, 200_000)).toBe(true);
    expect(lines.keep(0, 62_144)).toBe(true);
    expect(lines.keptIndexSlots).toBe(262_144);
    expect(lines.keep(0, 1)).toBe(false);
    // A client growing what it keeps counts only the growth.
    expect(lines.keep(62_144, 62_145)).toBe(false);
    expect(lines.keep(62_144, 62_000)).toBe(true);
    lines.releaseKept(200_000);
    expect(lines.keptIndexSlots).toBe(62_000);
    expect(lines.keep(0, 1)).toBe(true);
  });

  it('numbers lines from 0 again after clear()', () => {
    const lines = new OutputLines();
    lines.add(bytesOf('1|B\n'), 0, 4);
    lines.clear();
    const again = lines.add(bytesOf('2|B\n'), 0, 4);
    expect(again).toBe(0);
    const out = collector();
    lines.write(out.stream, [again], 1, 4);
    expect(out.text()).toBe('2|B\n');
  });

  it('delivers every byte over TCP while its slab is reused, and while the peer lags', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const writer = connect(port, '127.0.0.1');
    await once(writer, 'connect');
    const [reader] = await accepted;
    try {
      const received: Buffer[] = [];
      let receivedBytes = 0;
      reader.on('data', (chunk: Buffer) => {
        received.push(chunk);
        receivedBytes += chunk.length;
      });
      // Several slabs' worth of distinct flushes; the reader is paused for a while, so some
      // writes are queued (their slab must not be reused) and later ones are not.
      reader.pause();
      const lines = new OutputLines();
      const expected: string[] = [];
      let queuedWrites = 0;
      for (let flush = 0; flush < 2000; flush++) {
        const text = `${flush}|B\n`.repeat(1 + (flush % 3000));
        const chunk = bytesOf(text);
        const line = lines.add(chunk, 0, chunk.length);
        lines.write(writer, [line], 1, chunk.length);
        lines.clear();
        if (writer.writableLength > 0) queuedWrites++;
        // The output is a copy: what happens to the input afterwards is not sent.
        chunk.fill(0);
        expected.push(text);
        if (flush === 1000) reader.resume();
      }
      reader.resume();
      // The paused reader made the socket queue some of them.
      expect(queuedWrites).toBeGreaterThan(0);
      const total = expected.reduce((sum, text) => sum + text.length, 0);
      const deadline = Date.now() + 20_000;
      while (receivedBytes < total && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(Buffer.concat(received).toString('latin1')).toBe(expected.join(''));
    } finally {
      writer.destroy();
      reader.destroy();
      server.close();
    }
  });

  it('carves from at most 16 slabs held by queued pieces, whatever number of sockets stall, and carves again once they are written', async () => {
    // Sockets as the slab sees them: one takes every write at once, the others hold theirs
    // (as a peer that does not read makes the kernel do) until told to write them.
    class TakingSocket extends Socket {
      override _write(_chunk: Buffer, _encoding: string, done: () => void): void {
        done();
      }
    }
    class StalledSocket extends Socket {
      readonly chunks: Buffer[] = [];
      readonly #done: (() => void)[] = [];
      override _write(chunk: Buffer, _encoding: string, done: () => void): void {
        this.chunks.push(chunk);
        this.#done.push(done);
      }
      writeOut(): string {
        const text = Buffer.concat(this.chunks).toString('latin1');
        for (const done of this.#done.splice(0)) done();
        return text;
      }
    }
    const lines = new OutputLines();
    const fast = new TakingSocket();
    const filler = bytesOf('x'.repeat(32 * 1024));
    const fill = lines.add(filler, 0, filler.length);
    // A piece carved from a slab is a view of its 256 KiB; any other output is exact.
    const carved = (socket: StalledSocket) => socket.chunks[0]?.buffer.byteLength === 256 * 1024;
    const stallOne = (client: number): StalledSocket => {
      const socket = new StalledSocket();
      const text = bytesOf(`${client}|B\n`);
      lines.write(socket, [lines.add(text, 0, text.length)], 1, text.length);
      expect(socket.writableLength).toBe(text.length);
      // A slab's worth through a socket that takes it at once: the slab rolls over.
      for (let i = 0; i < 8; i++) lines.write(fast, [fill], 1, filler.length);
      return socket;
    };
    const stalled = Array.from({ length: 40 }, (_, client) => stallOne(client));
    expect(stalled.map(carved)).toEqual(Array.from({ length: 40 }, (_, client) => client < 16));
    stalled.forEach((socket, client) => {
      expect(socket.writeOut()).toBe(`${client}|B\n`);
    });
    // Node calls back writes that completed at once in a later tick; then slabs are carved again.
    await new Promise((resolve) => setImmediate(resolve));
    expect(carved(stallOne(40))).toBe(true);
  });
});

describe('ClientConnection with OutputLines', () => {
  it('refills its index array in place across flushes and gives its kept slots back when it closes', async () => {
    const { client, peer, received, closed } = await identifiedClient('7');
    const lines = new OutputLines();
    const chunk = bytesOf('1|B\n2|B\n3|B\n');
    let expected = '';
    for (const count of [3, 1, 2]) {
      for (let i = 0; i < count; i++) {
        expect(client.enqueue(lines.add(chunk, 4 * i, 4 * i + 4), 4)).toBe(i === 0);
      }
      expect(client.flush(lines)).toBe(4 * count);
      expected += chunk.toString('latin1', 0, 4 * count);
      lines.clear();
      // The array stays counted, as the 17 slots V8 gives an array on its first push.
      expect(lines.keptIndexSlots).toBe(17);
    }
    await received(expected);
    client.destroy();
    await closed();
    expect(lines.keptIndexSlots).toBe(0);
    peer.destroy();
  });

  it('keeps arrays within a budget, lets a shrunk one go, and counts none once clients close', async () => {
    // 20 slots: room for one array counted as 17, not two.
    const lines = new OutputLines(20);
    const first = await identifiedClient('7');
    const second = await identifiedClient('8');
    const chunk = bytesOf(Array.from({ length: 200 }, (_, i) => `${i + 1}|B\n`).join(''));
    const lineOf = (i: number): number => lines.add(chunk, 4 * i, 4 * i + 4);
    const texts = { first: '', second: '' };
    const flush = (name: 'first' | 'second', from: number, count: number): void => {
      const client = name === 'first' ? first.client : second.client;
      for (let i = from; i < from + count; i++) client.enqueue(lineOf(i), 4);
      expect(client.flush(lines)).toBe(4 * count);
      texts[name] += chunk.toString('latin1', 4 * from, 4 * (from + count));
      lines.clear();
    };
    flush('first', 0, 3);
    expect(lines.keptIndexSlots).toBe(17);
    // Refused: the second lets its array go, and still gets its lines.
    flush('second', 3, 3);
    expect(lines.keptIndexSlots).toBe(17);
    flush('second', 6, 2);
    expect(lines.keptIndexSlots).toBe(17);
    await second.received(texts.second);
    await first.received(texts.first);
    // The first grows past the budget: refused, it lets go of what it kept.
    flush('first', 10, 100);
    expect(lines.keptIndexSlots).toBe(0);
    flush('first', 110, 3);
    expect(lines.keptIndexSlots).toBe(17);
    await first.received(texts.first);
    first.client.destroy();
    second.client.destroy();
    await first.closed();
    await second.closed();
    expect(lines.keptIndexSlots).toBe(0);
  });

  it('gives back the slots of an array that a flush used less than a quarter of', async () => {
    const lines = new OutputLines();
    const { client, received, closed } = await identifiedClient('7');
    const chunk = bytesOf('1|B\n');
    let expected = '';
    for (const count of [5_000, 1_250, 1_249, 3]) {
      for (let i = 0; i < count; i++) client.enqueue(lines.add(chunk, 0, 4), 4);
      client.flush(lines);
      expected += '1|B\n'.repeat(count);
      lines.clear();
      // 5,000 kept while a flush uses a quarter of them; after 1,249, the array goes.
      expect(lines.keptIndexSlots).toBe(count >= 1_250 ? 5_000 : count === 1_249 ? 0 : 17);
    }
    await received(expected);
    client.destroy();
    await closed();
    expect(lines.keptIndexSlots).toBe(0);
  });

  it('lets go of a grown array when a flush finds the stream ended', async () => {
    const lines = new OutputLines();
    const { client, peer, closed } = await identifiedClient('7');
    const chunk = bytesOf('1|B\n');
    client.enqueue(lines.add(chunk, 0, 4), 4);
    client.flush(lines);
    lines.clear();
    expect(lines.keptIndexSlots).toBe(17);
    client.stream.end();
    for (let i = 0; i < 100; i++) client.enqueue(lines.add(chunk, 0, 4), 4);
    expect(client.flush(lines)).toBe(0);
    lines.clear();
    expect(lines.keptIndexSlots).toBe(0);
    peer.end();
    await closed();
    expect(lines.keptIndexSlots).toBe(0);
  });
});

/** An identified client on one end of a duplex pair, and what its peer reads. */
async function identifiedClient(id: string): Promise<{
  client: ClientConnection;
  peer: Duplex;
  received: (text: string) => Promise<void>;
  closed: () => Promise<void>;
}> {
  const [ours, peer] = duplexPair();
  let identified = false;
  let isClosed = false;
  const client = new ClientConnection(
    `client#${id}`,
    ours,
    {
      clientIdentified: () => {
        identified = true;
      },
      clientDrained: () => {},
      clientHalfClosed: () => {},
      clientReauthenticated: () => {},
      clientClosed: () => {
        isClosed = true;
      },
      report: () => {},
    },
    { maxIdLineLength: 32, identifyTimeout: 5_000, shutdownTimeout: 1_000 },
  );
  client.start();
  const chunks: Buffer[] = [];
  peer.on('data', (chunk: Buffer) => chunks.push(chunk));
  peer.write(`${id}\n`);
  await waitUntil(() => identified, `client ${id} identified`);
  return {
    client,
    peer,
    received: (text) =>
      waitUntil(() => Buffer.concat(chunks).toString('latin1') === text, `client ${id} received`),
    closed: () => waitUntil(() => isClosed, `client ${id} closed`),
  };
}

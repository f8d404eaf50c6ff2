import { describe, expect, it } from '@jest/globals';
import { ClientStream, Ledger, type StreamContext } from '../../lib/simulate/client-stream.js';
import { SimulationErrorCode } from '../../lib/simulate/failures.js';
import { FNV_OFFSET, foldDigest, hashLine } from '../../lib/simulate/hash.js';
import { randomChunker } from '../helpers/sockets.js';
import { mulberry32, type Rng, randomEventLine, randomInt } from '../helpers/streams.js';

/** A context whose events are the given lines, indexed by their sequence number. */
function contextOf(lines: Record<number, string>, warmupSent = 0): StreamContext {
  return {
    ledger: new Ledger(4, 1_000),
    warmupSent,
    delimiterByte: '|'.charCodeAt(0),
    lineOf: (sequence) => lines[sequence],
  };
}

const EVENTS: Record<number, string> = {
  1: '1|B\n',
  2: '2|B\n',
  3: '3|F|60|50\n',
  4: '4|P|32|50\n',
  5: '5|S|32\n',
  6: '6|B\r\n',
};

function owed(context: StreamContext, ...sequences: number[]): ClientStream {
  const client = new ClientStream(3, 50, context);
  client.registered = true;
  for (const sequence of sequences) client.expect(sequence, hashLine(EVENTS[sequence] ?? ''));
  return client;
}

function bytes(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

/** Feeds `text` in chunks of `size` bytes; returns false at the first failure. */
function feed(client: ClientStream, text: string, size: number): boolean {
  const all = bytes(text);
  for (let at = 0; at < all.length; at += size) {
    const chunk = all.slice(at, at + size);
    if (!client.receive(chunk, chunk.length)) return false;
  }
  return true;
}

/** A registered client owed every line of `lines`, numbered from 1. */
function owedAll(lines: string[]): ClientStream {
  const client = new ClientStream(0, 1, {
    ledger: new Ledger(1e6, 1e9),
    warmupSent: 0,
    delimiterByte: '|'.charCodeAt(0),
    lineOf: (sequence) => lines[sequence - 1],
  });
  client.registered = true;
  lines.forEach((line, i) => {
    client.expect(i + 1, hashLine(line));
  });
  return client;
}

describe('ClientStream: the expected lines, exactly', () => {
  const stream = '3|F|60|50\n4|P|32|50\n5|S|32\n6|B\r\n';

  it.each([1, 2, 3, 7, 64])('accepts them split into %i-byte chunks', (size) => {
    const context = contextOf(EVENTS);
    const client = owed(context, 3, 4, 5, 6);
    expect(feed(client, stream, size)).toBe(true);
    expect(client.lines).toBe(4);
    expect(client.pending).toBe(0);
    expect(context.ledger.pending).toBe(0);
    expect(context.ledger.received).toBe(4);
    expect(client.receivedDigest).toBe(client.expectedDigest);
  });

  it('digests every line in order', () => {
    const client = owed(contextOf(EVENTS), 3, 4);
    feed(client, '3|F|60|50\n4|P|32|50\n', 5);
    const expected = foldDigest(
      foldDigest(FNV_OFFSET, hashLine(EVENTS[3] ?? '')),
      hashLine(EVENTS[4] ?? ''),
    );
    expect(client.receivedDigest).toBe(expected);
  });

  it('digests the stream by position, leaving the warm-up out, whatever its length', () => {
    // The same stream (a follow, then a private message) after 2 warm-up broadcasts, and
    // after 3: the numbers shift, the stream digest does not.
    const digestAfter = (warmupSent: number): number => {
      const follow = `${warmupSent + 1}|F|60|50\n`;
      const message = `${warmupSent + 2}|P|32|50\n`;
      const client = new ClientStream(3, 50, contextOf({}, warmupSent));
      client.registered = true;
      client.expect(warmupSent, hashLine(`${warmupSent}|B\n`));
      client.expect(warmupSent + 1, hashLine(follow));
      client.expect(warmupSent + 2, hashLine(message));
      expect(feed(client, `${warmupSent}|B\n${follow}${message}`, 7)).toBe(true);
      return client.streamDigest;
    };
    const positions = foldDigest(foldDigest(FNV_OFFSET, 1), 2);
    expect(digestAfter(2)).toBe(positions);
    expect(digestAfter(3)).toBe(positions);
  });

  it('uses only a buffer passed with its length (a reused read buffer)', () => {
    const client = owed(contextOf(EVENTS), 3);
    const buffer = Buffer.alloc(64, 0x7a);
    buffer.write('3|F|60|50\n', 'latin1');
    expect(client.receive(buffer, 10)).toBe(true);
    expect(client.pending).toBe(0);
  });
});

describe('ClientStream: the first wrong line fails, and says why', () => {
  const failureOf = (client: ClientStream, text: string, size = 1000) => {
    expect(feed(client, text, size)).toBe(false);
    return client.failure;
  };

  it('a missing notification', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 3, 4, 5), '3|F|60|50\n5|S|32\n');
    expect(failure).toMatchObject({
      code: SimulationErrorCode.Missing,
      kind: 'verification',
      context: { connection: 'client#3', userId: 50, lineNumber: 2 },
    });
    expect(failure?.message).toBe(
      'client#3 (user 50), line 2: expected event 4 "4|P|32|50\\n", got event 5 "5|S|32\\n":' +
        ' event 4 is missing or out of order',
    );
  });

  it('two notifications swapped', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 3, 4), '4|P|32|50\n3|F|60|50\n');
    expect(failure?.code).toBe(SimulationErrorCode.Missing);
    expect(failure?.context.lineNumber).toBe(1);
  });

  it('a duplicate', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 3, 4), '3|F|60|50\n3|F|60|50\n');
    expect(failure?.code).toBe(SimulationErrorCode.OutOfOrder);
    expect(failure?.message).toContain('line 2: got event 3 "3|F|60|50\\n" after event 3');
  });

  it('an event the user must not receive, before the expected one', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 5), '4|P|32|50\n');
    expect(failure?.code).toBe(SimulationErrorCode.Unexpected);
    expect(failure?.message).toContain('expected event 5 "5|S|32\\n", got event 4');
  });

  it('an extra line after everything owed', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 3), '3|F|60|50\n6|B\r\n');
    expect(failure?.code).toBe(SimulationErrorCode.Unexpected);
    expect(failure?.message).toContain('nothing more is owed');
  });

  it('the right number with different bytes', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 6), '6|B\n');
    expect(failure?.code).toBe(SimulationErrorCode.Content);
    expect(failure?.message).toBe(
      'client#3 (user 50), line 1: expected event 6 "6|B\\r\\n", got different bytes "6|B\\n"',
    );
  });

  it.each(['|B\n', 'hello\n', '\n', '0|B\n', 'x3|B\n'])(
    'a line without a sequence number: %j',
    (line) => {
      const failure = failureOf(owed(contextOf(EVENTS), 3), line);
      expect(failure?.code).toBe(SimulationErrorCode.BadLine);
    },
  );

  it('quotes a line that spans chunks', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 3), '3|F|60|51\n', 2);
    expect(failure?.context.got).toBe('"3|F|60|51\\n"');
  });

  it('shortens a long line', () => {
    const failure = failureOf(owed(contextOf(EVENTS), 3), `3|${'x'.repeat(500)}\n`, 7);
    expect(failure?.context.got).toMatch(/^"3\|x+"…$/);
    expect(failure?.context.got?.length).toBeLessThan(110);
  });

  it('a timeout names the line waited for', () => {
    const client = owed(contextOf(EVENTS), 3, 4);
    feed(client, '3|F|60|50\n', 100);
    expect(client.timedOut(20_500)).toMatchObject({
      code: SimulationErrorCode.Timeout,
      message:
        'client#3 (user 50), waited more than 20500 ms for line 2: expected event 4' +
        ' "4|P|32|50\\n" (1 lines received, 1 still owed)',
    });
  });
});

describe('ClientStream: registration by a warm-up broadcast', () => {
  it('the first warm-up broadcast received registers; later ones are owed', () => {
    const context = contextOf(EVENTS, 2);
    const client = new ClientStream(0, 7, context);
    expect(feed(client, '2|B\n', 100)).toBe(true);
    expect(client.registered).toBe(true);
    expect(context.ledger.registered).toBe(1);
    expect(client.expectedDigest).toBe(client.receivedDigest);
  });

  it('a registered client is owed the broadcasts after the one it got', () => {
    const context = contextOf(EVENTS, 2);
    const client = new ClientStream(0, 7, context);
    expect(feed(client, '1|B\n', 100)).toBe(true);
    expect(client.pending).toBe(1);
    expect(client.nextExpected).toBe(2);
    expect(feed(client, '3|F|60|50\n', 100)).toBe(false);
    expect(client.failure?.code).toBe(SimulationErrorCode.Missing);
  });

  it('anything else before registration fails', () => {
    const client = new ClientStream(0, 7, contextOf(EVENTS, 2));
    expect(feed(client, '3|F|60|50\n', 100)).toBe(false);
    expect(client.failure?.code).toBe(SimulationErrorCode.Unexpected);
    expect(client.failure?.message).toContain('expected a warm-up broadcast (1..2)');
  });
});

describe('ClientStream: pacing', () => {
  it('counts a client over its limit until it drains to half', () => {
    const context = contextOf(EVENTS);
    const client = owed(context, 1, 2, 3, 4);
    expect(context.ledger.clientsOverLimit).toBe(1);
    expect(context.ledger.mustPause).toBe(true);
    feed(client, '1|B\n', 100);
    expect(context.ledger.mayResume).toBe(false);
    feed(client, '2|B\n', 100);
    expect(context.ledger.clientsOverLimit).toBe(0);
    expect(context.ledger.mayResume).toBe(true);
  });

  it('grows its ring past the initial size, keeping the order', () => {
    const context: StreamContext = {
      ledger: new Ledger(10_000, 100_000),
      warmupSent: 0,
      delimiterByte: '|'.charCodeAt(0),
      lineOf: () => undefined,
    };
    const client = new ClientStream(0, 1, context);
    client.registered = true;
    let text = '';
    for (let sequence = 1; sequence <= 1_000; sequence++) {
      const line = `${sequence}|B\n`;
      client.expect(sequence, hashLine(line));
      text += line;
      // Receive in the middle too, so the ring wraps before it grows.
      if (sequence === 40) {
        expect(feed(client, text, 13)).toBe(true);
        text = '';
      }
    }
    expect(feed(client, text, 4096)).toBe(true);
    expect(client.lines).toBe(1_000);
    expect(client.pending).toBe(0);
  });
});

describe('ClientStream: random chunk boundaries', () => {
  // Lines of every type, LF or CRLF, with ids of up to 16 digits, numbered 1..count.
  function streamOf(rng: Rng, count: number): string[] {
    return Array.from({ length: count }, (_, index) =>
      randomEventLine(rng, index + 1, 9e15, rng() < 0.5 ? '\n' : '\r\n'),
    );
  }

  // Fed in chunks of random sizes (1..40 bytes); false at the first failure.
  function feedRandomly(client: ClientStream, text: string, rng: Rng): boolean {
    return randomChunker(
      rng,
      40,
    )(text).every((chunk) => {
      const data = bytes(chunk);
      return client.receive(data, data.length);
    });
  }

  it.each([1, 2, 3, 4, 5])(
    'seed %i: accepts the exact stream, fails at the exact changed line',
    (seed) => {
      const rng = mulberry32(seed);
      const lines = streamOf(rng, 300);
      const good = owedAll(lines);
      expect(feedRandomly(good, lines.join(''), rng)).toBe(true);
      expect(good.lines).toBe(300);
      expect(good.receivedDigest).toBe(good.expectedDigest);

      const changed = randomInt(rng, 0, 299);
      const original = lines[changed] as string;
      const at = randomInt(rng, 0, original.length - 1);
      const code = original.charCodeAt(at);
      const bad = [...lines];
      bad[changed] =
        `${original.slice(0, at)}${String.fromCharCode(code === 0x7c ? 0x21 : code ^ 1)}${original.slice(at + 1)}`;
      const client = owedAll(lines);
      expect(feedRandomly(client, bad.join(''), rng)).toBe(false);
      // Flipping the bit of an LF ends no line there: the line then merges with the next.
      expect(client.failure?.context.lineNumber).toBe(changed + 1);
    },
  );
});

/** The epoch line of the server these clients talk to, the notifications starting after `last`. */
const epochLine = (last: number): string => `!EPOCH|77|${last}\n`;

/**
 * Identifies `client` as `USERID|-` and feeds it the epoch line its connection opens with:
 * its notifications start after the one before the first it is owed.
 */
function aware(client: ClientStream): ClientStream {
  expect(client.awarePart()).toBe('|-');
  expect(feed(client, epochLine(Math.max(0, client.nextExpected - 1)), 100)).toBe(true);
  return client;
}

describe('ClientStream: a dropped connection, resumed', () => {
  // Owed 3, 4, 5 and 6, resume-aware; received `before`; the connection then drops. Returns
  // the stream and the line its next connection identified with.
  function droppedAfter(before: string): { client: ClientStream; resumedAs: string } {
    const context = contextOf(EVENTS);
    const client = aware(owed(context, 3, 4, 5, 6));
    expect(feed(client, before, 3)).toBe(true);
    client.dropped();
    return { client, resumedAs: client.resumePart() };
  }

  it('discards the line cut in two and resumes after the last whole one', () => {
    const { client, resumedAs } = droppedAfter('3|F|60|50\n4|P|3');
    expect(resumedAs).toBe('|3|77');
    expect(feed(client, `${epochLine(3)}4|P|32|50\n5|S|32\n6|B\r\n`, 4)).toBe(true);
    expect(client.lines).toBe(4);
    expect(client.pending).toBe(0);
    expect(client.receivedDigest).toBe(client.expectedDigest);
    expect(client.context.ledger.pending).toBe(0);
    expect(client.context.ledger.reconnects).toMatchObject({
      drops: 1,
      resumes: 1,
      owedOnResume: 3,
      refused: { trimmed: 0, ahead: 0 },
    });
  });

  it('resumes after a drop between lines', () => {
    const { client, resumedAs } = droppedAfter('3|F|60|50\n4|P|32|50\n');
    expect(resumedAs).toBe('|4|77');
    expect(feed(client, `${epochLine(4)}5|S|32\n6|B\r\n`, 100)).toBe(true);
    expect(client.pending).toBe(0);
  });

  it('resumes after the number its epoch line gave when it received nothing, and is owed all the rest', () => {
    const client = aware(owed(contextOf(EVENTS), 3, 4));
    client.dropped();
    expect(client.resumePart()).toBe('|2|77');
    expect(feed(client, `${epochLine(2)}3|F|60|50\n4|P|32|50\n`, 100)).toBe(true);
    expect(client.pending).toBe(0);
    expect(client.receivedDigest).toBe(client.expectedDigest);
  });

  it('after a gap and nothing else, resumes after the gap’s NEXT - 1, as its epoch line said', () => {
    const { client } = droppedAfter('3|F|60|50\n');
    expect(feed(client, `${epochLine(4)}!GAP|trimmed|5\n`, 100)).toBe(true);
    client.dropped();
    expect(client.resumePart()).toBe('|4|77');
    expect(feed(client, `${epochLine(4)}5|S|32\n6|B\r\n`, 100)).toBe(true);
    expect(client.pending).toBe(0);
    expect(client.receivedDigest).toBe(client.expectedDigest);
  });

  it('cut between its epoch line and the gap line it announced, resumes after the same number again', () => {
    const { client } = droppedAfter('3|F|60|50\n');
    expect(feed(client, `${epochLine(4)}!GAP|trim`, 100)).toBe(true);
    client.dropped();
    expect(client.resumePart()).toBe('|3|77');
    expect(feed(client, `${epochLine(3)}4|P|32|50\n5|S|32\n6|B\r\n`, 100)).toBe(true);
    expect(client.pending).toBe(0);
    expect(client.receivedDigest).toBe(client.expectedDigest);
  });

  it('after !GAP|ahead and nothing else, resumes after its own last number, above the epoch line’s', () => {
    const { client } = droppedAfter('3|F|60|50\n4|P|32|50\n');
    expect(feed(client, `${epochLine(1)}!GAP|ahead|2\n2|B\n`, 100)).toBe(true);
    client.dropped();
    expect(client.resumePart()).toBe('|4|77');
  });

  it.each([
    ['another number and no gap line', `${epochLine(2)}4|P|32|50\n`],
    ['another number than the gap line’s NEXT - 1', `${epochLine(3)}!GAP|trimmed|5\n`],
  ])('fails with ERR_SIM_EPOCH when a resumed connection’s epoch line names %s', (_case, text) => {
    const { client } = droppedAfter('3|F|60|50\n');
    expect(feed(client, text, 100)).toBe(false);
    expect(client.failure).toMatchObject({
      code: SimulationErrorCode.Epoch,
      context: { lineNumber: 2 },
    });
  });

  it.each([
    ['a line lost', '5|S|32\n', SimulationErrorCode.Missing],
    ['a line received twice', '3|F|60|50\n', SimulationErrorCode.OutOfOrder],
    // Glued to the part received before the drop, it would be the expected line.
    ['the rest of the cut line only', '2|50\n', SimulationErrorCode.OutOfOrder],
  ])('fails on %s', (_case, resumed, code) => {
    const { client } = droppedAfter('3|F|60|50\n4|P|3');
    expect(feed(client, `${epochLine(3)}${resumed}`, 100)).toBe(false);
    expect(client.failure?.code).toBe(code);
  });

  it('after !GAP|trimmed|NEXT, is owed only the lines from NEXT on', () => {
    const { client } = droppedAfter('3|F|60|50\n');
    const ledger = client.context.ledger;
    expect(feed(client, `${epochLine(4)}!GAP|trimmed|5\n5|S|32\n6|B\r\n`, 1)).toBe(true);
    expect(client.lines).toBe(3);
    expect(client.pending).toBe(0);
    expect(ledger.pending).toBe(0);
    expect(client.expectedLines).toBe(3);
    expect(client.receivedDigest).toBe(client.expectedDigest);
    expect(ledger.reconnects).toMatchObject({
      resumes: 1,
      refused: { trimmed: 1, ahead: 0 },
      skipped: 1,
    });
  });

  it.each([1, 100])(
    'after !GAP|trimmed|NEXT, the stream digest counts the skipped lines by position too (chunks of %i bytes)',
    (chunkSize) => {
      const { client } = droppedAfter('3|F|60|50\n');
      expect(feed(client, `${epochLine(4)}!GAP|trimmed|5\n5|S|32\n6|B\r\n`, chunkSize)).toBe(true);
      let positions = FNV_OFFSET;
      for (const position of [3, 4, 5, 6]) positions = foldDigest(positions, position);
      expect(client.streamDigest).toBe(positions);
    },
  );

  it('after !GAP|trimmed|NEXT, a line below NEXT fails', () => {
    const { client } = droppedAfter('3|F|60|50\n');
    expect(feed(client, `${epochLine(4)}!GAP|trimmed|5\n4|P|32|50\n`, 100)).toBe(false);
    expect(client.failure?.code).toBe(SimulationErrorCode.Unexpected);
  });

  it('after !GAP|ahead|NEXT, ignores repeats up to LASTSEQ, then verifies as before', () => {
    const { client, resumedAs } = droppedAfter('3|F|60|50\n4|P|32|50\n');
    expect(resumedAs).toBe('|4|77');
    const ledger = client.context.ledger;
    const stream = `${epochLine(1)}!GAP|ahead|2\n2|B\n3|F|60|50\n4|P|32|50\n5|S|32\n6|B\r\n`;
    expect(feed(client, stream, 5)).toBe(true);
    expect(ledger.reconnects).toMatchObject({ refused: { trimmed: 0, ahead: 1 }, repeats: 3 });
    expect(client.lines).toBe(4);
    expect(client.pending).toBe(0);
    expect(client.receivedDigest).toBe(client.expectedDigest);
    // Past LASTSEQ, a repeat is a failure again.
    expect(feed(client, '4|P|32|50\n', 100)).toBe(false);
    expect(client.failure?.code).toBe(SimulationErrorCode.OutOfOrder);
  });

  it('counts a refused resume that drained the ring out of the pacing limit', () => {
    const context = contextOf(EVENTS);
    const client = aware(owed(context, 1, 2, 3, 4));
    expect(context.ledger.clientsOverLimit).toBe(1);
    client.dropped();
    client.resumePart();
    expect(context.ledger.mustPause).toBe(true);
    expect(feed(client, `${epochLine(3)}!GAP|trimmed|4\n`, 100)).toBe(true);
    expect(context.ledger.clientsOverLimit).toBe(0);
    expect(context.ledger.mayResume).toBe(true);
  });

  // `opening`: the epoch line's number on a resumed connection (LASTSEQ 3 unless a gap follows).
  it.each([
    ['on a connection never dropped', '!GAP|trimmed|5\n', undefined],
    ['after the first line of the resumed connection', '4|P|32|50\n!GAP|trimmed|6\n', 3],
    ['twice', '!GAP|trimmed|5\n!GAP|trimmed|6\n', 4],
    ['with another reason', '!GAP|late|5\n', 3],
    ['without its number', '!GAP|trimmed|\n', 3],
    ['with a CRLF', '!GAP|trimmed|5\r\n', 3],
    // The client named the server's own epoch.
    ['saying "epoch"', '!GAP|epoch|5\n', 3],
  ])('fails on a !GAP line %s', (_case, text, opening) => {
    const client = owed(contextOf(EVENTS), 4, 5, 6);
    if (opening !== undefined) {
      aware(client).dropped();
      client.resumePart();
    }
    const epoch = opening === undefined ? '' : epochLine(opening);
    expect(feed(client, `${epoch}${text}`, 3)).toBe(false);
    expect(client.failure?.code).toBe(SimulationErrorCode.BadLine);
  });

  it.each([
    ['a notification', '4|P|32|50\n'],
    ['a gap line', '!GAP|trimmed|5\n'],
    ['an epoch line without its epoch', '!EPOCH|\n'],
    ['an epoch line without its number', '!EPOCH|77\n'],
    ['an epoch line with a CRLF', '!EPOCH|77|3\r\n'],
  ])('fails with ERR_SIM_EPOCH when a resumed connection opens with %s', (_case, text) => {
    const client = aware(owed(contextOf(EVENTS), 4, 5, 6));
    client.dropped();
    client.resumePart();
    expect(feed(client, text, 100)).toBe(false);
    expect(client.failure).toMatchObject({
      code: SimulationErrorCode.Epoch,
      context: { lineNumber: 1, expected: '!EPOCH|…' },
    });
  });

  it('fails with ERR_SIM_EPOCH when the server’s epoch changed since the first connection', () => {
    const client = aware(owed(contextOf(EVENTS), 4, 5, 6));
    client.dropped();
    client.resumePart();
    expect(feed(client, '!EPOCH|78|3\n4|P|32|50\n', 100)).toBe(false);
    expect(client.failure).toMatchObject({
      code: SimulationErrorCode.Epoch,
      message: expect.stringContaining('epoch is 78, not 77'),
      context: { expected: '!EPOCH|77' },
    });
  });

  it('expects the epoch line before the warm-up on a resume-aware first connection', () => {
    const context = contextOf(EVENTS, 2);
    const client = new ClientStream(3, 50, context);
    client.awarePart();
    expect(feed(client, '1|B\n', 100)).toBe(false);
    expect(client.failure?.code).toBe(SimulationErrorCode.Epoch);
    const good = new ClientStream(4, 51, contextOf(EVENTS, 2));
    good.awarePart();
    expect(feed(good, `${epochLine(0)}1|B\n2|B\n`, 3)).toBe(true);
    expect(good.registered).toBe(true);
    expect(good.lines).toBe(2);
    expect(good.receivedDigest).toBe(good.expectedDigest);
  });

  it('takes an epoch line on a plain connection for a bad line', () => {
    const client = owed(contextOf(EVENTS), 4);
    expect(feed(client, epochLine(3), 100)).toBe(false);
    expect(client.failure?.code).toBe(SimulationErrorCode.BadLine);
  });

  it.each([1, 2, 3, 4, 5])(
    'seed %i: random drops, exact resumes: every line verified once',
    (seed) => {
      const rng = mulberry32(seed);
      const lines = Array.from({ length: 300 }, (_, index) =>
        randomEventLine(rng, index + 1, 9e15, rng() < 0.5 ? '\n' : '\r\n'),
      );
      const client = aware(owedAll(lines));
      const text = bytes(lines.join(''));
      // Where line n + 1 starts: an exact resume after LASTSEQ n sends from there.
      const starts = [0];
      for (const line of lines) starts.push((starts.at(-1) as number) + line.length);
      let at = 0;
      let drops = 0;
      while (at < text.length) {
        // 0: a connection that drops having received nothing after its epoch line.
        const cut = Math.min(text.length, at + randomInt(rng, 0, 400));
        for (let from = at; from < cut; ) {
          const chunk = text.slice(from, Math.min(cut, from + randomInt(rng, 1, 40)));
          expect(client.receive(chunk, chunk.length)).toBe(true);
          from += chunk.length;
        }
        if (cut === text.length) break;
        client.dropped();
        drops++;
        const lastSequence = Number(client.resumePart().split('|')[1]);
        expect(feed(client, epochLine(lastSequence), randomInt(rng, 1, 12))).toBe(true);
        at = starts[lastSequence] as number;
      }
      expect(drops).toBeGreaterThan(10);
      expect(client.lines).toBe(300);
      expect(client.pending).toBe(0);
      expect(client.receivedDigest).toBe(client.expectedDigest);
    },
  );
});

/**
 * The cluster's ingest (lib/cluster/ingest.ts) against `MemoryEventLog` over in-memory
 * sources: events in sequence order with serve's rules and reports, batching (byte bound and
 * timer), resuming from the log's tail, the append window pausing the source, recovery from
 * a failed append (drain, re-read the tail, re-append in order) and the refusal of a second
 * writer, and a close that reads the open source to its end first. Logs whose appends the
 * test releases by hand stand in for a slow or failing NATS.
 * Every wait is bounded; every ingest is closed and its timers with it.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { encodeBatch } from '../../lib/cluster/batch-codec.js';
import type {
  AppendResult,
  EventBatch,
  EventLog,
  LogBatch,
  LogFence,
  LogForeign,
  LogReader,
  LogTail,
  ReadOptions,
} from '../../lib/cluster/event-log.js';
import {
  createIngest,
  INGEST_BATCH_DELAY_MS,
  type Ingest,
  type IngestOptions,
} from '../../lib/cluster/ingest.js';
import { INGEST_APPEND_WINDOW, INGEST_BATCH_BYTES } from '../../lib/cluster/ingest-machine.js';
import { MemoryEventLog } from '../../lib/cluster/memory-event-log.js';
import { ErrorCode, MazeError, type Problem } from '../../lib/errors.js';
import { ingestMonitorSources } from '../../lib/monitor/cluster-sources.js';
import { collectProblems, useClosing } from '../helpers/closing.js';
import { take } from '../helpers/event-log-contract.js';
import {
  attachMemorySource,
  type MemorySource,
  sleep,
  useMemoryMazes,
  WAIT_MS,
  waitUntil,
  withTimeout,
} from '../helpers/sockets.js';
import { broadcasts, mulberry32, shuffle } from '../helpers/streams.js';

/** An ingest of the test, with the problems it reported. */
interface TestIngest {
  readonly ingest: Ingest;
  readonly problems: Problem[];
}

const track = useClosing();

async function newIngest(options: IngestOptions): Promise<TestIngest> {
  const ingest = track(await withTimeout(createIngest(options), WAIT_MS, 'createIngest'));
  return { ingest, problems: collectProblems(ingest) };
}

/** Every batch of `log`, from position 1, bounded. */
async function batchesOf(log: EventLog): Promise<LogBatch[]> {
  const tail = await log.tail();
  if (tail === undefined) return [];
  const reader = log.read(1);
  const batches = await withTimeout(take(reader, tail.position), WAIT_MS, 'the log');
  await reader.close();
  return batches;
}

/** The sequence number a line starts with. */
function sequenceOf(line: string): number {
  return Number(line.slice(0, line.indexOf('|')));
}

/** Holds and checks the order and numbering of what a log holds. */
function expectWellFormed(batches: readonly LogBatch[]): void {
  let previousLast = 0;
  for (const [index, batch] of batches.entries()) {
    expect(batch.position).toBe(index + 1);
    // The batches partition the numbers: each starts right after the one before it.
    if (index === 0) expect(batch.firstSequence).toBeGreaterThan(previousLast);
    else expect(batch.firstSequence).toBe(previousLast + 1);
    expect(sequenceOf(batch.lines[0] as string)).toBeGreaterThanOrEqual(batch.firstSequence);
    const numbers = batch.lines.map(sequenceOf);
    for (let at = 1; at < numbers.length; at++) {
      expect(numbers[at]).toBeGreaterThan(numbers[at - 1] as number);
    }
    expect(batch.lastSequence).toBeGreaterThanOrEqual(numbers.at(-1) as number);
    previousLast = batch.lastSequence;
  }
}

function linesOf(batches: readonly LogBatch[]): string[] {
  return batches.flatMap((batch) => batch.lines);
}

/** A valid event line padded with leading zeros to `length` bytes (terminator included). */
function padded(sequence: number, length: number): string {
  const body = `|S|${sequence % 97}\n`;
  return `${String(sequence).padStart(length - body.length, '0')}${body}`;
}

/** Lines of `count` padded events from `from`: 16 of 4,000 bytes fill one batch. */
function paddedRange(from: number, count: number, length = 4_000): string[] {
  return Array.from({ length: count }, (_, index) => padded(from + index, length));
}

/** What the log wrapper does with one append call. */
type Verdict = 'pass' | 'fail' | 'lost' | 'twice';

/**
 * A `MemoryEventLog` whose appends wait until the test releases them, in call order: each
 * released call passes to the log, fails without reaching it (`ERR_LOG_FAILED`), or reaches
 * it and then fails (an acknowledgement lost), or reaches it twice and answers the second, a
 * duplicate (a retry inside the log). With `held` false, calls pass at once. Its writer's
 * record is in, so appends go at the full window.
 */
class HeldLog implements EventLog {
  readonly inner = new MemoryEventLog();
  readonly #held: {
    readonly batch: EventBatch;
    readonly fence: LogFence;
    readonly settle: (verdict: Verdict) => void;
  }[] = [];
  calls = 0;
  tails = 0;

  constructor(
    public held = true,
    readonly verdictOf: (call: number) => Verdict = () => 'pass',
  ) {
    // As an ingest that ran before left it: a new log's first batch would go alone.
    this.inner.rewriteRecord({
      settings: { maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' },
      firstPosition: 1,
    });
  }

  get waiting(): number {
    return this.#held.length;
  }

  append(batch: EventBatch, fence: LogFence): Promise<AppendResult> {
    const call = this.calls++;
    return new Promise<AppendResult>((resolve, reject) => {
      const settle = (verdict: Verdict): void => {
        if (verdict === 'fail') {
          reject(new MazeError(ErrorCode.LogFailed, `append call ${call} failed (test)`));
          return;
        }
        this.inner.append(batch, fence).then(async (result) => {
          if (verdict === 'twice') resolve(await this.inner.append(batch, fence));
          else if (verdict === 'lost') {
            reject(new MazeError(ErrorCode.LogFailed, `append call ${call}: ack lost (test)`));
          } else resolve(result);
        }, reject);
      };
      if (this.held) this.#held.push({ batch, fence, settle });
      else settle(this.verdictOf(call));
    });
  }

  /** Releases the `count` oldest held calls, in order, each by `verdictOf`. */
  release(count = this.#held.length): void {
    const calls = this.calls - this.#held.length;
    for (const [index, { settle }] of this.#held.splice(0, count).entries()) {
      settle(this.verdictOf(calls + index));
    }
  }

  tail(): Promise<LogTail | LogForeign | undefined> {
    this.tails++;
    return this.inner.tail();
  }

  identity: EventLog['identity'] = () => this.inner.identity();
  recordSettings: EventLog['recordSettings'] = (settings, firstPosition) =>
    this.inner.recordSettings(settings, firstPosition);

  read(fromPosition: number, options?: ReadOptions): LogReader {
    return this.inner.read(fromPosition, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Writes `lines` to the source as one block. */
function write(source: MemorySource, lines: readonly string[]): void {
  source.peer.write(lines.join(''), 'latin1');
}

/**
 * Turns of the event loop until `condition` holds, at most `TURNS` of them: a wait that
 * needs no timer, for tests on a fake clock.
 */
async function turnsUntil(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < TURNS; turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    if (condition()) return;
  }
  throw new Error(`${what}: not within ${TURNS} turns of the event loop`);
}
const TURNS = 200;

/** Waits until the ingest has appended `events` events. */
function appended(ingest: Ingest, events: number): Promise<void> {
  return waitUntil(
    () => ingest.stats().eventsAppended >= events,
    `${events} events appended (${ingest.stats().eventsAppended} so far)`,
  );
}

const newMaze = useMemoryMazes();

describe('ingest: order and rules', () => {
  it('appends shuffled events in sequence order, lines exact (CRLF kept), in one batch per block', async () => {
    const log = new MemoryEventLog();
    const { ingest, problems } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = Array.from({ length: 200 }, (_, index) =>
      index % 3 === 0 ? `${index + 1}|F|${index}|${index + 7}\r\n` : `${index + 1}|B\n`,
    );
    write(source, shuffle(lines, mulberry32(7)));
    await appended(ingest, 200);
    const batches = await batchesOf(log);
    expectWellFormed(batches);
    expect(linesOf(batches)).toEqual(lines);
    expect(batches.at(-1)?.lastSequence).toBe(200);
    expect(problems).toEqual([]);
    expect(ingest.stats()).toMatchObject({
      eventsReceived: 200,
      eventsSequenced: 200,
      eventsAppended: 200,
      nextSequence: 201,
      appendsInFlight: 0,
      batchesUnacknowledged: 0,
    });
  });

  it('reports invalid bodies, stale, duplicate and bad numbers like serve, and appends none of them', async () => {
    const input = [
      '2|B\n',
      '1|X\n', // invalid body: consumes 1, not appended
      '3|F|1\n', // invalid body: consumes 3
      '2|B\n', // stale
      '5|B\r\n',
      '5|P|1|2\n', // duplicate (5 waits for 4)
      'x|B\n', // no sequence number
      '4|U|1|2\n',
      '6|S|9\n',
    ];
    const log = new MemoryEventLog();
    const { ingest, problems } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    write(source, input);
    await appended(ingest, 4);
    await source.end();
    const batches = await batchesOf(log);
    expect(linesOf(batches)).toEqual(['2|B\n', '4|U|1|2\n', '5|B\r\n', '6|S|9\n']);
    expectWellFormed(batches);
    expect(batches.at(-1)?.lastSequence).toBe(6);

    const { maze, problems: mazeProblems } = newMaze();
    const mazeSource = attachMemorySource(maze);
    write(mazeSource, input);
    await mazeSource.end();
    const summary = (list: readonly Problem[]): unknown[] =>
      list.map(({ code, context }) => ({
        code,
        sequence: context.sequence,
        line: context.lineNumber,
      }));
    expect(summary(problems)).toEqual(summary(mazeProblems));
    expect(problems.map((problem) => problem.code)).toEqual([
      ErrorCode.EventBadBody,
      ErrorCode.EventBadBody,
      ErrorCode.EventStale,
      ErrorCode.EventDuplicate,
      ErrorCode.EventBadSequence,
    ]);
    expect(ingest.stats()).toMatchObject({ eventsNoop: 2, eventsDiscarded: 3 });
  });

  it.each([
    ['the invalid line first', ['8|S|32|1\n', '8|S|2\n'], [ErrorCode.EventBadBody]],
    ['the valid line first', ['8|S|2\n', '8|S|32|1\n'], [ErrorCode.EventDuplicate]],
  ])(
    'appends a valid event that arrives while an invalid one holds its number (%s)',
    async (_, pair, codes) => {
      const log = new MemoryEventLog();
      const { ingest, problems } = await newIngest({ log });
      const source = attachMemorySource(ingest);
      const gap = ['1|F|5|2\n', '2|B\n', '3|B\n', '4|B\n', '5|B\n', '6|B\n', '7|B\n'];
      write(source, [...pair, ...[...gap].reverse()]);
      await appended(ingest, 8);
      await source.end();
      const batches = await batchesOf(log);
      expectWellFormed(batches);
      expect(linesOf(batches)).toEqual([...gap, '8|S|2\n']);
      expect(problems.map((problem) => problem.code)).toEqual(codes);
      expect(ingest.stats()).toMatchObject({ eventsNoop: 0, eventsDiscarded: 1, nextSequence: 9 });
    },
  );

  it('skips a gap when the reorder buffer overflows, reports it, and appends the rest in order', async () => {
    const log = new MemoryEventLog();
    const { ingest, problems } = await newIngest({ log, reorderCapacity: 4 });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n', '3|B\n', '4|B\n', '5|B\n', '6|B\n', '7|B\n']);
    await appended(ingest, 6 - 1);
    const batches = await batchesOf(log);
    expect(linesOf(batches)).toEqual(['1|B\n', '3|B\n', '4|B\n', '5|B\n', '6|B\n', '7|B\n']);
    expectWellFormed(batches);
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.SequenceGap,
        context: expect.objectContaining({
          missingFrom: 2,
          missingTo: 2,
          connection: source.connection,
        }),
      }),
    ]);
    expect(ingest.stats().sequencesSkipped).toBe(1);
  });

  it('takes one source at a time, as serve does', async () => {
    const { ingest, problems } = await newIngest({ log: new MemoryEventLog() });
    attachMemorySource(ingest);
    const second = attachMemorySource(ingest);
    expect(problems).toEqual([
      expect.objectContaining({
        code: ErrorCode.EventSourceBusy,
        context: { connection: second.connection },
      }),
    ]);
    expect(ingest.stats()).toMatchObject({ eventSourcesAccepted: 1, eventSourcesRefused: 1 });
  });
});

describe('ingest: the idle-holder rule', () => {
  it('counts only valid events as a source’s activity, as serve does', async () => {
    const { ingest, problems } = await newIngest({
      log: new MemoryEventLog(),
      sourceIdleTimeout: 100,
    });
    const holder = attachMemorySource(ingest);
    // Empty and invalid lines, each well within the timeout of the one before, for longer
    // than the timeout.
    for (const line of ['\n', 'x\n', '\r\n', '3|Q\n', '\n', '|B\n']) {
      holder.peer.write(line);
      await sleep(30);
    }
    const returning = attachMemorySource(ingest);
    expect(problems.map((problem) => problem.code)).toContain(ErrorCode.EventSourceIdle);
    returning.peer.write('1|B\n');
    await waitUntil(() => ingest.stats().eventsAppended === 1, 'event 1 appended');

    // A source of valid events keeps the slot, stale repeats included.
    for (const line of ['2|B\n', '1|B\n', '3|B\n', '1|B\n', '4|B\n', '2|B\n']) {
      returning.peer.write(line);
      await sleep(30);
    }
    const newcomer = attachMemorySource(ingest);
    expect(
      problems.filter((problem) => problem.context.connection === newcomer.connection),
    ).toEqual([expect.objectContaining({ code: ErrorCode.EventSourceBusy })]);
    expect(ingest.stats()).toMatchObject({ eventSourceTakeovers: 1, eventSourcesRefused: 1 });
  });
});

describe('ingest: batching', () => {
  it('puts many small events in few batches, none over the byte bound', async () => {
    const log = new MemoryEventLog();
    const { ingest } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = Array.from({ length: 20_000 }, (_, index) => `${index + 1}|S|${index % 500}\n`);
    const bytes = lines.join('').length;
    write(source, lines);
    await appended(ingest, lines.length);
    const batches = await batchesOf(log);
    expect(linesOf(batches)).toEqual(lines);
    expectWellFormed(batches);
    for (const batch of batches) {
      expect(batch.lines.join('').length).toBeLessThanOrEqual(INGEST_BATCH_BYTES);
    }
    // The bound, plus the batches the timer closed between input chunks.
    expect(batches.length).toBeLessThan(Math.ceil(bytes / INGEST_BATCH_BYTES) + 20);
    expect(ingest.stats().batchesAppended).toBe(batches.length);
  });

  it('closes a batch at the byte bound: 16 lines of 4,000 bytes fill one', async () => {
    const log = new MemoryEventLog();
    const { ingest } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = paddedRange(1, 48);
    write(source, lines);
    await appended(ingest, 48);
    const batches = await batchesOf(log);
    expect(linesOf(batches)).toEqual(lines);
    for (const batch of batches) {
      expect(batch.lines.join('').length).toBeLessThanOrEqual(INGEST_BATCH_BYTES);
    }
    expect(
      batches.map((batch) => batch.lines.length).filter((count) => count === 16).length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('appends a chunk at once when no append is in flight (a quiet source waits for nothing)', async () => {
    // The clock stands still: only turns of the event loop pass, no batch delay.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const log = new MemoryEventLog();
      const ingest = track(await createIngest({ log }));
      const source = attachMemorySource(ingest);
      write(source, ['1|B\n', '2|B\n', '3|B\n']);
      for (let turn = 0; turn < 50 && ingest.stats().eventsAppended < 3; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await batchesOf(log)).toEqual([
        { position: 1, firstSequence: 1, lastSequence: 3, lines: ['1|B\n', '2|B\n', '3|B\n'] },
      ]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('while an append is in flight, batches the next chunks until the delay', async () => {
    // The delay on a fake clock: however slow the machine, it ends only when the test says.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const log = new HeldLog();
      const ingest = track(await createIngest({ log }));
      const source = attachMemorySource(ingest);
      write(source, ['1|B\n']);
      await turnsUntil(() => log.waiting === 1, 'the first append in flight');
      write(source, ['2|B\n']);
      write(source, ['3|B\n']);
      await turnsUntil(() => ingest.stats().eventsReceived === 3, 'three lines read');
      // The timer fires inside advanceTimersByTime(), and an append starts at once.
      jest.advanceTimersByTime(INGEST_BATCH_DELAY_MS - 1);
      expect(log.waiting).toBe(1);
      jest.advanceTimersByTime(1);
      await turnsUntil(() => log.waiting === 2, 'the batch the delay closed');
      log.held = false;
      log.release();
      await turnsUntil(() => ingest.stats().eventsAppended === 3, '3 events appended');
      expect((await batchesOf(log.inner)).map((batch) => batch.lines)).toEqual([
        ['1|B\n'],
        ['2|B\n', '3|B\n'],
      ]);
      await source.end();
      await ingest.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('counts an invalid body after the last line in its batch', async () => {
    const log = new MemoryEventLog();
    const { ingest } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n', '2|Z\n']);
    await appended(ingest, 1);
    expect(await log.tail()).toMatchObject({ lastSequence: 2 });
  });
});

describe('ingest: resume', () => {
  it('continues at the tail + 1; a source resending old numbers sees them stale', async () => {
    const log = new MemoryEventLog();
    const first = await newIngest({ log });
    const source = attachMemorySource(first.ingest);
    write(source, ['1|B\n', '2|B\n', '3|B\n', '4|Z\n']);
    await appended(first.ingest, 3);
    await source.end();
    await first.ingest.close();

    const second = await newIngest({ log });
    expect(second.ingest.stats().nextSequence).toBe(5);
    const again = attachMemorySource(second.ingest);
    write(again, ['3|B\n', '4|B\n', '5|B\n', '6|B\n']);
    await appended(second.ingest, 2);
    expect(linesOf(await batchesOf(log))).toEqual(['1|B\n', '2|B\n', '3|B\n', '5|B\n', '6|B\n']);
    expect(second.problems.map((problem) => [problem.code, problem.context.sequence])).toEqual([
      [ErrorCode.EventStale, 3],
      [ErrorCode.EventStale, 4],
    ]);
  });

  it('refuses a log recorded with another startSequence or maxFollowEdges, naming both values', async () => {
    const log = new MemoryEventLog();
    const first = await newIngest({ log, startSequence: 7 });
    const source = attachMemorySource(first.ingest);
    write(source, ['7|B\n']);
    await appended(first.ingest, 1);
    await source.end();
    await first.ingest.close();

    await expect(createIngest({ log, startSequence: 1_000 })).rejects.toThrow(
      new MazeError(
        ErrorCode.LogConfig,
        'the event log was made with other settings: startSequence 7 (recorded by its writer), this ingest has 1000: give every process of the cluster the same startSequence',
      ),
    );
    await expect(createIngest({ log, startSequence: 7, maxFollowEdges: 10 })).rejects.toThrow(
      'maxFollowEdges 8388608 (recorded by its writer), this ingest has 10',
    );
    expect(await log.identity()).toMatchObject({
      settings: { maxFollowEdges: 8_388_608, startSequence: 7, delimiter: '|' },
    });
  });

  it('records its settings once its first batch is in the log, with its position', async () => {
    const log = new MemoryEventLog();
    log.publish('hello\n');
    const { ingest, problems } = await newIngest({ log, maxFollowEdges: 50 });
    expect((await log.identity()).settings).toBeUndefined();
    // Published after the ingest read the tail, before its first append: a forged start.
    log.publish(encodeBatch({ firstSequence: 1, lastSequence: 9_000_000_000, lines: ['1|B\n'] }));
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n']);
    await appended(ingest, 1);
    await source.end();
    // Closing waits for the record.
    await ingest.close();
    expect(await log.identity()).toMatchObject({
      settings: { maxFollowEdges: 50, startSequence: 1, delimiter: '|' },
      firstPosition: 3,
    });
    expect(await log.tail()).toEqual({ position: 3, firstSequence: 1, lastSequence: 1 });
    expect(problems.map((problem) => problem.code)).toEqual([
      ErrorCode.LogForeign,
      ErrorCode.LogFenced,
      ErrorCode.LogForeign,
    ]);
    await expect(createIngest({ log, maxFollowEdges: 60 })).rejects.toMatchObject({
      code: ErrorCode.LogConfig,
    });
    const again = await newIngest({ log, maxFollowEdges: 50 });
    expect(again.ingest.stats().nextSequence).toBe(2);
  });

  it('tries a failed record again, and stops when the record is not its own first batch', async () => {
    const log = new MemoryEventLog();
    let refusals = 1;
    const flaky: EventLog = {
      append: (batch, fence) => log.append(batch, fence),
      tail: () => log.tail(),
      identity: () => log.identity(),
      recordSettings: (settings, firstPosition) =>
        refusals-- > 0
          ? Promise.reject(new MazeError(ErrorCode.LogFailed, 'NATS went away'))
          : log.recordSettings(settings, firstPosition),
      read: (fromPosition, options) => log.read(fromPosition, options),
      close: () => log.close(),
    };
    const { ingest, problems } = await newIngest({ log: flaky });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n']);
    await appended(ingest, 1);
    await source.end();
    // Closing tries the record again: readers would wait at the batch without it.
    await ingest.close();
    expect(problems.map((problem) => problem.message)).toEqual([
      expect.stringMatching(/^cannot record the settings in the event log \(NATS went away\)/),
    ]);
    expect(await log.identity()).toMatchObject({
      settings: { startSequence: 1 },
      firstPosition: 1,
    });

    // Another writer's record, made first: this one is second, and stops.
    const shared = new MemoryEventLog();
    const second: EventLog = {
      ...flaky,
      append: (batch, fence) => shared.append(batch, fence),
      tail: () => shared.tail(),
      identity: () => shared.identity(),
      recordSettings: async (settings, firstPosition) => {
        await shared.recordSettings(settings, firstPosition + 1);
        return shared.recordSettings(settings, firstPosition);
      },
      read: (fromPosition, options) => shared.read(fromPosition, options),
    };
    const late = await newIngest({ log: second });
    write(attachMemorySource(late.ingest), ['1|B\n']);
    await waitUntil(() => late.ingest.stopped, 'the ingest stopped');
    expect(late.problems.map((problem) => [problem.code, problem.message])).toEqual([
      [
        ErrorCode.LogFenced,
        "another ingest recorded its first batch (position 2) as the start of the event log, not this one's (position 1); this ingest stops (0 event(s) not appended)",
      ],
    ]);
  });

  it('appends nothing after its first batch until its record lands, the source paused meanwhile', async () => {
    const log = new MemoryEventLog();
    let refusing = true;
    let refusals = 0;
    const refused: EventLog = {
      append: (batch, fence) => log.append(batch, fence),
      tail: () => log.tail(),
      identity: () => log.identity(),
      recordSettings: (settings, firstPosition) => {
        if (!refusing) return log.recordSettings(settings, firstPosition);
        refusals++;
        return Promise.reject(new MazeError(ErrorCode.LogFailed, 'permissions violation'));
      },
      read: (fromPosition, options) => log.read(fromPosition, options),
      close: () => log.close(),
    };
    const { ingest, problems } = await newIngest({ log: refused });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n']);
    await appended(ingest, 1);
    write(source, ['2|B\n', '3|B\n']);
    // Two refusals: the second comes a retry later, with the source's lines long written.
    await waitUntil(() => refusals >= 2, 'the record refused twice');
    expect(await log.tail()).toEqual({ position: 1, firstSequence: 1, lastSequence: 1 });
    // Paused: its lines stay unread in the source, not taken and held.
    expect(ingest.stats()).toMatchObject({ eventsAppended: 1, eventsReceived: 1 });
    expect(ingestMonitorSources(ingest).health()).toEqual({
      ready: false,
      reason:
        'recording its settings in the event log failed; its first batch (position 1) waits for them, and so does the event source',
    });
    expect(problems[0]?.message).toMatch(
      /^cannot record the settings in the event log \(permissions violation\): trying again within 1000 ms; until it lands, readers wait at its first batch \(position 1\) and the event source is paused$/,
    );
    refusing = false;
    await appended(ingest, 3);
    expect(ingestMonitorSources(ingest).health()).toEqual({ ready: true });
    await source.end();
    await ingest.close();
    expect(await log.identity()).toMatchObject({
      settings: { startSequence: 1 },
      firstPosition: 1,
    });
    expect(await log.tail()).toMatchObject({ lastSequence: 3 });
  });

  it('takes a record answered without settings as refused: retried, reported, nothing more appended', async () => {
    const log = new MemoryEventLog();
    let blank = true;
    let answers = 0;
    const blanked: EventLog = {
      append: (batch, fence) => log.append(batch, fence),
      tail: () => log.tail(),
      identity: () => log.identity(),
      // The record reset between its write and its re-read.
      recordSettings: (settings, firstPosition) => {
        answers++;
        return blank ? log.identity() : log.recordSettings(settings, firstPosition);
      },
      read: (fromPosition, options) => log.read(fromPosition, options),
      close: () => log.close(),
    };
    const { ingest, problems } = await newIngest({ log: blanked });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n']);
    await appended(ingest, 1);
    write(source, ['2|B\n', '3|B\n']);
    await waitUntil(() => answers >= 2, 'the record tried twice');
    expect(await log.tail()).toEqual({ position: 1, firstSequence: 1, lastSequence: 1 });
    expect(ingest.stats()).toMatchObject({ eventsAppended: 1, eventsReceived: 1 });
    expect(ingest.recordRefusedAt).toBe(1);
    expect(ingest.stopped).toBe(false);
    expect(problems[0]).toMatchObject({
      code: ErrorCode.LogFailed,
      message:
        'cannot record the settings in the event log (the log holds no record after it was written): trying again within 1000 ms; until it lands, readers wait at its first batch (position 1) and the event source is paused',
    });
    blank = false;
    await appended(ingest, 3);
    expect(ingest.recordRefusedAt).toBeUndefined();
    expect(await log.identity()).toMatchObject({
      settings: { startSequence: 1 },
      firstPosition: 1,
    });
    await source.end();
    await ingest.close();
    expect(await log.tail()).toMatchObject({ lastSequence: 3 });
  });

  it('says that a record refused while it closes is not tried again', async () => {
    const log = new MemoryEventLog();
    const refused: EventLog = {
      append: (batch, fence) => log.append(batch, fence),
      tail: () => log.tail(),
      identity: () => log.identity(),
      recordSettings: () => Promise.reject(new MazeError(ErrorCode.LogFailed, 'NATS went away')),
      read: (fromPosition, options) => log.read(fromPosition, options),
      close: () => log.close(),
    };
    // The source stays open, paused: close() gives up on it after shutdownTimeout.
    const { ingest, problems } = await newIngest({ log: refused, shutdownTimeout: 100 });
    write(attachMemorySource(ingest), ['1|B\n']);
    await appended(ingest, 1);
    await withTimeout(ingest.close(), WAIT_MS, 'close');
    expect(problems.at(-1)).toEqual({
      code: ErrorCode.LogFailed,
      message:
        'cannot record the settings in the event log (NATS went away): the ingest is closing and does not try again: the batch stays outside the log, its events lost as in a crash',
      context: {},
    });
    expect((await log.identity()).settings).toBeUndefined();
  });

  it('stops when the record it read changes or disappears under it', async () => {
    const settings = { maxFollowEdges: 2 ** 23, startSequence: 1, delimiter: '|' };
    for (const record of [{ settings, firstPosition: 2 }, undefined]) {
      const log = new MemoryEventLog();
      const { ingest, problems } = await newIngest({ log });
      const source = attachMemorySource(ingest);
      write(source, ['1|B\n']);
      await appended(ingest, 1);
      // The second batch goes only once the record landed.
      write(source, ['2|B\n']);
      await appended(ingest, 2);
      log.rewriteRecord(record);
      await waitUntil(() => ingest.stopped, 'the ingest stopped');
      expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.LogConfig]);
      expect(problems[0]?.message).toContain(
        `it was {"maxFollowEdges":8388608,"startSequence":1,"delimiter":"|","firstPosition":1}, it is ${record === undefined ? 'none' : '{"maxFollowEdges":8388608,"startSequence":1,"delimiter":"|","firstPosition":2}'}`,
      );
      // Not another ingest: /healthz says what stopped it.
      expect(ingestMonitorSources(ingest).health()).toEqual({
        ready: false,
        reason: `the ingest stopped (ERR_LOG_CONFIG): ${problems[0]?.message}`,
      });
    }
  });

  it('starts a fresh log at startSequence', async () => {
    const log = new MemoryEventLog();
    const { ingest } = await newIngest({ log, startSequence: 100 });
    const source = attachMemorySource(ingest);
    write(source, ['100|B\n']);
    await appended(ingest, 1);
    expect(await log.tail()).toEqual({ position: 1, firstSequence: 100, lastSequence: 100 });
  });

  it('rejects a log whose tail cannot be read, and a bad option', async () => {
    const log = new MemoryEventLog();
    await log.close();
    await expect(createIngest({ log })).rejects.toMatchObject({ code: ErrorCode.InvalidState });
    await expect(
      createIngest({ log: new MemoryEventLog(), reorderCapacity: 0 }),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidOption });
  });
});

describe('ingest: the append window', () => {
  it('pauses the source while the window is full and resumes when it has room', async () => {
    const log = new HeldLog();
    const { ingest } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = paddedRange(1, 16 * (INGEST_APPEND_WINDOW + 6));
    write(source, lines);
    await waitUntil(() => ingest.stats().appendsInFlight === INGEST_APPEND_WINDOW, 'a full window');
    const received = ingest.stats().eventsReceived;
    await sleep(30);
    expect(ingest.stats().eventsReceived).toBe(received);
    expect(received).toBeLessThan(lines.length);
    expect(ingest.stats().appendsInFlight).toBe(INGEST_APPEND_WINDOW);
    expect(log.waiting).toBe(INGEST_APPEND_WINDOW);
    // Room in the window (a batch closed meanwhile may take the first): the source is read again.
    log.release(2);
    await waitUntil(() => ingest.stats().eventsReceived > received, 'the source read again');
    log.held = false;
    log.release();
    await appended(ingest, lines.length);
    const batches = await batchesOf(log.inner);
    expect(linesOf(batches)).toEqual(lines);
    expectWellFormed(batches);
  });
});

describe('ingest: append errors', () => {
  it('drains the window after a failed append, re-reads the tail and re-appends in order', async () => {
    const log = new HeldLog(true, (call) => (call === 3 ? 'fail' : 'pass'));
    const { ingest, problems } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = paddedRange(1, 16 * 12);
    write(source, lines);
    await waitUntil(() => log.waiting === INGEST_APPEND_WINDOW, 'a full window');
    const tailsBefore = log.tails;
    log.held = false;
    log.release();
    await appended(ingest, lines.length);
    const batches = await batchesOf(log.inner);
    expect(linesOf(batches)).toEqual(lines);
    expectWellFormed(batches);
    expect(log.tails).toBe(tailsBefore + 1);
    expect(ingest.stats()).toMatchObject({
      appendErrors: 1,
      batchesAppended: batches.length,
      batchesUnacknowledged: 0,
    });
    // Calls 3..7 of the first window were refused (the failed one, then fenced): 5 again.
    expect(ingest.stats().appendRetries).toBe(INGEST_APPEND_WINDOW - 3);
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.LogFailed]);
  });

  it('does not append again a batch whose acknowledgement was lost', async () => {
    const log = new HeldLog(true, (call) => (call === 2 ? 'lost' : 'pass'));
    const { ingest } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = paddedRange(1, 16 * 10);
    write(source, lines);
    await waitUntil(() => log.waiting === INGEST_APPEND_WINDOW, 'a full window');
    log.held = false;
    log.release();
    await appended(ingest, lines.length);
    const batches = await batchesOf(log.inner);
    expect(linesOf(batches)).toEqual(lines);
    expectWellFormed(batches);
    expect(ingest.stats()).toMatchObject({
      appendErrors: 1,
      // Calls 3..7 passed their fences: the lost one is in the log, read back and not sent again.
      appendRetries: 0,
      eventsAppended: lines.length,
      batchesAppended: batches.length,
    });
  });

  it('goes on after a duplicate answer once the batch read back is its own', async () => {
    const log = new HeldLog(false, (call) => (call === 1 ? 'twice' : 'pass'));
    const { ingest, problems } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = paddedRange(1, 16 * 4);
    write(source, lines);
    await appended(ingest, lines.length);
    expect(linesOf(await batchesOf(log.inner))).toEqual(lines);
    expect(ingest.stats()).toMatchObject({ appendErrors: 1, stopped: false });
    expect(problems.map((problem) => problem.code)).toEqual([ErrorCode.LogFenced]);
  });

  it('retries a failing log until it answers', async () => {
    let failing = 3;
    const log = new HeldLog(false, () => (failing-- > 0 ? 'fail' : 'pass'));
    const { ingest } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n']);
    await sleep(INGEST_BATCH_DELAY_MS + 5);
    write(source, ['2|B\n']);
    await sleep(INGEST_BATCH_DELAY_MS + 5);
    write(source, ['3|B\n']);
    await appended(ingest, 3);
    expect(linesOf(await batchesOf(log.inner))).toEqual(['1|B\n', '2|B\n', '3|B\n']);
  });

  it('stops when another writer appended: reported, source closed, the log never interleaved', async () => {
    const log = new HeldLog();
    const { ingest, problems } = await newIngest({ log });
    const stopped = new Promise<Problem>((resolve) => ingest.once('stopped', resolve));
    const source = attachMemorySource(ingest);
    const ended = new Promise<void>((resolve) => source.peer.once('end', resolve));
    const lines = paddedRange(1, 16 * 10);
    write(source, lines);
    await waitUntil(() => log.waiting === INGEST_APPEND_WINDOW, 'a full window');
    log.release(2);
    await appended(ingest, 32);
    // Another ingest's batch: it continues the log (a forged one would be skipped).
    const foreign: EventBatch = { firstSequence: 33, lastSequence: 33, lines: ['33|S|1\n'] };
    await log.inner.append(foreign, { position: 2 });
    log.held = false;
    log.release();
    const problem = await withTimeout(stopped, WAIT_MS, 'the ingest to stop');
    expect(problem.code).toBe(ErrorCode.LogFenced);
    await withTimeout(ended, WAIT_MS, 'the source to be closed');
    expect(problems.at(-1)).toMatchObject({
      code: ErrorCode.LogFenced,
      message: expect.stringContaining('another ingest appended'),
    });
    const batches = await batchesOf(log.inner);
    expect(batches.map((batch) => batch.firstSequence)).toEqual([1, 17, 33]);
    expect(ingest.stats()).toMatchObject({ stopped: true, batchesUnacknowledged: 0 });
    expect(ingestMonitorSources(ingest).health()).toEqual({
      ready: false,
      reason: `the ingest stopped (ERR_LOG_FENCED): ${problem.message}`,
    });
    expect(() => attachMemorySource(ingest)).toThrow(
      expect.objectContaining({
        code: ErrorCode.InvalidState,
        message: `the ingest stopped: ${problem.message}`,
      }),
    );
    await sleep(INGEST_BATCH_DELAY_MS * 4);
    expect((await log.inner.tail())?.position).toBe(3);
  });

  it('two ingests on one log: the one refused first stops, the log holds one writer after the other', async () => {
    const log = new MemoryEventLog();
    const old = await newIngest({ log });
    const newer = await newIngest({ log });
    const oldSource = attachMemorySource(old.ingest);
    write(oldSource, ['1|B\n']);
    await appended(old.ingest, 1);
    // The newer one read an empty log: its first append is fenced, and the tail is not its own.
    const newerSource = attachMemorySource(newer.ingest);
    write(newerSource, ['1|S|5\n']);
    await waitUntil(() => newer.ingest.stopped, 'the newer ingest to stop');
    write(oldSource, ['2|B\n']);
    await appended(old.ingest, 2);
    expect(linesOf(await batchesOf(log))).toEqual(['1|B\n', '2|B\n']);
  });
});

describe('ingest: a log deleted and created again', () => {
  it('stops the ingest at its next recovery (ERR_LOG_REPLACED), appending nothing to the new log', async () => {
    const log = track(new MemoryEventLog());
    const { ingest, problems } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    write(source, paddedRange(1, 3, 10));
    await appended(ingest, 3);
    log.replace();
    write(source, paddedRange(4, 3, 10));
    await waitUntil(() => ingest.stopped, 'the ingest stopped');
    expect(problems.map((problem) => problem.code)).toEqual([
      ErrorCode.LogFenced,
      ErrorCode.LogReplaced,
    ]);
    expect(problems[1]?.message).toMatch(/deleted and created again.*this ingest stops/);
    expect(await log.tail()).toBeUndefined();
  });

  it('stops an idle ingest too, without an event to append', async () => {
    const log = track(new MemoryEventLog());
    const { ingest, problems } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    write(source, paddedRange(1, 3, 10));
    await appended(ingest, 3);
    const stopped = new Promise<Problem>((resolve) => ingest.once('stopped', resolve));
    log.replace();
    const problem = await withTimeout(stopped, WAIT_MS, 'the idle ingest stopped');
    expect(problem.code).toBe(ErrorCode.LogReplaced);
    expect(problems.map((reported) => reported.code)).toEqual([ErrorCode.LogReplaced]);
    expect(ingest.closed).toBe(true);
  });
});

describe('ingest: close', () => {
  it('appends what is sequenced, leaves no timer, and refuses sources afterwards', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const log = new MemoryEventLog();
      const ingest = await createIngest({ log });
      const source = attachMemorySource(ingest);
      write(source, ['1|B\n', '2|B\n', '4|B\n']);
      source.peer.end();
      // Fake timers stop waitUntil(): turns of the event loop instead, a bounded number.
      for (let turn = 0; turn < 50 && ingest.stats().eventsReceived < 3; turn++) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(ingest.stats().eventsReceived).toBe(3);
      // 1 and 2 went at the end of their chunk (nothing in flight); 4 waits for 3. The one
      // timer left reads the log's epoch.
      expect(jest.getTimerCount()).toBe(1);
      await ingest.close();
      expect(jest.getTimerCount()).toBe(0);
      expect(linesOf(await batchesOf(log))).toEqual(['1|B\n', '2|B\n']);
      expect(() => ingest.attachEventSource(source.peer)).toThrow(MazeError);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reads an open source to its end before it closes, and appends all of it', async () => {
    const log = new MemoryEventLog();
    const { ingest, problems } = await newIngest({ log });
    const source = attachMemorySource(ingest);
    const lines = broadcasts(2_000);
    write(source, lines.slice(0, 1_000));
    const closed = ingest.close();
    expect(() => attachMemorySource(ingest)).toThrow(MazeError);
    // Still read after close(): everything the source sends until it ends is appended.
    await sleep(20);
    source.peer.end(lines.slice(1_000).join(''));
    await withTimeout(closed, WAIT_MS, 'close');
    expect(linesOf(await batchesOf(log))).toEqual(lines);
    expect(problems).toEqual([]);
  });

  it('stops reading a source that never ends after shutdownTimeout, and reports what it drops', async () => {
    const log = new MemoryEventLog();
    const { ingest, problems } = await newIngest({ log, shutdownTimeout: 100 });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n', '3|B\n', '4|B']);
    await waitUntil(() => ingest.stats().eventsReceived === 2, 'two lines');
    await withTimeout(ingest.close(), WAIT_MS, 'close');
    expect(linesOf(await batchesOf(log))).toEqual(['1|B\n']);
    expect(problems).toEqual([
      {
        code: ErrorCode.ShutdownUndrained,
        message:
          'shut down with input not drained: the event source was still open after 100 ms (what it had not sent yet is lost), 3 byte(s) read but not applied; 1 event(s) still waiting for sequence number 2; dropped',
        context: { connection: source.connection, lineNumber: 2, sequence: 2 },
      },
    ]);
  });

  it('records nothing after close() returned, even when its first append is acknowledged late', async () => {
    const log = new HeldLog();
    // A new log: the first batch is the writer's start, recorded once it is in.
    log.inner.rewriteRecord(undefined);
    let recorded = 0;
    log.recordSettings = (settings, firstPosition) => {
      recorded++;
      return log.inner.recordSettings(settings, firstPosition);
    };
    const { ingest } = await newIngest({ log, shutdownTimeout: 50 });
    write(attachMemorySource(ingest), ['1|B\n']);
    await waitUntil(() => log.waiting === 1, 'the first append in flight');
    await withTimeout(ingest.close(), WAIT_MS, 'close');
    log.release();
    await waitUntil(() => log.inner.firstPosition === 1 && log.waiting === 0, 'the late ack');
    await waitUntil(() => ingest.stats().batchesAppended === 1, 'the late ack taken');
    // The batch stays outside the log, as after a crash: the next ingest starts after it.
    expect(recorded).toBe(0);
    expect((await log.inner.identity()).settings).toBeUndefined();
  });

  it('gives up on a log that never answers after shutdownTimeout, and says so', async () => {
    const log = new HeldLog();
    const { ingest, problems } = await newIngest({ log, shutdownTimeout: 50 });
    const source = attachMemorySource(ingest);
    write(source, ['1|B\n']);
    await waitUntil(() => log.waiting === 1, 'an append in flight');
    const started = performance.now();
    await withTimeout(ingest.close(), WAIT_MS, 'close');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(problems.at(-1)).toMatchObject({ code: ErrorCode.LogFailed });
    log.release();
  });
});

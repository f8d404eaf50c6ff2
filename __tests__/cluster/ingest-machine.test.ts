/**
 * The ingest's state machine (lib/cluster/ingest-machine.ts) driven by hand, without a log,
 * timers or NATS: batching, the append window and its fences, recovery by read-back, the
 * refusal of a second writer and shutdown. A property test drives it against a small fenced
 * log that loses, refuses and deduplicates appends at random.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { AppendResult, EventBatch, LogFence, LogTail } from '../../lib/cluster/event-log.js';
import {
  type AppendAction,
  type IngestAction,
  IngestMachine,
  type IngestMachineSetup,
} from '../../lib/cluster/ingest-machine.js';
import type { SequenceSlot } from '../../lib/core/event-sequencer.js';
import { parseEvent } from '../../lib/core/parser.js';
import { ErrorCode, MazeError } from '../../lib/errors.js';

/** A valid event line `N|B` (4 bytes and more), or an invalid body when `valid` is false. */
function slot(sequence: number, valid = true): SequenceSlot {
  return parseEvent(valid ? `${sequence}|B\n` : `${sequence}|Z\n`) as SequenceSlot;
}

function actionsOf(machine: IngestMachine): IngestAction[] {
  const actions: IngestAction[] = [];
  for (let action = machine.nextAction(); action !== undefined; action = machine.nextAction()) {
    actions.push(action);
  }
  return actions;
}

function typesOf(actions: readonly IngestAction[]): string[] {
  return actions.map((action) => action.type);
}

function appendsOf(actions: readonly IngestAction[]): AppendAction[] {
  return actions.filter((action): action is AppendAction => action.type === 'append');
}

function newMachine(setup: Partial<IngestMachineSetup> = {}): IngestMachine {
  return new IngestMachine({ tail: undefined, startSequence: 1, ...setup });
}

const ok = (position: number): AppendResult => ({ position, duplicate: false });

describe('IngestMachine on a log whose start is not recorded yet', () => {
  it('sends the first batch alone, then nothing until logRecorded(), the input paused meanwhile', () => {
    // Each 4-byte line fills a batch of its own.
    const machine = newMachine({ logStarted: false, batchBytes: 4 });
    machine.take(slot(1));
    const first = actionsOf(machine);
    expect(typesOf(first)).toEqual(['startBatchTimer', 'clearBatchTimer', 'append', 'pauseInput']);
    machine.take(slot(2));
    machine.take(slot(3));
    expect(appendsOf(actionsOf(machine))).toEqual([]);
    machine.appended(appendsOf(first)[0] as AppendAction, ok(1));
    expect(machine.firstAppended).toBe(1);
    // Its first batch is in: the rest waits for the record, the input still paused.
    expect(typesOf(actionsOf(machine))).toEqual([]);
    machine.logRecorded();
    const after = actionsOf(machine);
    expect(appendsOf(after).map((append) => append.batch.firstSequence)).toEqual([2, 3]);
    expect(typesOf(after)).toEqual(['append', 'append', 'resumeInput']);
  });
});

describe('IngestMachine: a recovery that finds the log is not its own any more', () => {
  it.each([
    ['a record changed under it', ErrorCode.LogConfig],
    ['a log created again', ErrorCode.LogReplaced],
  ])('stops on %s instead of trying again', (_, code) => {
    const machine = newMachine();
    machine.take(slot(1));
    machine.endOfChunk();
    const append = appendsOf(actionsOf(machine))[0] as AppendAction;
    machine.appendFailed(new MazeError(ErrorCode.LogFenced, 'fenced (test)'));
    expect(typesOf(actionsOf(machine))).toContain('readTail');
    machine.recoveryFailed(new MazeError(code, 'not the log it started on (test)'));
    const stop = actionsOf(machine).find((action) => action.type === 'stop');
    expect(stop).toMatchObject({
      problem: {
        code,
        message: 'not the log it started on (test); this ingest stops (1 event(s) not appended)',
      },
    });
    expect(machine.stopped).toBe(true);
    expect(append.batch.firstSequence).toBe(1);
  });
});

describe('IngestMachine batching', () => {
  it('collects lines in one batch and sends it at the end of a chunk when nothing is in flight', () => {
    const machine = newMachine();
    machine.take(slot(1));
    expect(typesOf(actionsOf(machine))).toEqual(['startBatchTimer']);
    // Taking a line that closes no batch asks for nothing.
    machine.take(slot(2));
    expect(machine.nextAction()).toBeUndefined();
    machine.endOfChunk();
    const actions = actionsOf(machine);
    expect(typesOf(actions)).toEqual(['clearBatchTimer', 'append']);
    expect(appendsOf(actions)[0]).toEqual({
      type: 'append',
      batch: { firstSequence: 1, lastSequence: 2, lines: ['1|B\n', '2|B\n'] },
      fence: { position: 0 },
    });
  });

  it.each([
    ['records another delimiter in every batch', ';', { delimiter: ';' }],
    ['records nothing for `|`, as before the option', '|', {}],
  ])('%s', (_, delimiter, recorded) => {
    const machine = newMachine({ delimiter });
    machine.take(parseEvent(`1${delimiter}B\n`, delimiter) as SequenceSlot);
    machine.endOfChunk();
    expect(appendsOf(actionsOf(machine))[0]?.batch).toEqual({
      firstSequence: 1,
      lastSequence: 1,
      lines: [`1${delimiter}B\n`],
      ...recorded,
    });
  });

  it('waits for the timer or the bytes while an append is in flight', () => {
    const machine = newMachine({ batchBytes: 12 });
    machine.take(slot(1));
    machine.endOfChunk();
    actionsOf(machine);
    machine.take(slot(2));
    machine.endOfChunk();
    expect(typesOf(actionsOf(machine))).toEqual(['startBatchTimer']);
    machine.batchTimerFired();
    const [timed] = appendsOf(actionsOf(machine));
    expect(timed?.batch.lines).toEqual(['2|B\n']);
    expect(timed?.fence).toEqual({ position: 1, firstSequence: 1, lastSequence: 1 });
    // 4 + 4 + 4 bytes reach the bound: the batch closes at once; it never goes over it.
    machine.take(slot(3));
    machine.take(slot(4));
    machine.take(slot(5));
    expect(appendsOf(actionsOf(machine)).map((append) => append.batch.lines.length)).toEqual([3]);
    machine.take(slot(6));
    machine.take(slot(7));
    machine.take(slot(8));
    machine.take(slot(9));
    expect(appendsOf(actionsOf(machine)).map((append) => append.batch.lastSequence)).toEqual([8]);
  });

  it("puts numbers consumed after a batch's last line in it, and those before its first too", () => {
    const machine = newMachine();
    machine.take(slot(1, false));
    machine.take(slot(2));
    machine.take(slot(3, false));
    machine.endOfChunk();
    const [append] = appendsOf(actionsOf(machine));
    expect(append?.batch).toEqual({ firstSequence: 1, lastSequence: 3, lines: ['2|B\n'] });
    expect(machine.stats()).toMatchObject({ eventsSequenced: 1, eventsNoop: 2 });
  });

  it('resumes after the tail of a log that holds batches', () => {
    const tail: LogTail = { position: 7, firstSequence: 90, lastSequence: 99 };
    const machine = newMachine({ tail, startSequence: 5 });
    expect(machine.resumeSequence).toBe(100);
    machine.take(slot(100));
    machine.endOfChunk();
    expect(appendsOf(actionsOf(machine))[0]?.fence).toEqual({ position: 7 });
  });
});

describe('IngestMachine append window', () => {
  it('pipelines appends with fences, pauses the input while full, and confirms in order', () => {
    const machine = newMachine({ appendWindow: 2 });
    const appends: AppendAction[] = [];
    for (const sequence of [1, 2, 3]) {
      machine.take(slot(sequence));
      machine.endOfChunk();
      machine.batchTimerFired();
      appends.push(...appendsOf(actionsOf(machine)));
    }
    // Only two go out; the second fills the window.
    expect(appends.map((append) => append.fence)).toEqual([
      { position: 0 },
      { position: 1, firstSequence: 1, lastSequence: 1 },
    ]);
    expect(machine.stats()).toMatchObject({ appendsInFlight: 2, batchesUnacknowledged: 3 });
    // Out of order: the second's ack confirms nothing until the first's comes.
    machine.appended(appends[1] as AppendAction, ok(2));
    const afterSecond = actionsOf(machine);
    expect(typesOf(afterSecond)).toEqual(['append']);
    expect(appendsOf(afterSecond)[0]?.fence).toEqual({
      position: 2,
      firstSequence: 2,
      lastSequence: 2,
    });
    expect(machine.stats().batchesAppended).toBe(0);
    machine.appended(appends[0] as AppendAction, ok(1));
    expect(typesOf(actionsOf(machine))).toEqual(['resumeInput']);
    expect(machine.stats()).toMatchObject({ batchesAppended: 2, eventsAppended: 2 });
  });

  it('pauses the input when the window fills', () => {
    const machine = newMachine({ appendWindow: 1 });
    machine.take(slot(1));
    machine.endOfChunk();
    expect(typesOf(actionsOf(machine))).toEqual([
      'startBatchTimer',
      'clearBatchTimer',
      'append',
      'pauseInput',
    ]);
  });
});

/** A machine with two batches in flight (positions 1 and 2 expected), on an empty log. */
function twoInFlight(): { machine: IngestMachine; first: AppendAction; second: AppendAction } {
  const machine = newMachine();
  machine.take(slot(1));
  machine.endOfChunk();
  machine.take(slot(2));
  machine.batchTimerFired();
  const [first, second] = appendsOf(actionsOf(machine));
  if (first === undefined || second === undefined) throw new Error('expected two appends');
  return { machine, first, second };
}

describe('IngestMachine recovery', () => {
  it('waits for the appends in flight, reads the tail, reads back what landed and appends the rest', () => {
    const { machine, first, second } = twoInFlight();
    machine.appendFailed(new MazeError(ErrorCode.LogFailed, 'lost'));
    const failed = actionsOf(machine);
    expect(typesOf(failed)).toEqual(['report', 'pauseInput']);
    expect(failed[0]).toMatchObject({ problem: { code: ErrorCode.LogFailed } });
    expect(machine.recovering).toBe(true);
    // The second append is refused by its fence: still nothing to do until both settled.
    machine.appendFailed(new MazeError(ErrorCode.LogFenced, 'fenced'));
    expect(typesOf(actionsOf(machine))).toEqual(['readTail']);
    // The first landed (its ack was lost): position 1 holds batch 1.
    machine.tailRead({ position: 1, firstSequence: 1, lastSequence: 1 });
    expect(actionsOf(machine)).toEqual([{ type: 'readBack', fromPosition: 1 }]);
    expect(machine.readBack(first.batch)).toBe(false);
    machine.readBackDone();
    const resumed = actionsOf(machine);
    expect(typesOf(resumed)).toEqual(['append', 'resumeInput']);
    expect(appendsOf(resumed)[0]).toEqual({ ...second, fence: { position: 1 } });
    expect(machine.stats()).toMatchObject({
      batchesAppended: 1,
      appendErrors: 1,
      appendRetries: 1,
    });
    expect(machine.recovering).toBe(false);
  });

  it('treats a duplicate answer as a failure, and does not append again what the log holds', () => {
    const machine = newMachine();
    machine.take(slot(1));
    machine.endOfChunk();
    const [append] = appendsOf(actionsOf(machine));
    machine.appended(append as AppendAction, { position: 1, duplicate: true });
    const actions = actionsOf(machine);
    expect(typesOf(actions)).toEqual(['report', 'pauseInput', 'readTail']);
    expect(actions[0]).toMatchObject({ problem: { code: ErrorCode.LogFenced } });
    machine.tailRead({ position: 1, firstSequence: 1, lastSequence: 1 });
    actionsOf(machine);
    expect(machine.readBack((append as AppendAction).batch)).toBe(false);
    machine.readBackDone();
    expect(typesOf(actionsOf(machine))).toEqual(['resumeInput']);
    expect(machine.stats()).toMatchObject({ batchesAppended: 1, batchesUnacknowledged: 0 });
    expect(machine.fence).toEqual({ position: 1 });
  });

  it('gives each batch its own id, kept on a retry, and a new one when someone else took it', () => {
    let ids = 0;
    const machine = newMachine({ newMessageId: () => `n${++ids}` });
    machine.take(slot(1));
    machine.endOfChunk();
    const [first] = appendsOf(actionsOf(machine)) as AppendAction[];
    expect(first?.batch.messageId).toBe('seq-1-1-n1');
    machine.appended(first as AppendAction, ok(1));
    machine.take(slot(2));
    machine.endOfChunk();
    const [second] = appendsOf(actionsOf(machine)) as AppendAction[];
    expect(second).toMatchObject({
      batch: { messageId: 'seq-2-2-n2' },
      fence: { position: 1, messageId: 'seq-1-1-n1' },
    });
    // Lost: sent again under the same id, so the log would dedupe it.
    machine.appendFailed(new MazeError(ErrorCode.LogFailed, 'ack lost'));
    actionsOf(machine);
    machine.tailRead({ position: 1, firstSequence: 1, lastSequence: 1 });
    const [again] = appendsOf(actionsOf(machine)) as AppendAction[];
    expect(again?.batch.messageId).toBe('seq-2-2-n2');
    // Answered as a duplicate of a message this machine did not write (a stray under its
    // id, at position 2): skipped, and the batch goes again under a new id, not stalled.
    machine.appended(again as AppendAction, { position: 2, duplicate: true });
    actionsOf(machine);
    machine.tailRead({ position: 2, foreign: 'not a follower-maze batch' });
    actionsOf(machine);
    expect(machine.readBack({ position: 2, foreign: 'not a follower-maze batch' })).toBe(false);
    machine.readBackDone();
    const actions = actionsOf(machine);
    expect(actions[0]).toMatchObject({ type: 'report', problem: { code: ErrorCode.LogForeign } });
    const [renewed] = appendsOf(actions) as AppendAction[];
    expect(renewed).toMatchObject({
      batch: { firstSequence: 2, lastSequence: 2, messageId: 'seq-2-2-n3' },
      fence: { position: 2 },
    });
    machine.appended(renewed as AppendAction, ok(3));
    expect(machine.stats()).toMatchObject({ batchesAppended: 2, foreignSkipped: 1 });
  });

  it('waits for the retry timer before a recovery that follows another, or after a failed read', () => {
    const machine = newMachine();
    machine.take(slot(1));
    machine.endOfChunk();
    machine.appendFailed(new Error('no answer'));
    expect(typesOf(actionsOf(machine))).toContain('readTail');
    machine.tailRead(undefined);
    const [again] = appendsOf(actionsOf(machine));
    machine.appendFailed(new Error('no answer again'));
    expect(typesOf(actionsOf(machine))).toEqual(['report', 'pauseInput', 'startRetryTimer']);
    machine.retryTimerFired();
    expect(typesOf(actionsOf(machine))).toEqual(['readTail']);
    machine.recoveryFailed();
    expect(typesOf(actionsOf(machine))).toEqual(['startRetryTimer']);
    machine.retryTimerFired();
    machine.tailRead(undefined);
    expect(appendsOf(actionsOf(machine))[0]?.batch).toEqual(again?.batch);
    expect(machine.stats().appendRetries).toBe(2);
  });
});

describe('IngestMachine foreign messages', () => {
  it('skips what it did not write among its batches, reports it once and appends after it', () => {
    const { machine, first, second } = twoInFlight();
    machine.appendFailed(new MazeError(ErrorCode.LogFenced, 'fenced'));
    machine.appendFailed(new MazeError(ErrorCode.LogFenced, 'fenced'));
    actionsOf(machine);
    // The first batch landed; then a stray publish and a forged batch took positions 2 and 3.
    machine.tailRead({ position: 3, firstSequence: 9_000_000_000, lastSequence: 9_000_000_000 });
    expect(actionsOf(machine)).toEqual([{ type: 'readBack', fromPosition: 1 }]);
    expect(machine.readBack(first.batch)).toBe(true);
    expect(machine.readBack({ position: 2, foreign: 'not a follower-maze batch' })).toBe(true);
    const forged = { firstSequence: 9_000_000_000, lastSequence: 9_000_000_000, lines: ['1|B\n'] };
    expect(machine.readBack(forged)).toBe(false);
    machine.readBackDone();
    const actions = actionsOf(machine);
    expect(actions[0]).toEqual({
      type: 'report',
      problem: {
        code: ErrorCode.LogForeign,
        message:
          'the event log holds 2 message(s) this ingest did not write between positions 1 and 3 (not a batch, or a batch that does not continue the log): skipped; appending after position 3',
        context: {},
      },
    });
    expect(appendsOf(actions)).toEqual([
      { type: 'append', batch: second.batch, fence: { position: 3 } },
    ]);
    expect(machine.stats()).toMatchObject({ foreignSkipped: 2, appendRetries: 1 });
    expect(machine.stopped).toBe(false);
  });

  it('starts after the last batch that continues the log, fenced on its last message', () => {
    const machine = newMachine({
      tail: { position: 4, firstSequence: 31, lastSequence: 40 },
      endPosition: 6,
      foreign: 2,
    });
    expect(machine.resumeSequence).toBe(41);
    expect(actionsOf(machine)).toEqual([
      {
        type: 'report',
        problem: expect.objectContaining({
          code: ErrorCode.LogForeign,
          message: expect.stringContaining(
            '2 message(s) this ingest did not write between positions 5 and 6',
          ),
        }),
      },
    ]);
    machine.take(slot(42));
    machine.endOfChunk();
    expect(appendsOf(actionsOf(machine))).toEqual([
      {
        type: 'append',
        batch: { firstSequence: 41, lastSequence: 42, lines: ['42|B\n'] },
        fence: { position: 6 },
      },
    ]);
  });
});

describe('IngestMachine second writer', () => {
  it('stops when the tail is not one it can account for', () => {
    const { machine } = twoInFlight();
    machine.appendFailed(new MazeError(ErrorCode.LogFenced, 'fenced'));
    machine.appendFailed(new MazeError(ErrorCode.LogFenced, 'fenced'));
    actionsOf(machine);
    machine.tailRead({ position: 3, firstSequence: 1, lastSequence: 9 });
    expect(actionsOf(machine)).toEqual([{ type: 'readBack', fromPosition: 1 }]);
    // The batch that continues the log is another writer's, not one of its own.
    expect(machine.readBack({ firstSequence: 1, lastSequence: 9, lines: ['9|B\n'] })).toBe(false);
    machine.readBackDone();
    const actions = actionsOf(machine);
    expect(actions).toEqual([
      {
        type: 'stop',
        problem: expect.objectContaining({
          code: ErrorCode.LogFenced,
          message: expect.stringMatching(
            /^another writer has the event log.*\(2 event\(s\) not appended\)$/,
          ),
          context: { sequence: 9 },
        }),
      },
    ]);
    expect(machine.stopped).toBe(true);
    // Never appends again.
    machine.take(slot(3));
    machine.endOfChunk();
    expect(actionsOf(machine)).toEqual([]);
    expect(machine.stats().batchesUnacknowledged).toBe(0);
  });

  it('stops when a batch read back differs from its own with the same numbers', () => {
    const { machine, first } = twoInFlight();
    machine.appendFailed(new Error('lost'));
    machine.appendFailed(new Error('lost'));
    actionsOf(machine);
    machine.tailRead({ position: 1, firstSequence: 1, lastSequence: 1 });
    actionsOf(machine);
    expect(machine.readBack({ ...first.batch, lines: ['1|S|7\n'] })).toBe(false);
    machine.readBackDone();
    expect(typesOf(actionsOf(machine))).toEqual(['stop']);
  });

  it('stops at once when the log refuses a batch itself', () => {
    const machine = newMachine();
    machine.take(slot(1));
    machine.endOfChunk();
    actionsOf(machine);
    machine.appendFailed(new MazeError(ErrorCode.LogBadBatch, 'too big'));
    expect(actionsOf(machine)).toEqual([
      {
        type: 'stop',
        problem: {
          code: ErrorCode.LogBadBatch,
          message:
            'the event log refused an append (too big); this ingest stops (1 event(s) not appended)',
          context: {},
        },
      },
    ]);
  });
});

describe('IngestMachine shutdown', () => {
  it('sends the open batch, and is idle once it is acknowledged', () => {
    const machine = newMachine();
    machine.take(slot(1));
    machine.endOfChunk();
    const [first] = appendsOf(actionsOf(machine));
    machine.take(slot(2));
    actionsOf(machine);
    machine.close();
    const closing = actionsOf(machine);
    expect(typesOf(closing)).toEqual(['clearBatchTimer', 'append']);
    machine.appended(first as AppendAction, ok(1));
    expect(actionsOf(machine)).toEqual([]);
    machine.appended(appendsOf(closing)[0] as AppendAction, ok(2));
    expect(actionsOf(machine)).toEqual([{ type: 'idle' }]);
    expect(machine.stats()).toMatchObject({ eventsAppended: 2, batchesUnacknowledged: 0 });
  });

  it('reports what was not acknowledged when the wait timed out, and retries no more', () => {
    const machine = newMachine();
    machine.take(slot(1));
    machine.endOfChunk();
    machine.appendFailed(new Error('lost'));
    machine.tailRead(undefined);
    machine.appendFailed(new Error('lost'));
    expect(typesOf(actionsOf(machine))).toContain('startRetryTimer');
    machine.close();
    expect(actionsOf(machine)).toEqual([]);
    machine.closeEnded(500);
    expect(actionsOf(machine)).toEqual([
      { type: 'clearRetryTimer' },
      {
        type: 'report',
        problem: {
          code: ErrorCode.LogFailed,
          message:
            'closed before the event log acknowledged 1 batch(es) (1 sequence number(s) from 1) within 500 ms',
          context: { sequence: 1 },
        },
      },
    ]);
    machine.retryTimerFired();
    machine.recoveryFailed();
    expect(actionsOf(machine)).toEqual([]);
  });

  it('is idle at once when nothing is outgoing, or once it stopped', () => {
    const quiet = newMachine();
    quiet.close();
    expect(actionsOf(quiet)).toEqual([{ type: 'idle' }]);
    quiet.closeEnded();
    expect(actionsOf(quiet)).toEqual([]);

    const refused = newMachine();
    refused.take(slot(1));
    refused.endOfChunk();
    refused.close();
    actionsOf(refused);
    refused.appendFailed(new MazeError(ErrorCode.InvalidState, 'the event log is closed'));
    expect(typesOf(actionsOf(refused))).toEqual(['stop', 'idle']);
  });
});

/** A log that honours fences and message-id dedupe, as JetStream does. */
class FencedLog {
  readonly batches: EventBatch[] = [];

  /** Appends as JetStream would: a duplicate first number is answered as such. */
  append(batch: EventBatch, fence: LogFence): AppendResult {
    const copy = this.batches.findIndex((held) => held.firstSequence === batch.firstSequence);
    if (copy >= 0) return { position: copy + 1, duplicate: true };
    const last = this.batches.at(-1);
    if (
      fence.position !== this.batches.length ||
      (fence.firstSequence !== undefined && last?.firstSequence !== fence.firstSequence)
    ) {
      throw new MazeError(ErrorCode.LogFenced, 'wrong last sequence');
    }
    this.batches.push(batch);
    return { position: this.batches.length, duplicate: false };
  }

  tail(): LogTail | undefined {
    const last = this.batches.at(-1);
    return last === undefined ? undefined : { position: this.batches.length, ...pick(last) };
  }
}

function pick(batch: EventBatch): { firstSequence: number; lastSequence: number } {
  return { firstSequence: batch.firstSequence, lastSequence: batch.lastSequence };
}

/** What the log does to one append: lands and answers, lands but the answer is lost, or fails. */
type Fate = 'ok' | 'lost' | 'failed';

describe('IngestMachine against a fenced log that fails at random', () => {
  it('appends every event exactly once, in order, whatever fails and in whatever order answers come', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('take' as const), valid: fc.boolean() }),
      fc.constant({ kind: 'endOfChunk' as const }),
      fc.constant({ kind: 'timer' as const }),
      fc.record({
        kind: fc.constant('answer' as const),
        pick: fc.nat(),
        fate: fc.constantFrom<Fate>('ok', 'ok', 'ok', 'lost', 'failed'),
      }),
      fc.constant({ kind: 'recover' as const }),
    );
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 200 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 4, max: 20 }),
        (steps, appendWindow, batchBytes) => {
          const log = new FencedLog();
          const machine = newMachine({ appendWindow, batchBytes });
          const inFlight: AppendAction[] = [];
          let waitingFor: 'readTail' | 'readBack' | 'retry' | undefined;
          let readBackFrom = 0;
          let idle = false;
          let sequence = 0;
          const taken: string[] = [];

          const perform = (): void => {
            for (const action of actionsOf(machine)) {
              switch (action.type) {
                case 'append':
                  inFlight.push(action);
                  break;
                case 'readTail':
                  waitingFor = 'readTail';
                  break;
                case 'readBack':
                  waitingFor = 'readBack';
                  readBackFrom = action.fromPosition;
                  break;
                case 'startRetryTimer':
                  waitingFor = 'retry';
                  break;
                case 'stop':
                  throw new Error(`stopped: ${action.problem.message}`);
                case 'idle':
                  idle = true;
                  break;
                default:
                  break;
              }
            }
            expect(inFlight.length).toBeLessThanOrEqual(appendWindow);
          };
          const answer = (index: number, fate: Fate): void => {
            const [append] = inFlight.splice(index, 1);
            if (append === undefined) return;
            let result: AppendResult | undefined;
            let error: unknown;
            try {
              if (fate === 'failed') throw new MazeError(ErrorCode.LogUnavailable, 'down');
              result = log.append(append.batch, append.fence);
              if (fate === 'lost') error = new MazeError(ErrorCode.LogFailed, 'ack lost');
            } catch (thrown) {
              error = thrown;
            }
            if (error === undefined) machine.appended(append, result as AppendResult);
            else machine.appendFailed(error);
          };
          const recover = (): void => {
            const waiting = waitingFor;
            waitingFor = undefined;
            if (waiting === 'retry') machine.retryTimerFired();
            if (waiting === 'readTail') machine.tailRead(log.tail());
            if (waiting === 'readBack') {
              let position = readBackFrom;
              while (machine.readBack(log.batches[position - 1])) position++;
              machine.readBackDone();
            }
          };

          for (const next of steps) {
            if (next.kind === 'take') {
              sequence++;
              if (next.valid) taken.push(`${sequence}|B\n`);
              machine.take(slot(sequence, next.valid));
            } else if (next.kind === 'endOfChunk') machine.endOfChunk();
            else if (next.kind === 'timer') machine.batchTimerFired();
            else if (next.kind === 'answer') {
              answer(next.pick % Math.max(1, inFlight.length), next.fate);
            } else recover();
            perform();
          }
          // Shutdown on a log that no longer fails.
          machine.close();
          perform();
          for (let round = 0; !idle && round < 10_000; round++) {
            if (inFlight.length > 0) answer(0, 'ok');
            else recover();
            perform();
          }
          expect(idle).toBe(true);
          expect(log.batches.flatMap((batch) => batch.lines)).toEqual(taken);
          // Batches follow each other without a gap or an overlap of numbers.
          log.batches.forEach((batch, index) => {
            const before = log.batches[index - 1];
            if (before !== undefined)
              expect(batch.firstSequence).toBeGreaterThan(before.lastSequence);
          });
          expect(machine.stats()).toMatchObject({
            eventsAppended: taken.length,
            batchesAppended: log.batches.length,
            appendsInFlight: 0,
            batchesUnacknowledged: 0,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

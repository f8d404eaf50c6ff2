// MazeCore.resume() against the reference model, and a connection that keeps dropping and
// resuming against one that never drops.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { epochLine } from '../../lib/core/epoch.js';
import { lineOf } from '../../lib/core/events.js';
import { MazeCore } from '../../lib/core/maze-core.js';
import { firstDeliveryMismatch } from '../helpers/compare.js';
import { expectedDeliveries, type ModelOp } from '../helpers/model.js';
import {
  generateOpStream,
  mulberry32,
  type OpStreamOptions,
  opStreamArbitrary,
  randomInt,
} from '../helpers/streams.js';

/** The epoch of the streams of these tests, and one a client of another stream names. */
const EPOCH = '1733600000';
const OTHER_EPOCH = '1733600001';

/** A history that holds every stream of these tests. */
const HISTORY_BYTES = 16 * 1024 * 1024;

const linesOf = (output: Uint8Array): string[] =>
  Buffer.from(output)
    .toString('latin1')
    .match(/[^\n]*\n/g) ?? [];
const sequenceOf = (line: string): number => Number(/^\d+/.exec(line)?.[0]);

/**
 * Turns some connects of `ops` into resumes after a random number near the stream's
 * position (below it, at it, or ahead of it), a few of them naming another epoch, and some
 * into resume-aware first connections (`USERID|-`).
 */
function withResumes(ops: readonly ModelOp[], seed: number, rate: number): ModelOp[] {
  const rng = mulberry32(seed);
  let lines = 0;
  return ops.map((op) => {
    if (op.kind === 'line') lines++;
    if (op.kind !== 'connect') return op;
    const draw = rng();
    if (draw >= rate) {
      return draw < (1 + rate) / 2
        ? { kind: 'aware', connection: op.connection, user: op.user }
        : op;
    }
    return {
      kind: 'resume',
      connection: op.connection,
      user: op.user,
      after: randomInt(rng, 0, lines + 3),
      epoch: rng() < 0.1 ? OTHER_EPOCH : EPOCH,
    };
  });
}

interface CoreRun {
  readonly received: Map<number, string[]>;
  /** The ops as the model must see them: a resume the core refused is a plain connect. */
  readonly modelOps: ModelOp[];
  readonly refused: {
    readonly reason: string;
    readonly epoch: string;
    readonly after: number;
    readonly resumableAfter: number;
    readonly lastApplied: number;
  }[];
  readonly core: MazeCore;
}

function runCore(ops: readonly ModelOp[], core: MazeCore): CoreRun {
  const received = new Map<number, string[]>();
  const userOf = new Map<number, number>();
  const connectionsOf = new Map<number, Set<number>>();
  const modelOps: ModelOp[] = [];
  const refused: CoreRun['refused'][number][] = [];
  for (const op of ops) {
    modelOps.push(op);
    if (op.kind === 'connect' || op.kind === 'aware' || op.kind === 'resume') {
      const lines: string[] = [];
      if (op.kind === 'aware') lines.push(epochLine(core.epoch, core.lastApplied));
      if (op.kind === 'resume') {
        const before = core.stats();
        const outcome = core.resume(op.user, op.after, op.epoch);
        // As the adapter writes it: the notifications start after LASTSEQ, or the gap's next - 1.
        lines.push(epochLine(core.epoch, outcome.exact ? op.after : outcome.next - 1));
        if (outcome.exact) {
          const replayed = linesOf(outcome.output);
          expect(outcome.notifications).toBe(replayed.length);
          lines.push(...replayed);
        } else {
          refused.push({
            reason: outcome.reason,
            epoch: op.epoch,
            after: op.after,
            resumableAfter: before.resumableAfter,
            lastApplied: before.nextSequence - 1,
          });
          expect(outcome.next).toBe(before.nextSequence);
          // The model replays nothing for another epoch by itself; a refused resume is
          // live from now on, as a `USERID|-` connection.
          if (outcome.reason !== 'epoch') {
            modelOps[modelOps.length - 1] = {
              kind: 'aware',
              connection: op.connection,
              user: op.user,
            };
          }
        }
      }
      core.connect(op.user);
      userOf.set(op.connection, op.user);
      if (!connectionsOf.has(op.user)) connectionsOf.set(op.user, new Set());
      connectionsOf.get(op.user)?.add(op.connection);
      received.set(op.connection, lines);
    } else if (op.kind === 'disconnect') {
      const user = userOf.get(op.connection) as number;
      core.disconnect(user);
      connectionsOf.get(user)?.delete(op.connection);
    } else {
      for (const { event, recipients } of core.push(op.line).deliveries) {
        for (const user of recipients) {
          for (const connection of connectionsOf.get(user) ?? []) {
            received.get(connection)?.push(lineOf(event));
          }
        }
      }
    }
  }
  return { received, modelOps, refused, core };
}

describe('MazeCore.resume() against the reference model', () => {
  it('replays exactly what the user missed, and refuses only a number not applied yet', () => {
    fc.assert(
      fc.property(
        opStreamArbitrary({ events: 1500, users: 12 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (streamOptions, seed) => {
          const ops = withResumes(generateOpStream(streamOptions), seed, 0.5);
          const run = runCore(ops, new MazeCore({ resumeBytes: HISTORY_BYTES, epoch: EPOCH }));
          expect(
            firstDeliveryMismatch(run.received, expectedDeliveries(run.modelOps, { epoch: EPOCH })),
          ).toBeUndefined();
          // This history holds these whole streams: only another epoch, or "ahead", can be
          // refused.
          for (const refusal of run.refused) {
            if (refusal.epoch !== EPOCH) {
              expect(refusal.reason).toBe('epoch');
              continue;
            }
            expect(refusal).toMatchObject({ reason: 'ahead' });
            expect(refusal.after).toBeGreaterThan(refusal.lastApplied);
          }
          // Every resume naming another epoch was refused as such.
          const otherEpoch = ops.filter((op) => op.kind === 'resume' && op.epoch !== EPOCH);
          expect(run.refused.filter((refusal) => refusal.reason === 'epoch')).toHaveLength(
            otherEpoch.length,
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('with a small history, replays exactly or says the history was trimmed', () => {
    fc.assert(
      fc.property(
        opStreamArbitrary({ events: 1500, users: 12 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 6000 }),
        (streamOptions, seed, resumeBytes) => {
          const ops = withResumes(generateOpStream(streamOptions), seed, 0.5);
          const run = runCore(ops, new MazeCore({ resumeBytes, epoch: EPOCH }));
          expect(
            firstDeliveryMismatch(run.received, expectedDeliveries(run.modelOps, { epoch: EPOCH })),
          ).toBeUndefined();
          for (const refusal of run.refused) {
            if (refusal.reason === 'epoch') expect(refusal.epoch).not.toBe(EPOCH);
            else if (refusal.reason === 'trimmed')
              expect(refusal.after).toBeLessThan(refusal.resumableAfter);
            else expect(refusal.after).toBeGreaterThan(refusal.lastApplied);
          }
          expect(run.core.stats().resumeHistoryBytes).toBeLessThanOrEqual(resumeBytes);
        },
      ),
      { numRuns: 60 },
    );
  });
});

/**
 * One user with two connections from the start: a steady one, and a flaky one that drops at
 * random points and resumes after the greater of the last number it received and the one
 * its last epoch line gave (`USERID|-` at first): so after a drop that cut it off before any
 * notification, it resumes where that connection's notifications started.
 */
function flakyAgainstSteady(
  options: OpStreamOptions,
  resumeBytes: number,
  dropRate: number,
  extra: { maxFollowEdges?: number; padding?: number } = {},
) {
  const rng = mulberry32(options.seed ^ 0x5eed);
  const user = 1;
  const core = new MazeCore({
    resumeBytes,
    startSequence: options.start,
    maxFollowEdges: extra.maxFollowEdges,
  });
  const steady: string[] = [];
  const flaky: string[] = [];
  const gaps: [after: number, through: number][] = [];
  let flakyOpen = true;
  core.connect(user); // steady
  // The flaky one identifies as `USERID|-`: its epoch line names the last number applied.
  let lastSeen = core.lastApplied;
  core.connect(user);
  const others = new Map<number, number>();
  // Leading zeros are valid: some lines are long, so long and short ones share the history.
  const padding = extra.padding ?? 0;
  const ops = generateOpStream(options).map((op) =>
    op.kind === 'line' && padding > 0 && rng() < 0.1
      ? { ...op, line: `${'0'.repeat(randomInt(rng, 1, padding))}${op.line}` }
      : op,
  );
  for (const [index, op] of ops.entries()) {
    if (op.kind === 'connect') {
      core.connect(op.user);
      others.set(op.connection, op.user);
    } else if (op.kind === 'disconnect') {
      core.disconnect(others.get(op.connection) as number);
    } else if (op.kind === 'line') {
      for (const { event, recipients } of core.push(op.line).deliveries) {
        if (!recipients.includes(user)) continue;
        steady.push(lineOf(event));
        if (flakyOpen) {
          flaky.push(lineOf(event));
          lastSeen = event.sequence;
        }
      }
    }
    if (flakyOpen && index < ops.length - 1 && rng() < dropRate) {
      core.disconnect(user);
      flakyOpen = false;
    } else if (!flakyOpen && (rng() < 0.3 || index === ops.length - 1)) {
      const outcome = core.resume(user, lastSeen, core.epoch);
      // The epoch line's number, as the adapter writes it.
      const epochLast = outcome.exact ? lastSeen : outcome.next - 1;
      if (!outcome.exact) gaps.push([lastSeen, epochLast]);
      lastSeen = Math.max(lastSeen, epochLast);
      if (outcome.exact) {
        flaky.push(...linesOf(outcome.output));
        if (outcome.notifications > 0) lastSeen = sequenceOf(flaky[flaky.length - 1] as string);
      }
      core.connect(user);
      flakyOpen = true;
    }
  }
  const owed = steady.filter((line) => {
    const sequence = sequenceOf(line);
    return !gaps.some(([after, through]) => sequence > after && sequence <= through);
  });
  return { steady, flaky, owed, gaps };
}

describe('a connection that drops and resumes', () => {
  it('gets exactly what a connection that never dropped gets', () => {
    fc.assert(
      fc.property(
        opStreamArbitrary({ events: 3000, users: 6 }),
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        (options, dropRate) => {
          const { flaky, steady, gaps } = flakyAgainstSteady(options, HISTORY_BYTES, dropRate);
          expect(gaps).toEqual([]);
          expect(flaky).toEqual(steady);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('with a small history, gets it all except what each told gap covers', () => {
    fc.assert(
      fc.property(
        opStreamArbitrary({ events: 3000, users: 6 }),
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        fc.integer({ min: 0, max: 3000 }),
        (options, dropRate, resumeBytes) => {
          const { flaky, owed } = flakyAgainstSteady(options, resumeBytes, dropRate);
          expect(flaky).toEqual(owed);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('through refused follows and lines padded with zeros, with or without trimming', () => {
    fc.assert(
      fc.property(
        opStreamArbitrary({ events: 3000, users: 6 }),
        fc.double({ min: 0.001, max: 0.2, noNaN: true }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 8 }),
        (options, dropRate, resumeBytes, maxFollowEdges) => {
          const run = flakyAgainstSteady(options, resumeBytes, dropRate, {
            maxFollowEdges,
            padding: 2_000,
          });
          expect(run.flaky).toEqual(run.owed);
        },
      ),
      { numRuns: 60 },
    );
  });
});

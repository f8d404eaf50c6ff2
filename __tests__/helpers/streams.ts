/**
 * Deterministic generators of event streams for tests: a seeded PRNG, valid event lines in
 * sequence order, batch shuffling, fault injection, and whole op streams (lines interleaved
 * with client connects/disconnects) to feed both the system under test and the model.
 * Everything is a pure function of its seed, so a failing seed reproduces exactly.
 */
import fc from 'fast-check';
import type { ModelOp } from './model.js';

/** A source of floats in [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast, good enough for test data, and seedable. Floats in [0, 1). */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in `min..=max`. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** One element of a non-empty list. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

export type EventLetter = 'F' | 'U' | 'B' | 'P' | 'S';

/** Relative weight of each event type. */
export type EventMix = Readonly<Record<EventLetter, number>>;

export const DEFAULT_MIX: EventMix = { F: 30, U: 10, B: 5, P: 25, S: 30 };

export type Terminator = '\n' | '\r\n';

function pickLetter(rng: Rng, mix: EventMix): EventLetter {
  const letters = Object.keys(mix) as EventLetter[];
  const total = letters.reduce((sum, letter) => sum + mix[letter], 0);
  let roll = rng() * total;
  for (const letter of letters) {
    roll -= mix[letter];
    if (roll < 0) return letter;
  }
  return letters[letters.length - 1] as EventLetter;
}

/** A valid event line for `sequence` with users in `1..=users`. */
export function randomEventLine(
  rng: Rng,
  sequence: number,
  users: number,
  terminator: Terminator = '\n',
  mix: EventMix = DEFAULT_MIX,
): string {
  const letter = pickLetter(rng, mix);
  const from = randomInt(rng, 1, users);
  const to = randomInt(rng, 1, users);
  switch (letter) {
    case 'B':
      return `${sequence}|B${terminator}`;
    case 'S':
      return `${sequence}|S|${from}${terminator}`;
    default:
      return `${sequence}|${letter}|${from}|${to}${terminator}`;
  }
}

export interface EventLinesOptions {
  count: number;
  /** User ids are drawn from `1..=users`. */
  users: number;
  seed: number;
  /** First sequence number. Default 1. */
  start?: number;
  terminator?: Terminator;
  mix?: EventMix;
}

/** `count` valid event lines numbered `start, start+1, …`, in sequence order. */
export function generateEventLines(options: EventLinesOptions): string[] {
  const rng = mulberry32(options.seed);
  const start = options.start ?? 1;
  const lines: string[] = [];
  for (let i = 0; i < options.count; i++) {
    lines.push(randomEventLine(rng, start + i, options.users, options.terminator, options.mix));
  }
  return lines;
}

/** A copy of `items` in random order (Fisher-Yates). */
export function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const result = [...items];
  for (let i = result.length - 1; i > 0; i--) {
    const j = randomInt(rng, 0, i);
    [result[i], result[j]] = [result[j] as T, result[i] as T];
  }
  return result;
}

/** `count` broadcasts numbered `start, start+1, …`: a valid stream every client receives whole. */
export function broadcasts(count: number, start = 1): string[] {
  return Array.from({ length: count }, (_, index) => `${start + index}|B\n`);
}

/** Cuts `items` into consecutive batches of 1..=maxBatch items and shuffles each batch. */
export function shuffleInBatches<T>(items: readonly T[], maxBatch: number, rng: Rng): T[] {
  const result: T[] = [];
  for (let at = 0; at < items.length; ) {
    const batch = items.slice(at, at + randomInt(rng, 1, maxBatch));
    at += batch.length;
    result.push(...shuffle(batch, rng));
  }
  return result;
}

/** Lines without a parsable sequence number: they must be discarded. */
export const LINES_WITHOUT_SEQUENCE: readonly string[] = [
  'abc|B\n',
  '|B\n',
  '0|B\n',
  '-1|B\n',
  '+1|B\n',
  ' 1|B\n',
  '1 |B\n',
  '1.5|B\n',
  '0x10|B\n',
  '9007199254740992|B\n',
  'hello\n',
  '\n',
  '\r\n',
];

/** Invalid bodies for a valid `sequence`: each must be a no-op consuming that number. */
export function badBodyLines(sequence: number): string[] {
  return [
    `${sequence}\n`,
    `${sequence}|\n`,
    `${sequence}|X|1|2\n`,
    `${sequence}|f|1|2\n`,
    `${sequence}|FF|1|2\n`,
    `${sequence}|B|1\n`,
    `${sequence}|B|\n`,
    `${sequence}|S\n`,
    `${sequence}|S|\n`,
    `${sequence}|S|1|2\n`,
    `${sequence}|F|1\n`,
    `${sequence}|F|1|2|3\n`,
    `${sequence}|F|1|2|\n`,
    `${sequence}|P|a|2\n`,
    `${sequence}|P|1| 2\n`,
    `${sequence}|U|-1|2\n`,
    `${sequence}|F|1|9007199254740992\n`,
    `${sequence}|B\r\r\n`,
  ];
}

export interface FaultOptions {
  rng: Rng;
  /** Probability that one fault is injected at each line. */
  rate: number;
  /** User ids of the extra lines are drawn from `1..=users`. */
  users: number;
}

/**
 * Injects faults into a stream in sequence order (shuffle afterwards if wanted): bodies
 * replaced by invalid ones, lines without a sequence number, duplicates of a number with a
 * different body (valid or invalid, before or after the line), and CRLF terminators. The
 * result is still a stream the model understands.
 */
export function injectFaults(lines: readonly string[], options: FaultOptions): string[] {
  const { rng, rate, users } = options;
  const result: string[] = [];
  for (const line of lines) {
    if (rng() >= rate) {
      result.push(line);
      continue;
    }
    const sequence = Number(line.slice(0, line.indexOf('|')));
    switch (randomInt(rng, 0, 5)) {
      case 0:
        result.push(pick(rng, badBodyLines(sequence)));
        break;
      case 1:
        result.push(pick(rng, LINES_WITHOUT_SEQUENCE), line);
        break;
      case 2:
        result.push(line, randomEventLine(rng, sequence, users));
        break;
      case 3:
        result.push(pick(rng, badBodyLines(sequence)), line);
        break;
      case 4:
        result.push(line, pick(rng, badBodyLines(sequence)));
        break;
      default:
        result.push(line.replace(/\r?\n$/, '\r\n'));
    }
  }
  return result;
}

export interface OpStreamOptions {
  seed: number;
  /** Valid events before faults are injected. */
  events: number;
  users: number;
  /** Largest batch shuffled together (1 keeps sequence order). Default 1. */
  maxBatch?: number;
  /** Probability of a fault per line (see `injectFaults`). Default 0. */
  faultRate?: number;
  /** Probability of a connect or disconnect before each line. Default 0. */
  churnRate?: number;
  /** Connections opened before the first line. Default 0. */
  initialConnections?: number;
  start?: number;
}

/**
 * Lines (generated, faulted, shuffled in batches) interleaved with client churn: connects of
 * fresh connection ids (several may share a user) and disconnects of open ones.
 */
export function generateOpStream(options: OpStreamOptions): ModelOp[] {
  const rng = mulberry32(options.seed);
  const valid = generateEventLines({
    count: options.events,
    users: options.users,
    seed: randomInt(rng, 0, 2 ** 32 - 1),
    start: options.start,
  });
  const faulted = injectFaults(valid, { rng, rate: options.faultRate ?? 0, users: options.users });
  const lines = shuffleInBatches(faulted, options.maxBatch ?? 1, rng);

  const ops: ModelOp[] = [];
  const open: number[] = [];
  let nextConnection = 1;
  const connect = (): void => {
    const connection = nextConnection++;
    open.push(connection);
    ops.push({ kind: 'connect', connection, user: randomInt(rng, 1, options.users) });
  };
  for (let i = 0; i < (options.initialConnections ?? 0); i++) connect();
  const churnRate = options.churnRate ?? 0;
  for (const line of lines) {
    if (rng() < churnRate) {
      if (open.length > 0 && rng() < 0.5) {
        const connection = open.splice(randomInt(rng, 0, open.length - 1), 1)[0] as number;
        ops.push({ kind: 'disconnect', connection });
      } else {
        connect();
      }
    }
    ops.push({ kind: 'line', line });
  }
  return ops;
}

/** Large seeded op streams; a failure reports the options, which replay it exactly. */
export function opStreamArbitrary(limits: {
  events: number;
  users: number;
}): fc.Arbitrary<OpStreamOptions> {
  return fc.record({
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    events: fc.integer({ min: 1, max: limits.events }),
    users: fc.integer({ min: 1, max: limits.users }),
    maxBatch: fc.integer({ min: 1, max: 64 }),
    faultRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
    churnRate: fc.double({ min: 0, max: 0.1, noNaN: true }),
    initialConnections: fc.integer({ min: 0, max: 2 * limits.users }),
  });
}

/** Renders a line for a sequence number chosen later. */
type LineRenderer = (sequence: number) => string;

function lineRendererArbitrary(users: number): fc.Arbitrary<LineRenderer> {
  const user = fc.integer({ min: 1, max: users });
  const terminator = fc.constantFrom<Terminator>('\n', '\r\n');
  const valid = fc
    .tuple(fc.constantFrom<EventLetter>('F', 'U', 'B', 'P', 'S'), user, user, terminator)
    .map(([letter, from, to, end]): LineRenderer => {
      if (letter === 'B') return (sequence) => `${sequence}|B${end}`;
      if (letter === 'S') return (sequence) => `${sequence}|S|${from}${end}`;
      return (sequence) => `${sequence}|${letter}|${from}|${to}${end}`;
    });
  const badBody = fc.nat().map((index): LineRenderer => {
    return (sequence) => {
      const lines = badBodyLines(sequence);
      return lines[index % lines.length] as string;
    };
  });
  const unnumbered = fc.constantFrom(...LINES_WITHOUT_SEQUENCE).map(
    (line): LineRenderer =>
      () =>
        line,
  );
  return fc.oneof(
    { arbitrary: valid, weight: 12 },
    { arbitrary: badBody, weight: 1 },
    { arbitrary: unnumbered, weight: 1 },
  );
}

/** What `smallOpStreamArbitrary` draws before numbers and connection ids are assigned. */
type DraftOp =
  | {
      kind: 'line';
      render: LineRenderer;
      /** Reuse the number of the line `reuseBack` lines earlier instead of a fresh one. */
      reuseBack: number | undefined;
      /** Move this op one place earlier, to reorder it. */
      swapWithPrevious: boolean;
    }
  | { kind: 'connect'; user: number }
  | { kind: 'disconnect'; openIndex: number };

/**
 * Short op streams built entirely by fast-check, so a counterexample shrinks to a few ops.
 * Lines take fresh numbers from `startSequence` on, so the stream never stalls for long;
 * on top of that some lines reuse a recent number (duplicate or stale), some move one place
 * earlier (reordering), and invalid bodies and unnumbered lines are mixed in. Each connect
 * opens a fresh connection id (1, 2, …; several may share a user); a disconnect closes an
 * open one.
 */
export function smallOpStreamArbitrary(limits: {
  users: number;
  maxOps: number;
  startSequence?: number;
}): fc.Arbitrary<ModelOp[]> {
  const line = fc
    .tuple(
      lineRendererArbitrary(limits.users),
      fc.option(fc.integer({ min: 0, max: 3 }), { freq: 7, nil: undefined }),
      fc.boolean().chain((maybe) => (maybe ? fc.boolean() : fc.constant(false))),
    )
    .map(
      ([render, reuseBack, swapWithPrevious]): DraftOp => ({
        kind: 'line',
        render,
        reuseBack,
        swapWithPrevious,
      }),
    );
  const draft: fc.Arbitrary<DraftOp> = fc.oneof(
    { arbitrary: line, weight: 6 },
    {
      arbitrary: fc
        .integer({ min: 1, max: limits.users })
        .map((user): DraftOp => ({ kind: 'connect', user })),
      weight: 2,
    },
    {
      arbitrary: fc.nat().map((openIndex): DraftOp => ({ kind: 'disconnect', openIndex })),
      weight: 1,
    },
  );
  return fc
    .array(draft, { maxLength: limits.maxOps, size: 'max' })
    .map((drafts) => assemble(drafts, limits.startSequence ?? 1));
}

function assemble(drafts: readonly DraftOp[], startSequence: number): ModelOp[] {
  const open: number[] = [];
  let nextConnection = 1;
  let nextFresh = startSequence;
  const ops: ModelOp[] = [];
  for (const draft of drafts) {
    if (draft.kind === 'line') {
      const reuse = draft.reuseBack !== undefined && nextFresh > startSequence;
      const sequence = reuse
        ? Math.max(startSequence, nextFresh - 1 - (draft.reuseBack as number))
        : nextFresh++;
      ops.push({ kind: 'line', line: draft.render(sequence) });
      if (draft.swapWithPrevious && ops.length > 1) {
        const last = ops.length - 1;
        [ops[last - 1], ops[last]] = [ops[last] as ModelOp, ops[last - 1] as ModelOp];
      }
    } else if (draft.kind === 'connect') {
      const connection = nextConnection++;
      open.push(connection);
      ops.push({ kind: 'connect', connection, user: draft.user });
    } else if (open.length > 0) {
      const [connection] = open.splice(draft.openIndex % open.length, 1) as [number];
      ops.push({ kind: 'disconnect', connection });
    }
  }
  return ops;
}

/**
 * Bytes a fuzzer draws from, weighted towards what the protocol cares about: digits, `|`,
 * the event letters, CR and LF, plus NUL, 0xff and a few other bytes. A latin1 string:
 * one character per byte.
 */
const FUZZ_ALPHABET =
  '0123456789012345678901234567890123456789||||||||FUBPSFUBPS\n\n\n\n\r\r\r\u0000\u00ff\u00ff -+xe.\t\u0080\u00c3';

/** `length` random bytes (as a latin1 string) drawn from `FUZZ_ALPHABET`, or any byte. */
export function fuzzBytes(rng: Rng, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) {
    text +=
      rng() < 0.9
        ? FUZZ_ALPHABET.charAt(Math.floor(rng() * FUZZ_ALPHABET.length))
        : String.fromCharCode(randomInt(rng, 0, 255));
  }
  return text;
}

/**
 * `line` with one to three random edits: a byte replaced, inserted or deleted, a stretch
 * repeated, or the line cut short. The result may be valid, invalid, several lines or none.
 */
export function mutateLine(rng: Rng, line: string): string {
  let text = line;
  for (let edits = randomInt(rng, 1, 3); edits > 0; edits--) {
    const at = randomInt(rng, 0, text.length);
    switch (randomInt(rng, 0, 4)) {
      case 0:
        text = text.slice(0, at) + fuzzBytes(rng, 1) + text.slice(at + 1);
        break;
      case 1:
        text = text.slice(0, at) + fuzzBytes(rng, randomInt(rng, 1, 4)) + text.slice(at);
        break;
      case 2:
        text = text.slice(0, at) + text.slice(at + randomInt(rng, 1, 3));
        break;
      case 3:
        text = text.slice(0, at) + text.slice(randomInt(rng, 0, at));
        break;
      default:
        text = text.slice(0, at);
    }
  }
  return text;
}

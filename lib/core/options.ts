/**
 * The core's options (docs/protocol.md §3, §4, §10, §12): where a stream starts, how much may
 * wait for a missing sequence number, how many follow edges the graph keeps, how much history
 * resumes may draw on, and the byte between the fields of an event line. `MazeCore`, `EventSequencer`, `Sequencer` and `FollowGraph`
 * check their options by these rows; the front ends and the command line take them from here
 * too.
 */
import type { OptionRow } from '../options/option.js';

const SIZE = { type: 'integer', min: 1 } as const;

/** The core's rows, by option name. */
export const CORE_OPTIONS = {
  reorderCapacity: {
    ...SIZE,
    // Events that may wait for a missing number before it is declared lost.
    default: 100_000,
    describe: 'Events that may wait for a missing sequence number',
  },
  reorderBytes: {
    ...SIZE,
    // The count bound alone lets 100,000 lines of 4 KiB (leading zeros are valid) hold
    // ~400 MiB; 64 MiB still holds the whole count bound of ordinary (< 50-byte) events, so
    // only padded lines hit it first.
    default: 64 * 1024 * 1024,
    describe: 'Bytes of event lines that may wait for a missing sequence number',
  },
  startSequence: {
    ...SIZE,
    default: 1,
    describe: 'Sequence number of the first event',
  },
  maxFollowEdges: {
    ...SIZE,
    // Keeps every typed array of the graph under 2^28 elements.
    max: 2 ** 27,
    // 2^23 = 8,388,608 edges keeps the graph within a few hundred MiB. Measured at this bound
    // (`scripts/graph-memory.mjs`): 340 MiB of RSS when the edges share a few followees
    // (16-byte edge slots at load 3/8 to 3/4, ~32 bytes an edge) and 693 MiB when every edge
    // has a followee of its own (each then also costs a followee entry and a node: ~80 bytes
    // an edge); small-id followers of a popular user cost a bit each. That is far above what
    // the simulator's profiles build (1,000 users following each other are 1M edges).
    default: 2 ** 23,
    describe: 'Follow edges kept before a new follow is refused (ERR_FOLLOW_LIMIT, a no-op)',
  },
  resumeBytes: {
    type: 'integer',
    min: 0,
    // One resume scans every record after its LASTSEQ in one go: 64 MiB (about 1.3M events)
    // keeps that scan to tens of milliseconds.
    max: 64 * 1024 * 1024,
    // Off unless asked for: keeping the history copies every applied line, about a tenth of
    // serve's CPU on the default benchmark (docs/performance.md). 16 MiB holds about 300,000
    // events of the default mix (an event costs its line and 36 bytes), whatever the users.
    default: 0,
    describe:
      'Bytes of recently applied events kept so that clients can resume (USERID|LASTSEQ|EPOCH), e.g. 16777216; 0 keeps none',
  },
  delimiter: {
    type: 'char',
    // No id or terminator may hold it, so the split stays unambiguous; nor may a type letter,
    // or the events of that type could not be parsed.
    exclude: '0123456789\r\nFUBPS',
    // The original protocol's.
    default: '|',
    describe:
      'Byte between the fields of an event line: one character (code below 256), not a digit, CR, LF or an event type letter',
  },
} as const satisfies Readonly<Record<string, OptionRow>>;

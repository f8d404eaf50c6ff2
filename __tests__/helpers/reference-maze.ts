/**
 * What the end-to-end cluster tests compare with: valid events in shuffled batches, and a
 * maze in the test's own process that takes the same events, whose clients get what every
 * client of the cluster must get.
 */
import type { Maze } from '../../lib/adapter/maze.js';
import {
  attachMemorySource,
  attachUsers,
  type MemoryClient,
  type MemorySource,
  WAIT_MS,
  waitUntil,
} from './sockets.js';
import { generateEventLines, mulberry32, shuffleInBatches } from './streams.js';

/** Events `from..to` among `users` users (valid, default mix), shuffled in batches of up to 50. */
export function eventsText(from: number, to: number, seed: number, users: number): string {
  const lines = generateEventLines({ count: to - from + 1, users, seed, start: from });
  return shuffleInBatches(lines, 50, mulberry32(seed)).join('');
}

/** The same events through `maze`: what each client must receive. */
export class ReferenceMaze {
  readonly #source: MemorySource;

  constructor(
    readonly maze: Maze,
    readonly users: number,
  ) {
    this.#source = attachMemorySource(maze);
  }

  send(text: string): void {
    this.#source.peer.write(text);
  }

  /** Waits (at most `ms`) until the maze has applied events up to number `last` (from 1, none skipped). */
  applied(last: number, ms: number = WAIT_MS): Promise<void> {
    return waitUntil(() => this.maze.stats().nextSequence > last, `the reference at ${last}`, ms);
  }

  /** Clients of users `1..users`, identified. */
  clients(): Promise<MemoryClient[]> {
    return attachUsers(this.maze, this.users);
  }
}

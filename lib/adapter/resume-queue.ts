/**
 * Clients waiting for their resume (docs/protocol.md §12), served in arrival order away from
 * the input's path. A resume costs a scan of the history after the client's last number
 * (one resume's scan is not cut: the history's bound keeps it to tens of milliseconds), so
 * each turn of the event loop serves waiting clients only until `RESUME_SCAN_BUDGET`
 * history records have been looked at, and none while `blocked()` (flow control holds the
 * input: a replay is output like any other and keeps to the same limits; `kick()` when that
 * ends). A reconnect storm therefore costs the input a bounded slice per turn.
 *
 * Invariants: a client is served at most once, and not after `delete()` or `close()`; at most
 * one turn is scheduled at a time.
 */

/**
 * History records scanned per turn of the event loop, over all waiting clients: a few ms
 * (a scan costs 20-30 ns a record, measured with the default mix).
 */
const RESUME_SCAN_BUDGET = 100_000;
/**
 * What serving one client costs besides its scan, in records: its write and registration.
 * It caps the resumes of one turn (500) even when each scans nothing.
 */
const RESUME_COST = 200;

export class ResumeQueue<Client> {
  readonly #waiting = new Set<Client>();
  /** Serves one client; returns the history entries it scanned. */
  readonly #serve: (client: Client) => number;
  readonly #blocked: () => boolean;
  #turn: NodeJS.Immediate | undefined;

  constructor(serve: (client: Client) => number, blocked: () => boolean) {
    this.#serve = serve;
    this.#blocked = blocked;
  }

  /** Clients waiting. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Whether `client` waits for its resume. */
  has(client: Client): boolean {
    return this.#waiting.has(client);
  }

  add(client: Client): void {
    this.#waiting.add(client);
    this.kick();
  }

  /** Forgets a client that left while waiting. */
  delete(client: Client): void {
    this.#waiting.delete(client);
  }

  /** Schedules a turn if clients wait (after the input is released, for one). */
  kick(): void {
    if (this.#turn !== undefined || this.#waiting.size === 0) return;
    this.#turn = setImmediate(() => this.#run());
  }

  close(): void {
    this.#waiting.clear();
    if (this.#turn !== undefined) clearImmediate(this.#turn);
    this.#turn = undefined;
  }

  #run(): void {
    this.#turn = undefined;
    let budget = RESUME_SCAN_BUDGET;
    for (const client of this.#waiting) {
      if (budget <= 0) break;
      if (this.#blocked()) return;
      this.#waiting.delete(client);
      budget -= RESUME_COST + this.#serve(client);
    }
    this.kick();
  }
}

/** How often the exact total is taken while over budget: cheap, and quick to resume. */
export const BUDGET_CHECK_INTERVAL_MS = 50;
/** Over budget, the source resumes once the total is under this share of the budget. */
export const BUDGET_RESUME_FRACTION = 0.75;
/**
 * Output flow control (docs/protocol.md §6): when the event source must stop being read, and which
 * clients go when a limit is held too long. It knows nothing of streams: it sees a client
 * through `FlowClient` and acts through `FlowControlHost`, so its rules are unit-tested
 * without sockets.
 *
 * Invariants:
 * - Per client: a client whose queue is over `clientBufferLimit` (and whose stream will
 *   signal `'drain'`) holds the source and has a timer. Still over its limit when the timer
 *   fires, it is dropped; back under it by then, it is released, since it is reading.
 * - In total: `queuedBytes` is an upper bound of what all clients have queued. Each write
 *   charges a client what its stream holds right after it; a drain or a departure takes the
 *   charge off. Between writes a queue only shrinks, so the sum never undercounts. It is
 *   updated in O(1) per write; only when it passes `totalBufferLimit` are the charged
 *   clients asked for their exact queues. Still over: the source is held ("over budget")
 *   and the exact figure is taken again every `BUDGET_CHECK_INTERVAL_MS` until it is back
 *   under `BUDGET_RESUME_FRACTION` of the budget (a margin, so the source does not flap).
 * - Over budget for `slowClientTimeout`: the clients with the largest queues are dropped,
 *   largest first, until the total is under that mark. Memory is bounded in total even
 *   when every client is within its own limit (4,500 idle readers under 1 MiB each
 *   would otherwise hold 4.5 GB).
 * - The source is held exactly while a client is over its limit or the total is over
 *   budget; the host hears `pauseSource`/`resumeSource` only on a change.
 */

/** The view flow control has of one client's output stream. */
export interface FlowClient {
  /** Bytes queued in the stream and not yet taken by the peer. */
  queuedBytes(): number;
  /** Whether the stream will emit `'drain'` (its queue went past its high-water mark). */
  awaitingDrain(): boolean;
  /** The stream's high-water mark: a limit below it acts as it (no `'drain'` below it). */
  readonly highWaterMark: number;
}

/** What flow control asks of the maze. */
export interface FlowControlHost<C extends FlowClient> {
  pauseSource(): void;
  resumeSource(): void;
  /** Drop `client` at once; `reason` says which limit it held too long. */
  dropSlowClient(client: C, reason: string): void;
}

export interface FlowLimits {
  /** Bytes one client may have queued before the source is held. */
  readonly clientBufferLimit: number;
  /** Bytes all clients together may have queued before the source is held. */
  readonly totalBufferLimit: number;
  /** How long a limit may be held before clients are dropped. */
  readonly slowClientTimeout: number;
}

interface ClientFlow {
  /** Bytes this client is counted for in the total. */
  charge: number;
  /** Set while the client is over its own limit. */
  overLimitTimer: NodeJS.Timeout | undefined;
}

export class FlowControl<C extends FlowClient> {
  readonly #limits: FlowLimits;
  readonly #host: FlowControlHost<C>;
  readonly #flows = new Map<C, ClientFlow>();
  #clientsOverLimit = 0;
  #queuedBytes = 0;
  #overBudget = false;
  #budgetCheck: NodeJS.Timeout | undefined;
  #budgetTimeout: NodeJS.Timeout | undefined;
  #sourceHeld = false;
  #pauses = 0;

  constructor(limits: FlowLimits, host: FlowControlHost<C>) {
    this.#limits = limits;
    this.#host = host;
  }

  /** Clients over their own limit right now. */
  get clientsOverLimit(): number {
    return this.#clientsOverLimit;
  }

  /** Upper bound of the bytes queued for all clients (exact after each budget check). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Whether the total is over budget (the source is held until it is back under the mark). */
  get overBudget(): boolean {
    return this.#overBudget;
  }

  /** Whether the source must not be read right now. */
  get sourceHeld(): boolean {
    return this.#sourceHeld;
  }

  /** Times the source was held so far. */
  get pauses(): number {
    return this.#pauses;
  }

  /** `client`'s stream was just handed more output. */
  wrote(client: C): void {
    let flow = this.#flows.get(client);
    if (flow === undefined) {
      flow = { charge: 0, overLimitTimer: undefined };
      this.#flows.set(client, flow);
    }
    const queued = client.queuedBytes();
    this.#charge(flow, queued);
    if (
      flow.overLimitTimer === undefined &&
      queued > this.#limits.clientBufferLimit &&
      client.awaitingDrain()
    ) {
      this.#overLimit(client, flow);
    }
  }

  /** Every write of a flush is done: the moment to look at the total. */
  flushed(): void {
    if (this.#overBudget || this.#queuedBytes <= this.#limits.totalBufferLimit) return;
    this.#recount();
    if (this.#queuedBytes <= this.#limits.totalBufferLimit) return;
    this.#overBudget = true;
    this.#budgetCheck = setInterval(() => this.#checkBudget(), BUDGET_CHECK_INTERVAL_MS);
    this.#budgetCheck.unref();
    this.#budgetTimeout = setTimeout(
      () => this.#budgetHeldTooLong(),
      this.#limits.slowClientTimeout,
    );
    this.#budgetTimeout.unref();
    this.#updateSource();
  }

  /** `client`'s stream emitted `'drain'`: its queue is empty. */
  drained(client: C): void {
    const flow = this.#flows.get(client);
    if (flow === undefined) return;
    this.#charge(flow, 0);
    this.#release(flow);
  }

  /** `client` is gone: it no longer counts or holds anything. */
  removed(client: C): void {
    const flow = this.#flows.get(client);
    if (flow === undefined) return;
    this.#flows.delete(client);
    this.#charge(flow, 0);
    this.#release(flow);
  }

  /** Stops every timer (the maze is closing). */
  close(): void {
    for (const flow of this.#flows.values()) clearTimeout(flow.overLimitTimer);
    this.#stopBudgetTimers();
  }

  #charge(flow: ClientFlow, bytes: number): void {
    this.#queuedBytes += bytes - flow.charge;
    flow.charge = bytes;
  }

  #overLimit(client: C, flow: ClientFlow): void {
    flow.overLimitTimer = setTimeout(
      () => this.#overLimitTimeout(client, flow),
      this.#limits.slowClientTimeout,
    );
    flow.overLimitTimer.unref();
    this.#clientsOverLimit++;
    this.#updateSource();
  }

  #release(flow: ClientFlow): void {
    if (flow.overLimitTimer === undefined) return;
    clearTimeout(flow.overLimitTimer);
    flow.overLimitTimer = undefined;
    this.#clientsOverLimit--;
    this.#updateSource();
  }

  // The timeout is about staying *over* the limit. A client still over it is stuck; one that
  // read its way back under it, with its queue just not empty yet, is reading: it no longer
  // holds the source, and if it goes over again it gets a new timer.
  #overLimitTimeout(client: C, flow: ClientFlow): void {
    const limit = Math.max(this.#limits.clientBufferLimit, client.highWaterMark);
    if (client.queuedBytes() <= limit) {
      this.#release(flow);
      return;
    }
    this.#host.dropSlowClient(
      client,
      `stayed over its ${this.#limits.clientBufferLimit}-byte buffer limit for ${this.#limits.slowClientTimeout} ms`,
    );
    this.removed(client);
  }

  // Exact queues of every charged client; O(clients), run only past the budget.
  #recount(): void {
    for (const [client, flow] of this.#flows) {
      if (flow.charge !== 0) this.#charge(flow, client.queuedBytes());
    }
  }

  #checkBudget(): void {
    this.#recount();
    if (this.#queuedBytes >= this.#limits.totalBufferLimit * BUDGET_RESUME_FRACTION) return;
    this.#stopBudgetTimers();
    this.#overBudget = false;
    this.#updateSource();
  }

  // Largest queues first: they hold the most memory and are the furthest behind.
  #budgetHeldTooLong(): void {
    this.#budgetTimeout = undefined;
    this.#recount();
    const mark = this.#limits.totalBufferLimit * BUDGET_RESUME_FRACTION;
    const largestFirst = [...this.#flows]
      .filter(([, flow]) => flow.charge > 0)
      .sort(([, a], [, b]) => b.charge - a.charge);
    for (const [client] of largestFirst) {
      if (this.#queuedBytes < mark) break;
      this.#host.dropSlowClient(
        client,
        `had the largest queue while all clients stayed over the ${this.#limits.totalBufferLimit}-byte total buffer limit for ${this.#limits.slowClientTimeout} ms`,
      );
      this.removed(client);
    }
    this.#checkBudget();
  }

  #stopBudgetTimers(): void {
    clearInterval(this.#budgetCheck);
    clearTimeout(this.#budgetTimeout);
    this.#budgetCheck = undefined;
    this.#budgetTimeout = undefined;
  }

  #updateSource(): void {
    const hold = this.#clientsOverLimit > 0 || this.#overBudget;
    if (hold === this.#sourceHeld) return;
    this.#sourceHeld = hold;
    if (hold) {
      this.#pauses++;
      this.#host.pauseSource();
    } else {
      this.#host.resumeSource();
    }
  }
}

/**
 * Monitor sources for a server that is still starting (connecting to NATS, loading a
 * snapshot, replaying the log): `/healthz` answers 503 with what it waits for, `/stats` is
 * empty, until `attach()` hands over to the server's own sources. The metric names are the
 * server's from the start, so `/metrics` does not change shape when it is ready.
 */
import type { ClientPage } from '../adapter/fan-out.js';
import type { Problem } from '../errors.js';
import type { ClientPageRequest, Health, MonitorSources, StatMetric } from './sources.js';

const NO_CLIENTS: ClientPage = { total: 0, items: [] };

export class StartingSources implements MonitorSources {
  readonly statMetrics: Readonly<Record<string, StatMetric>>;
  readonly clients?: (page: ClientPageRequest) => ClientPage;
  #target: MonitorSources | undefined;
  #waitingFor: string;

  /** `withClients`: the server will serve `/clients` (an empty page until it is attached). */
  constructor(
    statMetrics: Readonly<Record<string, StatMetric>>,
    waitingFor: string,
    withClients: boolean,
  ) {
    this.statMetrics = statMetrics;
    this.#waitingFor = waitingFor;
    if (withClients) this.clients = (page) => this.#target?.clients?.(page) ?? NO_CLIENTS;
  }

  /** What `/healthz` says the server waits for, until it is attached. */
  waitingFor(what: string): void {
    this.#waitingFor = what;
  }

  /** From now on everything is `target`'s. */
  attach(target: MonitorSources): void {
    this.#target = target;
  }

  health(): Health {
    return this.#target?.health() ?? { ready: false, reason: this.#waitingFor };
  }

  stats(): Readonly<Record<string, number | boolean>> {
    return this.#target?.stats() ?? {};
  }

  report(problem: Problem): void {
    this.#target?.report?.(problem);
  }
}

/**
 * Client authentication (docs/protocol.md §5): the `authenticate` hook an embedding program
 * gives a maze or a gateway, and the queue that runs it for every client connection.
 *
 * Invariants:
 * - The hook sees the credential (the id line's first field, or a refresh line, terminator
 *   stripped) and who sent it; never the rest of the line. Its answer is checked: anything
 *   but a user id in `0..MAX_SAFE_INTEGER` or a known refusal reason is a refusal
 *   (`subject`, `failed`); a hook that throws or rejects is the refusal `failed`. Nothing
 *   a hook does can crash the server.
 * - At most `MAX_AUTHENTICATIONS_IN_FLIGHT` hook calls run at once, for all connections
 *   together; the others wait in arrival order, one per connection at most (a connection
 *   stops reading while its credential is checked). A connection that goes away, or runs
 *   out of its identify timeout, gives back its place or its slot at once: a hook that never
 *   settles cannot hold the queue.
 * - Refusals are counted by reason (`AuthStats`); the credential is never stored beyond the
 *   call, reported or logged.
 */
import { MAX_ID } from '../core/constants.js';
import type { UserId } from '../core/events.js';

/**
 * Longest id line a client may send when clients authenticate, terminator included (instead
 * of `maxIdLineLength`): a JWT signed with RS256 and a few claims is under 1 KiB.
 */
export const MAX_TOKEN_LINE_LENGTH = 4 * 1024;

/**
 * Hook calls running at once, all connections together: bounds the memory and the CPU that
 * connecting clients can make the server spend on verification. Measured with the CLI's JWT
 * hook, 64 at once: 45 µs per HS256 token, 60 µs RS256, 125 µs ES256 and EdDSA (against
 * 85-165 µs one at a time), so 19,000 clients reconnecting at once are all checked within
 * 1-2.5 s, well inside the identify timeout.
 */
const MAX_AUTHENTICATIONS_IN_FLIGHT = 64;

/** Why a credential was refused. The JWT reasons, plus `failed`: the hook threw or answered nonsense. */
export const AUTH_REFUSAL_REASONS = [
  'malformed',
  'signature',
  'expired',
  'not-yet-valid',
  'audience',
  'issuer',
  'subject',
  'failed',
] as const;

export type AuthRefusalReason = (typeof AUTH_REFUSAL_REASONS)[number];

/** Who presents a credential. */
export interface CredentialSender {
  /** `client#N`. */
  readonly connection: string;
  /** The peer's `host:port`; `null` for a stream that is not a TCP socket. */
  readonly remoteAddress: string | null;
  /** The user it identified as, for a refresh; `undefined` on its id line. */
  readonly userId: UserId | undefined;
}

/** What the hook answers. */
export type Authentication =
  | {
      /** The user the credential stands for. */
      readonly userId: UserId;
      /**
       * When the credential stops being valid, in milliseconds since the epoch: the
       * connection is closed then (`ERR_CLIENT_AUTH`, reason `expired`) unless it sent a
       * fresh credential for the same user. `undefined`: never.
       */
      readonly expiresAt?: number;
    }
  | { readonly refused: AuthRefusalReason };

/**
 * Decides who a client is from its credential (sync or async). With it, a client's id line
 * is `CREDENTIAL` (or `CREDENTIAL|LASTSEQ` to resume), and any later line is a fresh
 * credential for the same user.
 */
export type Authenticate = (
  credential: string,
  sender: CredentialSender,
) => Authentication | Promise<Authentication>;

/** Counters of authentication, by outcome (`ERR_CLIENT_AUTH` reasons). */
export interface AuthStats {
  /** Credentials accepted (id lines and refreshes). */
  readonly authAccepted: number;
  /** Credentials being checked or waiting for a slot right now. */
  readonly authPending: number;
  readonly authMalformed: number;
  readonly authSignature: number;
  /** Refused as expired, or connections closed when their credential expired. */
  readonly authExpired: number;
  readonly authNotYetValid: number;
  readonly authAudience: number;
  readonly authIssuer: number;
  /** Refused as naming no valid user, or a refresh for another user. */
  readonly authSubject: number;
  /** The hook threw, rejected or answered something else than an `Authentication`. */
  readonly authFailed: number;
}

const STAT_OF: { readonly [Reason in AuthRefusalReason]: keyof AuthStats } = {
  malformed: 'authMalformed',
  signature: 'authSignature',
  expired: 'authExpired',
  'not-yet-valid': 'authNotYetValid',
  audience: 'authAudience',
  issuer: 'authIssuer',
  subject: 'authSubject',
  failed: 'authFailed',
};

/** One credential to check; `cancel()` it when its connection no longer waits. */
export interface PendingAuthentication {
  cancel(): void;
}

type Done = (outcome: Authentication) => void;

interface Job extends PendingAuthentication {
  readonly credential: string;
  readonly sender: CredentialSender;
  readonly done: Done;
  running: boolean;
  settled: boolean;
}

/** Runs the hook for every connection of a maze or gateway, with the bound of the header. */
export class Authenticator {
  readonly #hook: Authenticate;
  /** Jobs waiting for a slot, oldest first. */
  readonly #waiting = new Set<Job>();
  #running = 0;
  /** Set while `#release()` starts waiting jobs. */
  #starting = false;
  #accepted = 0;
  readonly #refused = new Map<AuthRefusalReason, number>();

  constructor(hook: Authenticate) {
    this.#hook = hook;
  }

  /**
   * Checks `credential`; `done` is called once with the outcome (possibly before this
   * returns, for a sync hook), unless the returned handle is cancelled first.
   */
  check(credential: string, sender: CredentialSender, done: Done): PendingAuthentication {
    const job: Job = {
      credential,
      sender,
      done,
      running: false,
      settled: false,
      cancel: () => this.#cancel(job),
    };
    if (this.#running < MAX_AUTHENTICATIONS_IN_FLIGHT) this.#run(job);
    else this.#waiting.add(job);
    return job;
  }

  /** Counts a refusal as it is reported: the hook's, an expiry, a refresh for another user. */
  countRefusal(reason: AuthRefusalReason): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
  }

  stats(): AuthStats {
    const stats: Record<string, number> = {
      authAccepted: this.#accepted,
      authPending: this.#running + this.#waiting.size,
    };
    for (const reason of AUTH_REFUSAL_REASONS) {
      stats[STAT_OF[reason]] = this.#refused.get(reason) ?? 0;
    }
    return stats as unknown as AuthStats;
  }

  /** Drops every waiting job (their connections are closing). */
  close(): void {
    this.#waiting.clear();
  }

  #run(job: Job): void {
    job.running = true;
    this.#running++;
    let answer: Authentication | Promise<Authentication>;
    try {
      answer = this.#hook(job.credential, job.sender);
    } catch {
      this.#settle(job, { refused: 'failed' });
      return;
    }
    if (typeof (answer as Partial<Promise<unknown>>).then === 'function') {
      Promise.resolve(answer).then(
        (outcome) => this.#settle(job, outcome),
        () => this.#settle(job, { refused: 'failed' }),
      );
    } else {
      this.#settle(job, answer);
    }
  }

  #settle(job: Job, answer: unknown): void {
    if (job.settled) return;
    job.settled = true;
    this.#release(job);
    const outcome = checked(answer);
    // Refusals are counted as they are reported (`countRefusal()`), with those found outside the hook.
    if (!('refused' in outcome)) this.#accepted++;
    job.done(outcome);
  }

  #cancel(job: Job): void {
    if (job.settled) return;
    job.settled = true;
    this.#waiting.delete(job);
    this.#release(job);
  }

  // Frees the job's slot (if it ran) for the oldest waiting ones; a loop, not a recursion, so
  // a queue of sync answers cannot grow the stack.
  #release(job: Job): void {
    if (!job.running) return;
    job.running = false;
    this.#running--;
    if (this.#starting) return;
    this.#starting = true;
    try {
      while (this.#running < MAX_AUTHENTICATIONS_IN_FLIGHT) {
        const next = this.#waiting.values().next();
        if (next.done === true) break;
        this.#waiting.delete(next.value);
        this.#run(next.value);
      }
    } finally {
      this.#starting = false;
    }
  }
}

// A hook is the embedder's code: its answer is checked like a peer's input.
function checked(answer: unknown): Authentication {
  if (typeof answer !== 'object' || answer === null) return { refused: 'failed' };
  const { userId, expiresAt, refused } = answer as Record<string, unknown>;
  if (refused !== undefined) {
    return AUTH_REFUSAL_REASONS.includes(refused as AuthRefusalReason)
      ? { refused: refused as AuthRefusalReason }
      : { refused: 'failed' };
  }
  if (typeof userId !== 'number') return { refused: 'failed' };
  if (!Number.isSafeInteger(userId) || userId < 0 || userId > MAX_ID) {
    return { refused: 'subject' };
  }
  if (expiresAt === undefined) return { userId: userId as UserId };
  if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) return { refused: 'failed' };
  return { userId: userId as UserId, expiresAt };
}

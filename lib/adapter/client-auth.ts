/**
 * Client authentication (docs/protocol.md §5): the `authenticate` hook an embedding program
 * gives a maze or a gateway, and the queue that runs it for every client connection.
 *
 * Invariants:
 * - The hook sees the credential (the id line's first field, or a refresh line, terminator
 *   stripped) and who sent it; never the rest of the line. Its answer is checked: anything
 *   but a user id in `0..MAX_SAFE_INTEGER` or a known refusal reason is a refusal
 *   (`subject`, `failed`), as is an `expiresAt` already past (`expired`); a hook that throws
 *   or rejects is the refusal `failed`. Nothing a hook does can crash the server.
 * - At most `MAX_AUTHENTICATIONS_IN_FLIGHT` hook calls are awaited at once, for all
 *   connections together; the others wait, id lines in arrival order ahead of every refresh
 *   (so refreshes never delay a client that identifies), one per connection at most (a
 *   connection reads on while its credential is checked, but holds no more than
 *   `MAX_TOKEN_LINE_LENGTH` of input meanwhile). A connection that goes away or runs out of
 *   time (its identify timeout, or `identifyTimeout` for a refresh) gives back its place or
 *   its slot at once: a hook that never settles cannot hold the queue. What is bounded is the
 *   calls awaited: a call given up may still be running in the hook, which must bound its
 *   own work.
 * - Refusals are counted by reason (`AuthStats`, one counter per `AUTH_REFUSALS` row) where
 *   they are decided; the credential is never stored beyond the call, reported or logged.
 */
import { MAX_ID } from '../core/constants.js';
import type { UserId } from '../core/events.js';
import { ErrorCode, MazeError } from '../errors.js';

/**
 * Longest id line a client may send when clients authenticate, terminator included (instead
 * of `maxIdLineLength`): a JWT signed with RS256 and a few claims is under 1 KiB.
 */
export const MAX_TOKEN_LINE_LENGTH = 4 * 1024;

/**
 * Hook calls awaited at once, all connections together (a call given up stops counting, see
 * the header): bounds the memory and the CPU that connecting clients can make the server
 * spend on verification. Measured with the CLI's JWT
 * hook, 64 at once: 45 µs per HS256 token, 60 µs RS256, 125 µs ES256 and EdDSA (against
 * 85-165 µs one at a time), so 19,000 clients reconnecting at once are all checked within
 * 1-2.5 s, well inside the identify timeout.
 */
const MAX_AUTHENTICATIONS_IN_FLIGHT = 64;

/**
 * Why a credential is refused: the JWT reasons, `failed` (the hook threw or answered
 * nonsense) and `too-frequent` (a refresh too soon after the last one). For each, the
 * `AuthStats` counter and what it counts (the help of its metric).
 */
export const AUTH_REFUSALS = {
  malformed: { stat: 'authMalformed', counts: 'Clients refused: malformed credential.' },
  signature: { stat: 'authSignature', counts: 'Clients refused: bad signature or algorithm.' },
  expired: { stat: 'authExpired', counts: 'Clients refused or closed: credential expired.' },
  'not-yet-valid': {
    stat: 'authNotYetValid',
    counts: 'Clients refused: credential not yet valid.',
  },
  audience: { stat: 'authAudience', counts: 'Clients refused: credential for another audience.' },
  issuer: { stat: 'authIssuer', counts: 'Clients refused: credential from another issuer.' },
  subject: {
    stat: 'authSubject',
    counts: 'Clients refused: no valid user id, or a refresh for another user.',
  },
  failed: {
    stat: 'authFailed',
    counts: 'Clients refused: the authenticate hook failed or did not answer in time.',
  },
  'too-frequent': {
    stat: 'authTooFrequent',
    counts: 'Clients closed: a fresh credential sooner than allowed after the last one.',
  },
} as const;

export type AuthRefusalReason = keyof typeof AUTH_REFUSALS;

/** The reasons, in the order of `AUTH_REFUSALS`. */
export const AUTH_REFUSAL_REASONS = Object.keys(AUTH_REFUSALS) as readonly AuthRefusalReason[];

/** The counter of each refusal reason. */
export type AuthRefusalStat = (typeof AUTH_REFUSALS)[AuthRefusalReason]['stat'];

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

/** Counters of authentication: accepted, pending, and refused by reason (`AUTH_REFUSALS`). */
export type AuthStats = {
  /** Credentials accepted (id lines and refreshes). */
  readonly authAccepted: number;
  /** Credentials being checked or waiting for a slot right now. */
  readonly authPending: number;
} & { readonly [Stat in AuthRefusalStat]: number };

/** The counters of a maze without a hook: all zero. */
export const NO_AUTH_STATS: AuthStats = { authAccepted: 0, authPending: 0, ...noRefusals() };

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

/** Runs the hook for every connection of a maze or gateway, with the bounds of the header. */
export class Authenticator {
  readonly #hook: Authenticate;
  readonly #now: () => number;
  /** Id lines waiting for a slot, oldest first: they go before any refresh. */
  readonly #waitingIds = new Set<Job>();
  /** Refreshes waiting for a slot, oldest first. */
  readonly #waitingRefreshes = new Set<Job>();
  #running = 0;
  /** Set while `#release()` starts waiting jobs. */
  #starting = false;
  #accepted = 0;
  readonly #refused: Record<AuthRefusalStat, number> = noRefusals();

  constructor(hook: Authenticate, now: () => number = Date.now) {
    this.#hook = hook;
    this.#now = now;
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
    else this.#queueOf(job).add(job);
    return job;
  }

  /** Counts a refusal where it is decided: the hook's, an expiry, a refresh for another user. */
  countRefusal(reason: AuthRefusalReason): void {
    this.#refused[AUTH_REFUSALS[reason].stat]++;
  }

  stats(): AuthStats {
    return {
      authAccepted: this.#accepted,
      authPending: this.#running + this.#waitingIds.size + this.#waitingRefreshes.size,
      ...this.#refused,
    };
  }

  /** Drops every waiting job (their connections are closing). */
  close(): void {
    this.#waitingIds.clear();
    this.#waitingRefreshes.clear();
  }

  #queueOf(job: Job): Set<Job> {
    return job.sender.userId === undefined ? this.#waitingIds : this.#waitingRefreshes;
  }

  #run(job: Job): void {
    job.running = true;
    this.#running++;
    // Everything about the answer is read inside the guard (a hook may answer anything,
    // `undefined` or an object whose `then` getter throws included); settling stays outside.
    let answer: unknown;
    let later: Promise<unknown> | undefined;
    try {
      answer = this.#hook(job.credential, job.sender);
      if (
        typeof answer === 'object' &&
        answer !== null &&
        typeof (answer as Partial<Promise<unknown>>).then === 'function'
      ) {
        later = Promise.resolve(answer);
      }
    } catch {
      answer = { refused: 'failed' };
    }
    if (later === undefined) {
      this.#settle(job, answer);
      return;
    }
    later.then(
      (outcome) => this.#settle(job, outcome),
      () => this.#settle(job, { refused: 'failed' }),
    );
  }

  #settle(job: Job, answer: unknown): void {
    if (job.settled) return;
    job.settled = true;
    this.#release(job);
    const outcome = checked(answer, this.#now());
    // Refusals are counted by the connection that acts on them (`countRefusal()`).
    if (!('refused' in outcome)) this.#accepted++;
    job.done(outcome);
  }

  #cancel(job: Job): void {
    if (job.settled) return;
    job.settled = true;
    this.#queueOf(job).delete(job);
    this.#release(job);
  }

  // Frees the job's slot (if it ran) for the oldest waiting ones, id lines first; a loop, not
  // a recursion, so a queue of sync answers cannot grow the stack.
  #release(job: Job): void {
    if (!job.running) return;
    job.running = false;
    this.#running--;
    if (this.#starting) return;
    this.#starting = true;
    try {
      while (this.#running < MAX_AUTHENTICATIONS_IN_FLIGHT) {
        const queue = this.#waitingIds.size > 0 ? this.#waitingIds : this.#waitingRefreshes;
        const next = queue.values().next();
        if (next.done === true) break;
        queue.delete(next.value);
        this.#run(next.value);
      }
    } finally {
      this.#starting = false;
    }
  }
}

function noRefusals(): Record<AuthRefusalStat, number> {
  const counts = {} as Record<AuthRefusalStat, number>;
  for (const reason of AUTH_REFUSAL_REASONS) counts[AUTH_REFUSALS[reason].stat] = 0;
  return counts;
}

// A hook is the embedder's code: its answer is checked like a peer's input.
function checked(answer: unknown, now: number): Authentication {
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
  // Accepted, it would be registered (and maybe sent a replay) only to be closed at once.
  if (expiresAt <= now) return { refused: 'expired' };
  return { userId: userId as UserId, expiresAt };
}

/**
 * `value` as an `authenticate` option: a function or `undefined`. Throws
 * `MazeError(ERR_INVALID_OPTION)` otherwise, rather than refusing every client later.
 */
export function authenticateOption(value: unknown): Authenticate | undefined {
  if (value === undefined || typeof value === 'function') return value as Authenticate | undefined;
  throw new MazeError(
    ErrorCode.InvalidOption,
    `authenticate must be a function (credential, sender) => Authentication, not ${value === null ? 'null' : typeof value}`,
  );
}

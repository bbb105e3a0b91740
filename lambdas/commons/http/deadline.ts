import type { StudyStore } from '../store/port.js';

/** Thrown at a commit point that the request's deadline no longer leaves time for: answered 503. */
export class DeadlineExceededError extends Error {
  constructor() {
    super('The request ran out of time before its commit point');
    this.name = 'DeadlineExceededError';
  }
}

/**
 * The time a request has, and whether it has passed its commit point. Built from the Lambda
 * context's remaining time less a margin, so that the 503 is written before the runtime is killed.
 * Once abandoned (its caller was answered 503), no commit may start; once committing, it finishes.
 */
export class Deadline {
  private state: 'open' | 'committing' | 'abandoned' = 'open';

  /**
   * @param at - Epoch ms by which the answer must be written.
   * @param now - The clock.
   */
  constructor(
    readonly at: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A deadline from a Lambda context.
   * @param context - The invocation context (absent or without a clock: no deadline).
   * @param marginMs - Kept free before the Lambda's own timeout.
   * @param now - The clock.
   * @returns The deadline.
   */
  static fromContext(context: { getRemainingTimeInMillis?: () => number } | undefined, marginMs: number, now: () => number = Date.now): Deadline {
    const remaining = context?.getRemainingTimeInMillis?.();
    return new Deadline(typeof remaining === 'number' && Number.isFinite(remaining) ? now() + remaining - marginMs : Number.POSITIVE_INFINITY, now);
  }

  /** Milliseconds left. */
  remaining(): number {
    return this.at - this.now();
  }

  /** Whether the request's commit has started (then it must be let finish). */
  get committing(): boolean {
    return this.state === 'committing';
  }

  /** Marks the request answered 503: a commit that it reaches later is refused. */
  abandon(): void {
    if (this.state === 'open') this.state = 'abandoned';
  }

  /**
   * The commit point: throws unless the request is still wanted and `reserveMs` remain for the
   * commit itself. The first successful call passes the commit point; later ones (the second write
   * of a batch) pass too, as the request must then finish.
   * @param reserveMs - The time a commit needs.
   * @throws DeadlineExceededError otherwise.
   */
  enterCommit(reserveMs: number): void {
    if (this.state === 'committing') return;
    if (this.state === 'abandoned' || this.remaining() < reserveMs) {
      this.state = 'abandoned';
      throw new DeadlineExceededError();
    }
    this.state = 'committing';
  }
}

const EXPIRED = Symbol('expired');

/**
 * Runs a request's work against its deadline: when the deadline passes before the commit point, the
 * request is abandoned (no commit may start afterwards) and `onTimeout` answers at once; after the
 * commit point the work is awaited, as its outcome is what the caller must be told.
 * @param deadline - The request's deadline.
 * @param work - The request's work.
 * @param onTimeout - The answer when the deadline passes first.
 * @returns The work's result, or `onTimeout`'s.
 */
export async function withinDeadline<T>(deadline: Deadline, work: () => Promise<T>, onTimeout: () => T): Promise<T> {
  if (!Number.isFinite(deadline.at)) return work();
  let timer: NodeJS.Timeout | undefined;
  const running = work();
  const expired = new Promise<typeof EXPIRED>((resolve) => {
    timer = setTimeout(() => resolve(EXPIRED), Math.max(0, deadline.remaining()));
  });
  try {
    const first = await Promise.race([running, expired]);
    if (first !== EXPIRED) return first;
    if (deadline.committing) return await running;
    deadline.abandon();
    // The abandoned work may still fail later; nobody awaits it.
    running.catch(() => undefined);
    return onTimeout();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The store as a request sees it: every commit first passes the deadline's commit point.
 * @param store - The store.
 * @param deadline - The request's deadline.
 * @param reserveMs - The time a commit needs.
 * @returns A store whose `commit` refuses to start too late.
 */
export function storeWithDeadline(store: StudyStore, deadline: Deadline, reserveMs: number): StudyStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'commit') {
        return (...args: Parameters<StudyStore['commit']>) => {
          deadline.enterCommit(reserveMs);
          return target.commit(...args);
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

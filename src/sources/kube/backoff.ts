// Exponential backoff with jitter, so that many replicas (or many informers in
// one replica) do not hammer a recovering API server in lock-step.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Defaults to Math.random; injectable so tests can pin the jitter. */
  random?: () => number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

/**
 * Delay before retry number `attempt` (0-based): the exponential ceiling
 * `initialMs * 2^attempt` capped at `maxMs`, then "equal jitter": half fixed,
 * half random, so the delay never collapses to zero.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Tracks consecutive failures of one retried operation. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions) {}

  /** The delay to wait before the next retry; each call counts one more failure. */
  next(): number {
    return backoffDelay(this.attempt++, this.options);
  }

  /** The delay the next retry would get, without counting a failure. */
  peek(): number {
    return backoffDelay(Math.max(0, this.attempt - 1), this.options);
  }

  reset(): void {
    this.attempt = 0;
  }

  get failures(): number {
    return this.attempt;
  }
}

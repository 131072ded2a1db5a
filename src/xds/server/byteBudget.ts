// The global cap on response bytes handed to ADS streams and not yet taken by their
// transports (HTTP/2 flow control). Every response, to a push or to a proxy's own request
// (the initial sync is all requests), is admitted here first: in arrival order, one at a time,
// so neither kind starves the other, and a response is written only once its bytes fit under
// the cap (or nothing else is in flight: one response larger than the cap still goes out).
// Admission comes before generation, so a waiting stream holds no response in memory, and
// what it then generates is the newest state.

/** One admitted response: `take` when its size is known, `done` in every case to let the next one in. */
export interface Admission {
  /** Waits until `bytes` fit under the cap, then counts them until the returned function is called (the transport took them). */
  take(bytes: number): Promise<() => void>;
  /** Ends this admission (after `take`, or with nothing to send); the next waiter is admitted. */
  done(): void;
}

/**
 * Bytes handed to streams and not yet taken by their transports, across all streams. A
 * response still waiting after `slowAfterMs` stops counting: its stream is slow or stuck, it
 * holds its own responses (its window, see AdsConnection) but must not hold back everyone else.
 */
export class ByteBudget {
  private queued = 0;
  private peak = 0;
  private readonly admissions: Array<() => void> = [];
  private admitting = false;
  private roomWaiter: (() => void) | undefined;
  private readonly listeners: Array<() => void> = [];

  constructor(
    readonly cap: number,
    private readonly slowAfterMs = 5_000,
  ) {}

  get queuedBytes(): number {
    return this.queued;
  }

  /** The most bytes ever counted at once. */
  get highWaterBytes(): number {
    return this.peak;
  }

  /** Responses waiting to be admitted (the one admitted and not done yet included). */
  get waitingResponses(): number {
    return this.admissions.length + (this.admitting ? 1 : 0);
  }

  get exhausted(): boolean {
    return this.queued >= this.cap;
  }

  /** Resolves when it is this caller's turn to build and write one response. */
  admit(): Promise<Admission> {
    return new Promise((resolve) => {
      this.admissions.push(() => resolve(this.admission()));
      this.admitNext();
    });
  }

  /** Counts `bytes` until the returned function is called (the transport took them) or the stream proves slow. */
  take(bytes: number): () => void {
    this.queued += bytes;
    this.peak = Math.max(this.peak, this.queued);
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      clearTimeout(timer);
      this.queued -= bytes;
      const waiter = this.roomWaiter;
      this.roomWaiter = undefined;
      waiter?.();
      if (!this.exhausted) this.listeners.forEach((l) => l());
    };
    const timer = setTimeout(uncount, this.slowAfterMs);
    timer.unref();
    return uncount;
  }

  onRelease(listener: () => void): void {
    this.listeners.push(listener);
  }

  private admitNext(): void {
    if (this.admitting) return;
    const next = this.admissions.shift();
    if (!next) return;
    this.admitting = true;
    next();
  }

  private admission(): Admission {
    let ended = false;
    return {
      take: async (bytes) => {
        while (this.queued > 0 && this.queued + bytes > this.cap) await new Promise<void>((resolve) => (this.roomWaiter = resolve));
        return this.take(bytes);
      },
      done: () => {
        if (ended) return;
        ended = true;
        this.admitting = false;
        this.admitNext();
      },
    };
  }
}

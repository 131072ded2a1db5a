// Runs work on the newest of the values submitted to it, one run at a time,
// never on the push path: a run starts in a later event-loop turn (after the
// pushes queued by the same change went out to their streams), at most one
// run is in flight, and values submitted meanwhile collapse into one pending
// value, the newest. A burst of changes costs one run, never a backlog.

export class LatestOnlyRunner<T> {
  private pending: { value: T; waiters: Array<() => void> } | undefined;
  private running: Promise<void> | undefined;
  private scheduled = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly work: (value: T) => void | Promise<void>,
    private readonly onError: (error: unknown) => void,
    /** Awaited before each run takes its value (e.g. until the pushes queued so far were written); must not reject. */
    private readonly before?: () => Promise<void>,
  ) {}

  /** Queues `value` in place of any value still waiting; resolves once a run that saw it (or a newer value) ended. */
  submit(value: T): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.pending = { value, waiters: [...(this.pending?.waiters ?? []), resolve] };
      this.schedule();
    });
  }

  /** True while a run is in flight or a value waits for one. */
  get busy(): boolean {
    return this.running !== undefined || this.pending !== undefined;
  }

  /** Resolves once nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops what waits (its waiters are released) and starts nothing more; a run in flight finishes on its own. */
  stop(): void {
    this.stopped = true;
    const waiters = this.pending?.waiters ?? [];
    this.pending = undefined;
    for (const w of waiters) w();
    if (!this.running) this.releaseIdle();
  }

  private schedule(): void {
    if (this.scheduled || this.running || !this.pending || this.stopped) return;
    this.scheduled = true;
    // setImmediate, not a microtask: the streams' writes of the push that submitted the value go first.
    setImmediate(() => {
      const go = (): void => {
        this.scheduled = false;
        this.start();
      };
      if (this.before) void this.before().then(go, go);
      else go();
    });
  }

  private start(): void {
    const next = this.pending;
    if (!next || this.running || this.stopped) return;
    this.pending = undefined;
    this.running = (async () => {
      try {
        await this.work(next.value);
      } catch (error) {
        this.onError(error);
      }
    })().finally(() => {
      this.running = undefined;
      for (const w of next.waiters) w();
      if (this.pending && !this.stopped) this.schedule();
      else this.releaseIdle();
    });
  }

  private releaseIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

// istiod's debounce: a burst of changes is merged and released after
// `afterMs` of quiet, or `maxMs` after the first change at the latest.

export interface DebounceOptions {
  afterMs: number;
  maxMs: number;
}

export class Debouncer<T> {
  private pending: T[] = [];
  private firstAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: DebounceOptions,
    private readonly release: (items: T[], firstAt: number) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  add(items: readonly T[]): void {
    if (items.length === 0) return;
    if (this.pending.length === 0) this.firstAt = this.now();
    this.pending.push(...items);
    this.schedule();
  }

  /** Releases whatever is pending right away. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.release(items, this.firstAt);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const sinceFirst = this.now() - this.firstAt;
    const wait = Math.max(0, Math.min(this.options.afterMs, this.options.maxMs - sinceFirst));
    this.timer = setTimeout(() => this.flush(), wait);
  }
}

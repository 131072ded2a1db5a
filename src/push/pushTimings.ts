// Where the time between a configuration change and its push goes, under
// istiod's metric names: pilot_debounce_time (the first change of a batch
// entering the debouncer to the merged push being queued, push context
// included) and pilot_pushcontext_init_seconds (building the push context);
// and one debug line per batch with the phases in milliseconds, as istiod
// logs "Push debounce stable".
import type { Logger } from 'pino';
import { Histogram, type Registry } from 'prom-client';

function histogram(registry: Registry, name: string, help: string, buckets: number[]): Histogram {
  return (registry.getSingleMetric(name) as Histogram | undefined) ?? new Histogram({ name, help, buckets, registers: [registry] });
}

/** The phases of one debounced batch, as monotonic ms times (performance.now()). */
export interface BatchTimes {
  /** The batch's first change entered the debouncer. */
  readonly firstAt: number;
  /** The debouncer released the batch. */
  readonly releasedAt: number;
  /** The push context reflecting the batch was built. */
  readonly builtAt: number;
  /** The push was handed to the push listeners (undefined: the batch needed no push). */
  readonly queuedAt?: number;
}

export class PushTimings {
  private readonly debounceTime: Histogram;
  private readonly contextInit: Histogram;

  constructor(
    registry: Registry,
    private readonly logger: Logger,
  ) {
    this.debounceTime = histogram(
      registry,
      'pilot_debounce_time',
      'Delay in seconds between the first config enters debouncing and the merged push request is pushed into the push queue (includes pushcontext_init_seconds).',
      [0.01, 0.1, 1, 3, 5, 10, 20, 30],
    );
    this.contextInit = histogram(
      registry,
      'pilot_pushcontext_init_seconds',
      'Total time in seconds Pilot takes to init pushContext.',
      [0.01, 0.1, 0.5, 1, 3, 5],
    );
  }

  /** Records one batch: its metrics and the debug line naming what it pushed and why. */
  batch(times: BatchTimes, changes: number, reason: readonly string[], types: ReadonlySet<string> | 'all' | 'none'): void {
    const { firstAt, releasedAt, builtAt, queuedAt } = times;
    this.contextInit.observe((builtAt - releasedAt) / 1000);
    if (queuedAt !== undefined) this.debounceTime.observe((queuedAt - firstAt) / 1000);
    if (!this.logger.isLevelEnabled('debug')) return;
    const ms = (from: number, to: number | undefined): number | null => (to === undefined ? null : Math.round((to - from) * 10) / 10);
    this.logger.debug(
      {
        changes,
        reason: reason.slice(0, 5),
        types: typeof types === 'string' ? types : [...types].map((t) => t.slice(t.lastIndexOf('.') + 1)),
        debounceMs: ms(firstAt, releasedAt),
        pushContextMs: ms(releasedAt, builtAt),
        queueMs: ms(builtAt, queuedAt),
        totalMs: ms(firstAt, queuedAt ?? builtAt),
      },
      'push debounce stable',
    );
  }
}

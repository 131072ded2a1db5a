// Pushes to many streams with bounded concurrency. A stream that is already
// waiting gets its pending request merged with the new one instead of a second
// entry, so a burst never queues more than one push per stream.
import type { PushRequest } from './types.js';

export interface PushTarget {
  readonly isOpen: boolean;
  push(request: PushRequest): Promise<void>;
}

/** Union of two push requests: every type either wanted, the earlier start, the later version and the state it was computed from. */
export function mergePushRequests(a: PushRequest, b: PushRequest): PushRequest {
  const types = a.types && b.types ? new Set([...a.types, ...b.types]) : undefined;
  return {
    version: b.version,
    ...(types ? { types } : {}),
    reason: [...a.reason, ...b.reason],
    startedAt: Math.min(a.startedAt, b.startedAt),
    ...(b.push !== undefined ? { push: b.push } : {}),
  };
}

export class PushQueue<T extends PushTarget> {
  private readonly pending = new Map<T, PushRequest>();
  private readonly order: T[] = [];
  private readonly running = new Set<T>();
  /** Requests that arrived for a stream while it was being pushed: run after it finishes. */
  private readonly rerun = new Map<T, PushRequest>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly concurrency: number) {}

  get size(): number {
    return this.pending.size + this.running.size;
  }

  enqueue(target: T, request: PushRequest): void {
    if (this.running.has(target)) {
      const later = this.rerun.get(target);
      this.rerun.set(target, later ? mergePushRequests(later, request) : request);
      return;
    }
    const queued = this.pending.get(target);
    if (queued) {
      this.pending.set(target, mergePushRequests(queued, request));
      return;
    }
    this.pending.set(target, request);
    this.order.push(target);
    this.drain();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    while (this.running.size < this.concurrency && this.order.length > 0) {
      const target = this.order.shift()!;
      const request = this.pending.get(target);
      this.pending.delete(target);
      if (!request || !target.isOpen) continue;
      this.running.add(target);
      void target.push(request).finally(() => {
        this.running.delete(target);
        const again = this.rerun.get(target);
        if (again) {
          this.rerun.delete(target);
          this.enqueue(target, again);
        }
        this.drain();
      });
    }
    if (this.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }
}

// Pushes to many streams with bounded concurrency (istiod's PILOT_PUSH_THROTTLE)
// and a global cap on the bytes written but not yet taken by the transport.
// A stream holds at most one pending push: a newer one merges into it, so a
// burst, or a stream too slow to take its bytes, never queues more than one.
// A stream that cannot take bytes now hands back what it did not send and is
// parked, outside the concurrency slots, until its transport has taken the
// last response; then the (merged, newest) remainder queues again. So a slow
// or stuck proxy costs its own last response and nothing else.
import { ByteBudget } from './byteBudget.js';
import type { PushRequest } from './types.js';

export interface PushTarget {
  readonly isOpen: boolean;
  /**
   * Sends what the request concerns while the stream takes bytes. Resolves to
   * the part not sent because the stream is still busy with an earlier
   * response (to be pushed once `writable()` resolves), or undefined when done.
   */
  push(request: PushRequest): Promise<PushRequest | undefined>;
  /** Resolves once the stream's transport took its last response (or the stream closed). */
  writable(): Promise<void>;
}

const maxMergedReasons = 32;

/** Union of two push requests: every type either wanted, the earlier start, the later version and the state it was computed from. */
export function mergePushRequests(a: PushRequest, b: PushRequest): PushRequest {
  const types = a.types && b.types ? new Set([...a.types, ...b.types]) : undefined;
  return {
    version: b.version,
    ...(types ? { types } : {}),
    // Bounded: a stream parked through many pushes must not grow its pending request.
    reason: [...new Set([...a.reason, ...b.reason])].slice(-maxMergedReasons),
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
  /** Streams waiting for their transport, with what is left to push to them. */
  private readonly parked = new Map<T, PushRequest>();
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly budget: ByteBudget = new ByteBudget(Number.POSITIVE_INFINITY),
  ) {
    budget.onRelease(() => this.drain());
  }

  /** Streams with a push queued, running or waiting for their transport. */
  get size(): number {
    return this.pending.size + this.running.size + this.parked.size;
  }

  enqueue(target: T, request: PushRequest): void {
    if (this.running.has(target)) {
      const later = this.rerun.get(target);
      this.rerun.set(target, later ? mergePushRequests(later, request) : request);
      return;
    }
    const parked = this.parked.get(target);
    if (parked) {
      this.parked.set(target, mergePushRequests(parked, request));
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

  /** Resolves when nothing is queued, running or waiting for a transport. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private drain(): void {
    while (this.running.size < this.concurrency && !this.budget.exhausted && this.order.length > 0) {
      const target = this.order.shift()!;
      const request = this.pending.get(target);
      this.pending.delete(target);
      if (!request || !target.isOpen) continue;
      this.running.add(target);
      void target.push(request).then(
        (unsent) => this.finished(target, unsent),
        () => this.finished(target, undefined),
      );
    }
    if (this.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
  }

  private finished(target: T, unsent: PushRequest | undefined): void {
    this.running.delete(target);
    const again = this.rerun.get(target);
    this.rerun.delete(target);
    const left = unsent && again ? mergePushRequests(unsent, again) : (unsent ?? again);
    if (left && unsent && target.isOpen) {
      // Busy transport: wait outside the slots; newer pushes merge into `left` meanwhile.
      this.parked.set(target, left);
      void target.writable().then(() => {
        const resume = this.parked.get(target);
        this.parked.delete(target);
        if (resume && target.isOpen) this.enqueue(target, resume);
        else this.drain();
      });
    } else if (left && target.isOpen) {
      this.enqueue(target, left);
    }
    this.drain();
  }
}

// The push queue's rules with plain targets: a busy stream is parked outside the
// concurrency slots with one merged request, and the byte budget holds new pushes.
import { describe, expect, it, vi } from 'vitest';
import { ByteBudget } from '../../src/xds/server/byteBudget.js';
import { PushQueue, type PushTarget } from '../../src/xds/server/pushQueue.js';
import type { PushRequest } from '../../src/xds/server/types.js';

const request = (version: string): PushRequest => ({ version, reason: [version], startedAt: 0 });

/** A stream whose transport is busy until `free()`: pushes to it are handed back unsent. */
class Target implements PushTarget {
  readonly isOpen = true;
  readonly pushed: string[] = [];
  private busy: { promise: Promise<void>; resolve: () => void } | undefined;

  block(): void {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.busy = { promise, resolve };
  }

  free(): void {
    const busy = this.busy;
    this.busy = undefined;
    busy?.resolve();
  }

  push(r: PushRequest): Promise<PushRequest | undefined> {
    if (this.busy) return Promise.resolve(r);
    this.pushed.push(r.version);
    return Promise.resolve(undefined);
  }

  writable(): Promise<void> {
    return this.busy?.promise ?? Promise.resolve();
  }
}

const settled = () => new Promise((r) => setImmediate(r));

describe('PushQueue', () => {
  it('parks a busy stream without holding a slot, merges later pushes into one, and sends the newest once it can write', async () => {
    const queue = new PushQueue<Target>(1);
    const stuck = new Target();
    const healthy = new Target();
    stuck.block();
    queue.enqueue(stuck, request('v1'));
    queue.enqueue(healthy, request('v1'));
    await settled();
    for (const v of ['v2', 'v3']) {
      queue.enqueue(stuck, request(v));
      queue.enqueue(healthy, request(v));
      await settled();
    }
    expect(healthy.pushed).toEqual(['v1', 'v2', 'v3']);
    expect(stuck.pushed).toEqual([]);
    stuck.free();
    await queue.idle();
    expect(stuck.pushed).toEqual(['v3']);
  });

  it('starts no push while the queued bytes exceed the budget, and resumes when they are released', async () => {
    const budget = new ByteBudget(100);
    const queue = new PushQueue<Target>(10, budget);
    const target = new Target();
    const taken = budget.take(150);
    queue.enqueue(target, request('v1'));
    await settled();
    expect(target.pushed).toEqual([]);
    taken();
    await queue.idle();
    expect(target.pushed).toEqual(['v1']);
  });

  it('stops counting a response its stream has not taken after slowAfterMs, so stuck streams cannot exhaust the budget', () => {
    vi.useFakeTimers();
    try {
      const budget = new ByteBudget(100, 1_000);
      const stuck = budget.take(150);
      expect(budget.exhausted).toBe(true);
      vi.advanceTimersByTime(999);
      expect(budget.queuedBytes).toBe(150);
      vi.advanceTimersByTime(1);
      expect(budget.queuedBytes).toBe(0);
      // The transport taking it later changes nothing more.
      stuck();
      expect(budget.queuedBytes).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

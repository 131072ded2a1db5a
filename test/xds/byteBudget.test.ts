// The global byte budget's admission: in arrival order, one response at a time, each written
// only once its bytes fit under the cap (or nothing else is in flight).
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../src/xds/server/byteBudget.js';

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ByteBudget admission', () => {
  it('admits responses in arrival order, one at a time', async () => {
    const budget = new ByteBudget(1_000);
    const order: string[] = [];
    const first = await budget.admit();
    const waiting = ['a', 'b'].map((name) => budget.admit().then((admission) => (order.push(name), admission)));
    await settled();
    expect(order).toEqual([]);
    expect(budget.waitingResponses).toBe(3);
    first.done();
    const a = await waiting[0]!;
    await settled();
    expect(order).toEqual(['a']);
    a.done();
    (await waiting[1]!).done();
    expect(order).toEqual(['a', 'b']);
    expect(budget.waitingResponses).toBe(0);
  });

  it('writes a response only once its bytes fit under the cap, and never counts more than the cap', async () => {
    const budget = new ByteBudget(100);
    const first = await budget.admit();
    const releaseFirst = await first.take(60);
    first.done();
    const second = await budget.admit();
    let taken: (() => void) | undefined;
    void second.take(60).then((release) => (taken = release));
    await settled();
    expect(taken).toBeUndefined();
    releaseFirst();
    await settled();
    expect(taken).toBeDefined();
    second.done();
    expect(budget.queuedBytes).toBe(60);
    expect(budget.highWaterBytes).toBe(60);
  });

  it('lets one response larger than the cap out when nothing else is in flight', async () => {
    const budget = new ByteBudget(100);
    const admission = await budget.admit();
    const release = await admission.take(250);
    admission.done();
    expect(budget.queuedBytes).toBe(250);
    release();
    expect(budget.queuedBytes).toBe(0);
  });
});

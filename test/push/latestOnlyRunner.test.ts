// LatestOnlyRunner: one run at a time, the newest value wins, a failing run
// does not stop later ones, and stop() releases whoever waits.
import { describe, expect, it } from 'vitest';
import { LatestOnlyRunner } from '../../src/push/latestOnlyRunner.js';

describe('LatestOnlyRunner', () => {
  it("never runs in the caller's turn, runs one value at a time and skips values a newer one replaced", async () => {
    const ran: number[] = [];
    let release = (): void => undefined;
    const runner = new LatestOnlyRunner<number>(
      async (n) => {
        ran.push(n);
        if (n === 1) await new Promise<void>((resolve) => (release = resolve));
      },
      () => undefined,
    );
    const first = runner.submit(1);
    expect(ran).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual([1]);
    const waits = [2, 3, 4].map((n) => runner.submit(n));
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual([1]);
    release();
    await Promise.all([first, ...waits]);
    await runner.idle();
    expect(ran).toEqual([1, 4]);
  });

  it('reports a failing run and goes on with the next value', async () => {
    const errors: unknown[] = [];
    const ran: string[] = [];
    const runner = new LatestOnlyRunner<string>(
      (v) => {
        if (v === 'bad') throw new Error('broken');
        ran.push(v);
      },
      (e) => errors.push(e),
    );
    await runner.submit('bad');
    await runner.submit('good');
    expect(ran).toEqual(['good']);
    expect(errors).toHaveLength(1);
  });

  it('stop() releases the waiters of a value not yet run and runs nothing more', async () => {
    const ran: number[] = [];
    const runner = new LatestOnlyRunner<number>(
      (n) => void ran.push(n),
      () => undefined,
    );
    const waiting = runner.submit(1);
    runner.stop();
    await waiting;
    await runner.submit(2);
    await runner.idle();
    expect(ran).toEqual([]);
  });
});

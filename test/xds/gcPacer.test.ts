// Garbage collection paced by written response bytes (issue 13: the frames grpc-js copies
// every response into outlive V8's young generation, and V8 alone left hundreds of MB of them
// uncollected during an initial sync).
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Meshd } from '../../src/meshd.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { GcPacer } from '../../src/xds/server/gcPacer.js';
import { SnapshotSource } from '../../src/xds/snapshotGenerator.js';
import { AdsTestClient, eventually, sidecarNode } from '../support/adsClient.js';
import { startTestMeshd } from '../support/meshdHarness.js';
import { cluster } from '../support/xdsFixtures.js';

describe('GcPacer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const pacer = (everyBytes: number, idleBytes?: number): { pacer: GcPacer; runs: () => number } => {
    let runs = 0;
    const p = new GcPacer({ everyBytes, ...(idleBytes !== undefined ? { idleBytes } : {}), idleMs: 1_000, collect: () => runs++ });
    return { pacer: p, runs: () => runs };
  };

  it('collects once per everyBytes written, after the current I/O turn, and coalesces', () => {
    vi.useFakeTimers();
    const { pacer: p, runs } = pacer(100, 1_000);
    p.written(60);
    vi.runAllTicks();
    vi.advanceTimersToNextTimer();
    expect(runs()).toBe(0);
    p.written(60);
    p.written(500);
    expect(runs()).toBe(0); // not inside the write callback
    vi.advanceTimersToNextTimer();
    expect(runs()).toBe(1);
    expect(p.collections.count).toBe(1);
    // The count starts again after a collection.
    p.written(99);
    vi.advanceTimersToNextTimer();
    expect(runs()).toBe(1);
    p.written(1);
    vi.advanceTimersToNextTimer();
    expect(runs()).toBe(2);
  });

  it('collects what is left once writing stops, and not for a few bytes', () => {
    vi.useFakeTimers();
    const { pacer: p, runs } = pacer(1_000, 50);
    p.written(10);
    vi.advanceTimersByTime(5_000);
    expect(runs()).toBe(0);
    p.written(60);
    vi.advanceTimersByTime(900);
    p.written(10); // still writing: the idle collection waits again
    vi.advanceTimersByTime(900);
    expect(runs()).toBe(0);
    vi.advanceTimersByTime(200);
    expect(runs()).toBe(1);
    // Nothing written since: no further collection.
    vi.advanceTimersByTime(5_000);
    expect(runs()).toBe(1);
  });

  it('does nothing when disabled', () => {
    vi.useFakeTimers();
    const { pacer: p, runs } = pacer(0);
    p.written(1e12);
    vi.advanceTimersByTime(10_000);
    expect(runs()).toBe(0);
  });

  it('runs a real full collection by default', () => {
    const p = new GcPacer({ everyBytes: 1, idleMs: 60_000 });
    p.written(1);
    return eventually(() => p.collections.count === 1).then(() => {
      expect(p.collections.seconds).toBeGreaterThan(0);
      p.stop();
    });
  });
});

describe('meshd serve paces collections by ADS response bytes', () => {
  let meshd: Meshd | undefined;
  afterEach(async () => {
    await meshd?.close();
  });

  it('collects after --xds-gc-bytes of responses and counts it in /metrics', async () => {
    const source = new SnapshotSource([TypeUrl.Cluster]);
    source.generator.setResources(
      TypeUrl.Cluster,
      Array.from({ length: 50 }, (_, i) => cluster(`c${i}`)),
    );
    const started = await startTestMeshd({ resources: source }, { gcEveryResponseBytes: 1024 });
    meshd = started.meshd;
    const client = new AdsTestClient(started.xdsAddress, 'sotw', sidecarNode('paced'));
    try {
      client.request(TypeUrl.Cluster);
      const response = await client.next();
      expect(response.resources.length).toBe(50);
      const count = await eventually(async () => {
        const metrics = await (await fetch(`${started.httpUrl}/metrics`)).text();
        const n = Number(/^meshd_xds_paced_gc_total (\d+)$/m.exec(metrics)?.[1] ?? 0);
        return n > 0 ? n : undefined;
      });
      expect(count).toBeGreaterThanOrEqual(1);
    } finally {
      client.close();
    }
  });
});

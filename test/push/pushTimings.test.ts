// Where a change's time goes before its push, under istiod's metric names
// (pilot_debounce_time, pilot_pushcontext_init_seconds) and in one debug line
// per debounced batch; the file source's scans say how long they took.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/captureLogger.js';
import { startFilePipeline } from '../support/filePipeline.js';

const service = (port: number) => `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.9, selector: {app: reviews}, ports: [{name: http, port: ${port}}]}
`;
const namespace = (team: string) => `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: ${team}}}
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function sampleCount(registry: import('prom-client').Registry, name: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const count = metric?.values.find((v) => (v as { metricName?: string }).metricName === `${name}_count`);
  return count?.value ?? 0;
}

describe('push timings', () => {
  it('records the debounce and the push context of every batch, and logs their phases with what the push carries', async () => {
    const started = await startFilePipeline({ 'reviews.yaml': service(9080), 'namespace.yaml': namespace('a') });
    cleanups.push(started.stop);
    const { registry, lines, pushes, write } = started;
    expect(await sampleCount(registry, 'pilot_debounce_time')).toBe(0);

    await write('reviews.yaml', service(9081));
    await waitFor(() => pushes.length === 1, 'the push of the Service change');
    expect(await sampleCount(registry, 'pilot_debounce_time')).toBe(1);
    expect(await sampleCount(registry, 'pilot_pushcontext_init_seconds')).toBe(1);
    const batch = lines.find((l) => l.msg === 'push debounce stable');
    expect(batch).toMatchObject({ changes: 1, reason: ['Service/shop/reviews'], types: ['Cluster', 'Listener', 'RouteConfiguration'] });
    for (const phase of ['debounceMs', 'pushContextMs', 'queueMs', 'totalMs']) expect(batch?.[phase]).toEqual(expect.any(Number));
    expect(batch!.totalMs as number).toBeGreaterThanOrEqual(batch!.debounceMs as number);

    // A change nothing is pushed for (a Namespace's labels, no Gateway API) builds a context, queues no push.
    await write('namespace.yaml', namespace('b'));
    await waitFor(() => lines.filter((l) => l.msg === 'push debounce stable').length === 2, 'the Namespace batch');
    expect(lines.filter((l) => l.msg === 'push debounce stable')[1]).toMatchObject({ reason: ['Namespace//shop'], types: 'none', queueMs: null });
    expect(await sampleCount(registry, 'pilot_pushcontext_init_seconds')).toBe(2);
    expect(await sampleCount(registry, 'pilot_debounce_time')).toBe(1);
    expect(pushes).toHaveLength(1);

    // A write can raise more than one fs event (truncate, then data), so more than one one-file scan may
    // run; the one that found the change delivered it, having read that file alone.
    const scans = lines.filter((l) => l.msg === 'config-dir scanned' && l.read === 1);
    expect(scans.find((l) => l.events === 1)).toMatchObject({ files: 2, events: 1, scanMs: expect.any(Number), sinceEventMs: expect.any(Number) });
  });
});

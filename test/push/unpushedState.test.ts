// A batch of changes that reaches no proxy (a ConfigMap nothing reads, the CA's
// root-cert ConfigMaps at start-up) pushes nothing, yet makes a new push context.
// Proxies' own requests must be answered in that context, as istiod's global push
// context moves on with every batch: otherwise what they built (a whole initial
// sync, in Kubernetes mode) lands in a context the next push context is not built
// from, and the first change after it rebuilds everything (issue 13: the first
// round of every scenario was the slowest).
import { afterEach, describe, expect, it } from 'vitest';
import type { PushRequest } from '../../src/xds/server/types.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, sidecarNode } from '../support/adsClient.js';
import { waitFor } from '../support/captureLogger.js';
import { startFileMeshd } from '../support/filePipeline.js';
import { shopReviewsSlice } from '../support/reviewsMesh.js';

const service = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.9, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
`;
const configMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {colour: blue}
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('a batch that pushes nothing', () => {
  it('still moves proxies to its push context, so the next push context inherits what their requests built', async () => {
    const started = await startFileMeshd({ 'service.yaml': service, 'slice.yaml': shopReviewsSlice('10.1.0.1') });
    cleanups.push(started.stop);
    const { pipeline, pushes } = started;
    const states: PushRequest[] = [];
    pipeline.onUnpushedState((r) => states.push(r));

    await started.write('settings.yaml', configMap);
    await waitFor(() => states.length === 1, 'the ConfigMap batch');
    expect(pushes).toEqual([]);
    const unpushed = pipeline.current();
    expect(states[0]!.push).toBe(unpushed);
    expect(started.meshd.ads.latestRequest()).toMatchObject({ version: states[0]!.version, push: unpushed });

    // A proxy connecting now is answered in that context: its clusters are built there.
    const client = new AdsTestClient(started.xdsAddress, 'sotw', sidecarNode('client', 'shop'));
    cleanups.push(async () => client.close());
    client.request(TypeUrl.Cluster);
    const clusters = await client.next();
    expect(clusters.versionInfo).toBe(states[0]!.version);
    client.ack(clusters);
    const built = [...unpushed.cache.values()].find((c) => c.entry.kind === 'scope-clusters');
    expect(built).toBeDefined();

    // An endpoint change keeps every cluster: the next context takes over the very result.
    await started.write('slice.yaml', shopReviewsSlice('10.1.0.2'));
    await waitFor(() => pushes.length === 1, 'the endpoint push');
    expect(pipeline.current()).not.toBe(unpushed);
    expect(pipeline.current().cache.get(built!.entry.key)).toBe(built);
  });
});

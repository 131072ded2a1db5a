// Analysis never delays a push: it runs after the push context's push went
// out, one run at a time, on the newest context only. An analysis held until
// the test releases it shows both: the push reaches a connected proxy while
// the analysis of its context is still running, and changes made meanwhile
// cost one more analysis (of the newest context), not one each.
import { afterEach, describe, expect, it } from 'vitest';
import type { PushContext } from '../../src/push/pushContext.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, sidecarNode, type ReceivedResponse } from '../support/adsClient.js';
import { waitFor } from '../support/captureLogger.js';
import { startFileMeshd, startFilePipeline } from '../support/filePipeline.js';

const service = (name: string, port: number) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {clusterIP: 10.96.0.${port % 250}, selector: {app: ${name}}, ports: [{name: http, port: ${port}}]}
`;

const slice = (ip: string) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-abc, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints: [{addresses: [${ip}]}]
`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An analysis task that records which contexts it analysed and holds each run until released. */
function heldAnalysis() {
  const started: number[] = [];
  const finished: number[] = [];
  let release: () => void = () => undefined;
  let gate = Promise.resolve();
  return {
    started,
    finished,
    hold: () => {
      gate = new Promise<void>((resolve) => (release = resolve));
    },
    release: () => release(),
    task: async (context: PushContext) => {
      started.push(context.id);
      await gate;
      finished.push(context.id);
    },
  };
}

async function nextClusters(client: AdsTestClient): Promise<ReceivedResponse> {
  const response = await client.next();
  expect(response.typeUrl).toBe(TypeUrl.Cluster);
  client.ack(response);
  return response;
}

const clusterNames = (r: ReceivedResponse) => r.resources.map((x) => x.name);

describe('analysis off the push path', () => {
  it('pushes to a connected proxy while the analysis of that push context is still running, and coalesces changes made meanwhile', async () => {
    const meshd = await startFileMeshd({ 'reviews.yaml': service('reviews', 9080) });
    cleanups.push(meshd.stop);
    const { pipeline } = meshd;
    await pipeline.analysisIdle();
    const analysis = heldAnalysis();
    pipeline.onAnalysis(analysis.task);

    const client = new AdsTestClient(meshd.xdsAddress, 'sotw', sidecarNode('client', 'shop'));
    cleanups.push(() => client.close());
    client.request(TypeUrl.Cluster);
    expect(clusterNames(await nextClusters(client))).toContain('outbound|9080||reviews.shop.svc.cluster.local');

    // The analysis of the next context is held: its push must reach the proxy all the same.
    analysis.hold();
    await meshd.write('ratings.yaml', service('ratings', 9081));
    const withRatings = await nextClusters(client);
    expect(clusterNames(withRatings)).toContain('outbound|9081||ratings.shop.svc.cluster.local');
    const ratingsContext = pipeline.current().id;
    await waitFor(() => analysis.started.includes(ratingsContext), 'the analysis of the ratings push context to start');
    expect(analysis.finished).not.toContain(ratingsContext);

    // Three more changes while that analysis is held: each is pushed, none is analysed yet.
    const contexts: number[] = [];
    for (const [name, port] of [
      ['details', 9082],
      ['orders', 9083],
      ['payments', 9084],
    ] as const) {
      await meshd.write(`${name}.yaml`, service(name, port));
      expect(clusterNames(await nextClusters(client))).toContain(`outbound|${port}||${name}.shop.svc.cluster.local`);
      contexts.push(pipeline.current().id);
    }
    expect(analysis.started).toEqual([ratingsContext]);

    // Released: one more analysis, of the newest context only.
    analysis.release();
    await waitFor(() => analysis.finished.includes(contexts.at(-1)!), 'the analysis of the newest push context');
    await pipeline.analysisIdle();
    expect(analysis.started).toEqual([ratingsContext, contexts.at(-1)]);
    expect(analysis.finished).toEqual([ratingsContext, contexts.at(-1)]);
  });

  it('waits until the pushes queued before it were written, for at most the given time, and then analyses the newest context', async () => {
    const started = await startFilePipeline({ 'reviews.yaml': service('reviews', 9080) });
    cleanups.push(started.stop);
    const { pipeline, pushes, write } = started;
    await pipeline.analysisIdle();
    const analysed: number[] = [];
    pipeline.onAnalysis((context) => void analysed.push(context.id));
    let written: () => void = () => undefined;
    const pushesWritten = new Promise<void>((resolve) => (written = resolve));
    pipeline.holdAnalysisUntil(() => pushesWritten, 600_000);

    await write('ratings.yaml', service('ratings', 9081));
    await waitFor(() => pushes.length === 1, 'the push of ratings');
    // A second change is debounced, built and pushed meanwhile: the analysis still waits for the writes.
    await write('details.yaml', service('details', 9082));
    await waitFor(() => pushes.length === 2, 'the push of details');
    expect(analysed).toEqual([]);
    written();
    await waitFor(() => analysed.length > 0, 'the analysis once the pushes were written');
    await pipeline.analysisIdle();
    expect(analysed).toEqual([pipeline.current().id]);

    // Pushes that are never written (a stuck stream) hold it back only for the bound.
    pipeline.holdAnalysisUntil(() => new Promise<void>(() => undefined), 20);
    await write('orders.yaml', service('orders', 9083));
    await waitFor(() => pushes.length === 3, 'the push of orders');
    await waitFor(() => analysed.includes(pipeline.current().id), 'the analysis after the bound');
  });

  it('does not analyse again after a batch of EndpointSlice changes only, and does after any other change', async () => {
    const started = await startFilePipeline({ 'reviews.yaml': service('reviews', 9080), 'slice.yaml': slice('10.1.0.1') });
    cleanups.push(started.stop);
    const { pipeline, pushes, write } = started;
    await pipeline.analysisIdle();
    const analysed: number[] = [];
    pipeline.onAnalysis((context) => void analysed.push(context.id));

    await write('slice.yaml', slice('10.1.0.2'));
    await waitFor(() => pushes.length === 1, 'the push of the endpoint change');
    expect(pushes[0]!.reason).toEqual(['EndpointSlice/shop/reviews-abc']);
    await pipeline.analysisIdle();
    expect(analysed).toEqual([]);

    await write('ratings.yaml', service('ratings', 9081));
    await waitFor(() => pushes.length === 2, 'the push of ratings');
    await waitFor(() => analysed.includes(pipeline.current().id), 'the analysis of the ratings push context');
  });
});

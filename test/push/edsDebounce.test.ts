// istiod's PILOT_ENABLE_EDS_DEBOUNCE: by default an endpoint change waits for
// the debounce like any other; set to false, it is pushed at once, taking the
// changes that were waiting with it (one push context holds every change made
// before it).
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { addServeFlags, configFromFlags, type ServeFlags } from '../../src/cli/meshdFlags.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { waitFor } from '../support/captureLogger.js';
import { startFilePipeline } from '../support/filePipeline.js';
import { shopReviewsSlice } from '../support/reviewsMesh.js';

const service = (port: number) => `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.9, selector: {app: reviews}, ports: [{name: http, port: ${port}}]}
`;

const pod = (version: string) => `apiVersion: v1
kind: Pod
metadata: {name: reviews-0, namespace: shop, labels: {app: reviews, version: ${version}}}
spec: {containers: [{name: app, image: reviews}]}
status: {podIP: 10.1.0.1, phase: Running, conditions: [{type: Ready, status: "True"}]}
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A pipeline whose debounce would hold any push for a minute. */
async function start(edsDebounce: boolean) {
  const started = await startFilePipeline(
    { 'service.yaml': service(9080), 'slice.yaml': shopReviewsSlice('10.1.0.1', 8080), 'pod.yaml': pod('v1') },
    { debounceAfterMs: 60_000, debounceMaxMs: 120_000, edsDebounce },
  );
  cleanups.push(started.stop);
  return started;
}

describe('PILOT_ENABLE_EDS_DEBOUNCE', () => {
  it('false: an endpoint change is pushed without waiting for the quiet time, with the changes that were waiting', async () => {
    const { pipeline, pushes, write } = await start(false);
    await write('slice.yaml', shopReviewsSlice('10.1.0.2', 8080));
    await waitFor(() => pushes.length === 1, 'the endpoint push, a minute before the debounce would release it');
    expect(pushes[0]!.reason).toEqual(['EndpointSlice/shop/reviews-1']);
    expect([...pushes[0]!.types!]).toEqual([TypeUrl.ClusterLoadAssignment]);
    expect(
      pipeline
        .current()
        .endpoints('reviews.shop.svc.cluster.local', 9080)
        .map((e) => e.address),
    ).toEqual(['10.1.0.2']);

    // A Service change waits for the debounce, until an endpoint change takes it along.
    await write('service.yaml', service(9081));
    const modelPort = () =>
      (pipeline.model.snapshot().get('Service')?.get('shop/reviews')?.object.spec as { ports?: { port: number }[] } | undefined)?.ports?.[0]?.port;
    await waitFor(() => modelPort() === 9081, 'the Service change in the model');
    await write('slice.yaml', shopReviewsSlice('10.1.0.3', 8080));
    await waitFor(() => pushes.length === 2, 'the second endpoint push');
    expect(pushes[1]!.reason).toEqual(['Service/shop/reviews', 'EndpointSlice/shop/reviews-1']);
    expect(
      pipeline
        .current()
        .service('reviews.shop.svc.cluster.local')
        ?.ports.map((p) => p.port),
    ).toEqual([9081]);
  });

  it('false: a Pod change (its labels pick the subsets its endpoint is in) is pushed at once too; true: it waits', async () => {
    const off = await start(false);
    await off.write('pod.yaml', pod('v2'));
    await waitFor(() => off.pushes.length === 1, 'the Pod push, a minute before the debounce would release it');
    expect(off.pushes[0]!.reason).toEqual(['Pod/shop/reviews-0']);
    expect(off.pushes[0]!.types).toContain(TypeUrl.ClusterLoadAssignment);

    const on = await start(true);
    await on.write('pod.yaml', pod('v2'));
    const labels = () => on.pipeline.model.snapshot().get('Pod')?.get('shop/reviews-0')?.object.metadata.labels;
    await waitFor(() => labels()?.version === 'v2', 'the Pod change in the model');
    // Nothing else would release it: the debounce holds it for its minute.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(on.pushes).toEqual([]);
  });

  it('is read from the environment as istiod reads it: on unless set to false', () => {
    const parse = (env: NodeJS.ProcessEnv) => {
      const flags = addServeFlags(new Command('serve')).parse(['--config-dir', '/tmp'], { from: 'user' }).opts<ServeFlags>();
      return configFromFlags(flags, env).edsDebounce;
    };
    expect([parse({}), parse({ PILOT_ENABLE_EDS_DEBOUNCE: 'true' }), parse({ PILOT_ENABLE_EDS_DEBOUNCE: 'false' })]).toEqual([true, true, false]);
  });
});

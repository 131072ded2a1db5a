// VirtualService durations are parsed once per route object where the push context indexes VirtualServices,
// and generation reads that parsed form instead of parsing the strings again.
import { describe, expect, it } from 'vitest';
import { PushContext } from '../../src/push/pushContext.js';
import { httpRouteDurations } from '../../src/push/routeDurations.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import type { KubeObject } from '../../src/model/kube.js';
import { meshFromYaml } from '../support/goldenMesh.js';

const virtualService = (timeout: string): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'shop' },
  spec: {
    hosts: ['reviews'],
    http: [
      {
        route: [{ destination: { host: 'reviews' } }],
        timeout,
        retries: { attempts: 2, perTryTimeout: '1.5s' },
        fault: { delay: { fixedDelay: '250ms', percentage: { value: 10 } } },
        corsPolicy: { allowOrigins: [{ exact: 'https://a.example' }], maxAge: '1h' },
      },
    ],
  },
});
const service = (name: string, ip: string) => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {clusterIP: ${ip}, ports: [{name: http, port: 9080}]}
---
`;

function mesh() {
  return meshFromYaml(`${service('reviews', '10.96.0.1')}${JSON.stringify(virtualService('3s'))}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}, annotations: {golden.meshd.io/proxy: "true"}}
`);
}

const firstRoute = (context: PushContext) => context.virtualServices[0]!.spec.http![0]!;

describe('VirtualService durations', () => {
  it('generation puts the parsed form of the route in the route action, the retry policy, the fault and the CORS filter', () => {
    const { context, proxies } = mesh();
    const durations = httpRouteDurations(firstRoute(context));
    expect(durations).toEqual({
      timeout: { seconds: 3, nanos: 0 },
      perTryTimeout: { seconds: 1, nanos: 500_000_000 },
      faultDelay: { seconds: 0, nanos: 250_000_000 },
      corsMaxAge: { seconds: 3600, nanos: 0 },
    });
    const routes = new SidecarGenerator(() => context).describe(context, proxies[0]!).routes;
    type Route = {
      route?: { timeout: unknown; maxStreamDuration: { maxStreamDuration: unknown }; retryPolicy: { perTryTimeout: unknown } };
      typedPerFilterConfig?: Record<string, { delay?: { fixedDelay: unknown }; maxAge?: string }>;
    };
    const route = routes
      .flatMap((rc) => (rc.virtualHosts as { routes: Route[] }[]).flatMap((vh) => vh.routes))
      .find((r) => r.typedPerFilterConfig?.['envoy.filters.http.fault']);
    // The very objects parsed where the context indexed the VirtualService: generation parsed nothing again.
    expect(route?.route?.timeout).toBe(durations.timeout);
    expect(route?.route?.maxStreamDuration.maxStreamDuration).toBe(durations.timeout);
    expect(route?.route?.retryPolicy.perTryTimeout).toBe(durations.perTryTimeout);
    expect(route?.typedPerFilterConfig?.['envoy.filters.http.fault']?.delay?.fixedDelay).toBe(durations.faultDelay);
    expect(route?.typedPerFilterConfig?.['envoy.filters.http.cors']?.maxAge).toBe('3600');
  });

  it('is computed once per object version: a new push context keeps it, a changed VirtualService gets its own', () => {
    const { context, model } = mesh();
    const before = httpRouteDurations(firstRoute(context));
    // Another object changes: the VirtualService is the same object, its parsed form the same, even in a context built from scratch.
    model.apply([{ type: 'upsert', object: meshFromYaml(service('ratings', '10.96.0.2')).model.list('Service')[0]!.object }]);
    const unrelated = new PushContext(model.snapshot());
    expect(firstRoute(unrelated)).toBe(firstRoute(context));
    expect(httpRouteDurations(firstRoute(unrelated))).toBe(before);
    // A new version of the VirtualService is parsed anew.
    model.apply([{ type: 'upsert', object: virtualService('4s') }]);
    const changed = new PushContext(model.snapshot(), context.options, context.encodings, unrelated);
    expect(httpRouteDurations(firstRoute(changed))).not.toBe(before);
    expect(httpRouteDurations(firstRoute(changed)).timeout).toEqual({ seconds: 4, nanos: 0 });
  });
});

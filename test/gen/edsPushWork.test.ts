// What an endpoint change costs the sidecar generator per proxy: its EDS comes from
// the scope's shared list, and the proxy's full view (inbound ports, security,
// telemetry, EnvoyFilters), which EDS does not read, is not worked out for it.
import { describe, expect, it } from 'vitest';
import { reusableEntries } from '../../src/push/contextCache.js';
import { cacheChangeOf, changeImpact } from '../../src/push/changes.js';
import { PushContext } from '../../src/push/pushContext.js';
import { proxyViewsEntry } from '../../src/xds/gen/cacheKeys.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { TypeUrl } from '../../src/xds/resource.js';
import type { Proxy } from '../../src/model/proxy.js';
import { meshFromYaml } from '../support/goldenMesh.js';
import { shopReviewsSlice } from '../support/reviewsMesh.js';

const pod = (name: string, ip: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: shop, labels: {app: web}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: ${ip}}
`;
const mesh = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, ports: [{name: http, port: 9080}]}
---
${shopReviewsSlice('10.1.0.1')}---
${pod('web-1', '10.3.0.1')}---
${pod('web-2', '10.3.0.2')}`;

const request = { version: 'v', reason: [], startedAt: 0 };
const watched = (typeUrl: string) => ({ typeUrl, wildcard: true, names: new Set<string>() });
const hasView = (context: PushContext, proxy: Proxy) =>
  (context.cache.get(proxyViewsEntry.key)?.value as WeakMap<Proxy, unknown> | undefined)?.has(proxy) ?? false;

describe('sidecar EDS after an endpoint change', () => {
  it("gives the proxies of a scope the scope's list without working out their views", () => {
    const { model, context, proxies } = meshFromYaml(mesh);
    expect(proxies).toHaveLength(2);
    const generator = (c: PushContext) => new SidecarGenerator(() => c);
    for (const proxy of proxies) for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]) generator(context).generate(proxy, watched(t), request);

    const changes = model.apply([{ type: 'upsert', object: meshFromYaml(shopReviewsSlice('10.1.0.2')).model.list('EndpointSlice')[0]!.object }]);
    const next = new PushContext(model.snapshot(), context.options, context.encodings, context);
    for (const [key, value] of reusableEntries(context.cache, cacheChangeOf(changes.map((c) => changeImpact(c, context, next))))) next.cache.set(key, value);

    const [one, two] = proxies.map((p) => generator(next).generate(p, watched(TypeUrl.ClusterLoadAssignment), request)!);
    expect(one).toBe(two);
    expect(Buffer.from(one![0]!.any).toString('latin1')).toContain('10.1.0.2');
    expect(proxies.some((p) => hasView(next, p))).toBe(false);
    // CDS reads the view: then it exists, and EDS keeps giving the same list.
    generator(next).generate(proxies[0]!, watched(TypeUrl.Cluster), request);
    expect(hasView(next, proxies[0]!)).toBe(true);
    expect(generator(next).generate(proxies[0]!, watched(TypeUrl.ClusterLoadAssignment), request)).toBe(one);
  });
});

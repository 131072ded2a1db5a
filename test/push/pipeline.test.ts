import { afterEach, describe, expect, it } from 'vitest';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import { PushContext } from '../../src/push/pushContext.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { serviceClustersEntry, serviceEndpointsEntry } from '../../src/xds/gen/cacheKeys.js';
import type { PushRequest } from '../../src/xds/server/types.js';
import { waitFor } from '../support/captureLogger.js';
import { startFilePipeline } from '../support/filePipeline.js';
import { proxyForPod } from '../support/goldenMesh.js';

const service = (name: string, ns: string, port: number, portName = 'http') => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec: {clusterIP: 10.96.0.${port % 250}, selector: {app: ${name}}, ports: [{name: ${portName}, port: ${port}}]}
`;
const slice = (name: string, ns: string, ips: string[]) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}-1, namespace: ${ns}, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [${ips.map((ip) => `{addresses: [${ip}], conditions: {ready: true}}`).join(', ')}]
`;
const sidecarOnlyOwnNamespace = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: isolated}
spec: {egress: [{hosts: ["./*"]}]}
`;

const shopClient = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client-1', namespace: 'shop', labels: { app: 'client' } } });
const isolatedClient = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'iso-1', namespace: 'isolated', labels: { app: 'iso' } } });
const typeNames = (r: PushRequest) => [...(r.types ?? [])].map((t) => t.slice(t.lastIndexOf('.') + 1)).sort();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startPipeline(files: Record<string, string>) {
  const started = await startFilePipeline(files);
  cleanups.push(started.stop);
  return started;
}

describe('MeshPipeline', () => {
  it('turns an endpoint change into an EDS-only push for the proxies that can see the service, reusing encoded CDS', async () => {
    const { pipeline, pushes, write } = await startPipeline({
      'reviews.yaml': `${service('reviews', 'shop', 9080)}---\n${slice('reviews', 'shop', ['10.1.0.1'])}`,
      'sidecar.yaml': sidecarOnlyOwnNamespace,
    });
    const cds = { typeUrl: TypeUrl.Cluster, wildcard: true, names: new Set<string>() };
    const eds = { typeUrl: TypeUrl.ClusterLoadAssignment, wildcard: false, names: new Set(['outbound|9080||reviews.shop.svc.cluster.local']) };
    const request = { version: 'v', reason: [], startedAt: 0 };
    const clustersBefore = pipeline.generator.generate(shopClient, cds, request)!;
    const firstContext = pipeline.current();

    await write('reviews.yaml', `${service('reviews', 'shop', 9080)}---\n${slice('reviews', 'shop', ['10.1.0.1', '10.1.0.2'])}`);
    await waitFor(() => pushes.length === 1, 'the endpoint push');
    expect(typeNames(pushes[0]!)).toEqual(['ClusterLoadAssignment']);
    expect(pushes[0]!.affects!(shopClient)).toBe(true);
    expect(pushes[0]!.affects!(isolatedClient)).toBe(false);
    expect(pushes[0]!.reason).toEqual(['EndpointSlice/shop/reviews-1']);
    expect(pipeline.current()).not.toBe(firstContext);

    const clustersAfter = pipeline.generator.generate(shopClient, cds, request)!;
    expect(clustersAfter[0]).toBe(clustersBefore[0]); // same encoded bytes object: not re-generated
    const [assignment] = pipeline.generator.generate(shopClient, eds, request)!;
    const addresses = [...JSON.stringify(decodeAnyToJson(assignment!.any)).matchAll(/"socketAddress":\{"address":"([^"]+)"/g)].map((m) => m[1]);
    expect(addresses).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it("rebuilds only the changed service's load assignments on an endpoint change, keeping every other one", async () => {
    const { pipeline, pushes, write } = await startPipeline({
      'reviews.yaml': `${service('reviews', 'shop', 9080)}---\n${slice('reviews', 'shop', ['10.1.0.1'])}`,
      'ratings.yaml': `${service('ratings', 'shop', 9081)}---\n${slice('ratings', 'shop', ['10.2.0.1'])}`,
    });
    const eds = { typeUrl: TypeUrl.ClusterLoadAssignment, wildcard: true, names: new Set<string>() };
    const request = { version: 'v', reason: [], startedAt: 0 };
    const byName = (list: readonly { name: string }[]) => new Map(list.map((r) => [r.name, r]));
    const before = byName(pipeline.generator.generate(shopClient, eds, request)!);
    const firstContext = pipeline.current();

    await write('reviews.yaml', `${service('reviews', 'shop', 9080)}---\n${slice('reviews', 'shop', ['10.1.0.1', '10.1.0.2'])}`);
    await waitFor(() => pushes.length === 1, 'the endpoint push');
    const next = pipeline.current();
    expect(next).not.toBe(firstContext);
    // The untouched service's load assignment was carried into the new context, not rebuilt.
    const ratingsEds = serviceEndpointsEntry('ratings.shop.svc.cluster.local', 'outbound|9081||ratings.shop.svc.cluster.local', '').key;
    const reviewsEds = serviceEndpointsEntry('reviews.shop.svc.cluster.local', 'outbound|9080||reviews.shop.svc.cluster.local', '').key;
    expect([...next.cache.keys()].some((k) => k.startsWith(ratingsEds))).toBe(true);
    expect([...next.cache.keys()].some((k) => k.startsWith(reviewsEds))).toBe(false);
    const after = byName(pipeline.generator.generate(shopClient, eds, request)!);
    expect(after.get('outbound|9081||ratings.shop.svc.cluster.local')).toBe(before.get('outbound|9081||ratings.shop.svc.cluster.local'));
    const reviews = after.get('outbound|9080||reviews.shop.svc.cluster.local') as { any: Uint8Array } | undefined;
    const addresses = [...JSON.stringify(decodeAnyToJson(reviews!.any)).matchAll(/"socketAddress":\{"address":"([^"]+)"/g)].map((m) => m[1]);
    expect(addresses).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('after a pod relabel, what it reuses from the previous context equals a generation from scratch', async () => {
    const pod = (name: string, version: string, ip: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: shop, labels: {app: reviews, version: ${version}, security.istio.io/tlsMode: istio}}\nspec: {serviceAccountName: reviews}\nstatus: {podIP: ${ip}}\n`;
    const reviewsSlice = `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-1, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [10.1.0.1], conditions: {ready: true}, targetRef: {kind: Pod, name: reviews-a, namespace: shop}}, {addresses: [10.1.0.2], conditions: {ready: true}, targetRef: {kind: Pod, name: reviews-b, namespace: shop}}]
`;
    const subsets = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: shop}\nspec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]}\n`;
    const { pipeline, pushes, write } = await startPipeline({
      'reviews.yaml': `${service('reviews', 'shop', 9080)}---\n${reviewsSlice}---\n${subsets}`,
      'pods.yaml': `${pod('reviews-a', 'v1', '10.1.0.1')}---\n${pod('reviews-b', 'v1', '10.1.0.2')}`,
      'ratings.yaml': `${service('ratings', 'shop', 9081)}---\n${slice('ratings', 'shop', ['10.2.0.1'])}`,
    });
    const request = { version: 'v', reason: [], startedAt: 0 };
    const types = [TypeUrl.Cluster, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.ClusterLoadAssignment];
    const everything = (generator: { generate: typeof pipeline.generator.generate }) =>
      types.flatMap((typeUrl) => [...generator.generate(shopClient, { typeUrl, wildcard: true, names: new Set<string>() }, request)!]);
    const before = new Map(everything(pipeline.generator).map((r) => [r.name, r]));

    await write('pods.yaml', `${pod('reviews-a', 'v1', '10.1.0.1')}---\n${pod('reviews-b', 'v2', '10.1.0.2')}`);
    await waitFor(() => pushes.length === 1, 'the pod push');
    expect(pushes[0]!.reason).toEqual(['Pod/shop/reviews-b']);
    // Before anything is generated: the new context starts with the other service's results and listeners, not the pod's service's.
    const carried = [...pipeline.current().cache.keys()];
    expect(carried.some((k) => k.startsWith(serviceClustersEntry('ratings.shop.svc.cluster.local', 9081, '').key))).toBe(true);
    expect(
      carried.some((k) => k.startsWith(serviceEndpointsEntry('ratings.shop.svc.cluster.local', 'outbound|9081||ratings.shop.svc.cluster.local', '').key)),
    ).toBe(true);
    expect(carried.some((k) => k.startsWith('lds|'))).toBe(true);
    expect(carried.some((k) => k.includes('reviews.shop.svc.cluster.local') && (k.startsWith('cds-svc|') || k.startsWith('eds-svc|')))).toBe(false);
    const reused = everything(pipeline.generator);
    const fresh = new PushContext(pipeline.current().snapshot, pipeline.current().options);
    const scratch = everything(new SidecarGenerator(() => fresh));
    expect(reused.map((r) => `${r.name} ${r.version}`).sort()).toEqual(scratch.map((r) => `${r.name} ${r.version}`).sort());
    // The unrelated service's clusters and endpoints were carried over, the relabelled subsets rebuilt.
    const byName = new Map(reused.map((r) => [r.name, r]));
    expect(byName.get('outbound|9081||ratings.shop.svc.cluster.local')).toBe(before.get('outbound|9081||ratings.shop.svc.cluster.local'));
    const v2 = decodeAnyToJson(byName.get('outbound|9080|v2|reviews.shop.svc.cluster.local')!.any);
    expect(JSON.stringify(v2)).toContain('10.1.0.2');
  });

  it('pushes RDS only for a VirtualService change, keeping encoded clusters, and CDS+LDS+RDS for a new service', async () => {
    const { pipeline, pushes, write } = await startPipeline({ 'reviews.yaml': service('reviews', 'shop', 9080) });
    const request = { version: 'v', reason: [], startedAt: 0 };
    const watch = (typeUrl: string, names: string[] = []) => ({ typeUrl, wildcard: names.length === 0, names: new Set(names) });
    const clustersBefore = pipeline.generator.generate(shopClient, watch(TypeUrl.Cluster), request)!;
    const [routeBefore] = pipeline.generator.generate(shopClient, watch(TypeUrl.RouteConfiguration, ['9080']), request)!;
    await write(
      'vs.yaml',
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: shop}\nspec: {hosts: [reviews], http: [{timeout: 3s, route: [{destination: {host: reviews}}]}]}\n`,
    );
    await waitFor(() => pushes.length === 1, 'the VirtualService push');
    expect(typeNames(pushes[0]!)).toEqual(['RouteConfiguration']);
    expect(pushes[0]!.affects!(shopClient)).toBe(true);
    // Clusters were not touched, so the new push context reuses their encoded bytes; the route is re-encoded.
    expect(pipeline.generator.generate(shopClient, watch(TypeUrl.Cluster), request)![0]).toBe(clustersBefore[0]);
    const [routeAfter] = pipeline.generator.generate(shopClient, watch(TypeUrl.RouteConfiguration, ['9080']), request)!;
    expect(routeAfter!.version).not.toBe(routeBefore!.version);

    await write('ratings.yaml', service('ratings', 'shop', 9081));
    await waitFor(() => pushes.length === 2, 'the new service push');
    expect(typeNames(pushes[1]!)).toEqual(['Cluster', 'Listener', 'RouteConfiguration']);
  });

  it('keeps the last valid VirtualService when an edit is invalid, pushes nothing for it, and says why', async () => {
    const vs = (timeout: string) =>
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: shop}\nspec: {hosts: [reviews], http: [{timeout: ${timeout}, route: [{destination: {host: reviews}}]}]}\n`;
    const { pipeline, pushes, lines, write } = await startPipeline({ 'reviews.yaml': service('reviews', 'shop', 9080), 'vs.yaml': vs('3s') });
    await write('vs.yaml', vs('three-seconds'));
    await waitFor(() => lines.some((l) => String(l.msg).startsWith('rejected invalid VirtualService shop/reviews')), 'the rejection log');
    const rejection = lines.find((l) => String(l.msg).startsWith('rejected invalid VirtualService shop/reviews'))!;
    expect(rejection).toMatchObject({ file: 'vs.yaml', line: 1, keptPreviousVersion: true });
    expect(String(rejection.reason)).toContain('spec.http[0].timeout: malformed duration "three-seconds"');
    await write('other.yaml', service('ratings', 'shop', 9081));
    await waitFor(() => pushes.length === 1, 'the push for the unrelated valid change');
    expect(pushes[0]!.reason).toEqual(['Service/shop/ratings']);
    expect(pipeline.current().virtualServiceFor('reviews.shop.svc.cluster.local', 'shop')?.spec.http?.[0]?.timeout).toBe('3s');
  });

  it('warns once, naming both objects, and counts a route to a subset the DestinationRule does not define', async () => {
    const { pipeline, lines, registry, pushes, write } = await startPipeline({
      'reviews.yaml': service('reviews', 'shop', 9080),
      'dr.yaml': `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews-dr, namespace: shop}\nspec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}\n`,
      'vs.yaml': `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews-vs, namespace: shop}\nspec: {hosts: [reviews], http: [{route: [{destination: {host: reviews, subset: v3}}]}]}\n`,
    });
    const warnings = () => lines.filter((l) => l.code === 'IST0101');
    // Analysis runs after the push, off the push path: wait for it.
    await pipeline.analysisIdle();
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatchObject({ virtualService: 'shop/reviews-vs', destinationRule: 'shop/reviews-dr', subset: 'v3' });
    expect(String(warnings()[0]!.msg)).toContain('503');
    expect((await registry.getSingleMetric('meshd_virtual_service_missing_subsets')!.get()).values[0]!.value).toBe(1);
    await write('other.yaml', service('ratings', 'shop', 9081));
    await waitFor(() => pushes.length === 1, 'an unrelated push');
    await pipeline.analysisIdle();
    expect(warnings()).toHaveLength(1);
  });
  it('generates a push from the context pinned to it, not from a newer one (version_info names the content)', async () => {
    const { pipeline, pushes, write } = await startPipeline({
      'reviews.yaml': `${service('reviews', 'shop', 9080)}---\n${slice('reviews', 'shop', ['10.1.0.1'])}`,
    });
    const eds = { typeUrl: TypeUrl.ClusterLoadAssignment, wildcard: false, names: new Set(['outbound|9080||reviews.shop.svc.cluster.local']) };
    const addressesIn = (request: PushRequest) => {
      const [assignment] = pipeline.generator.generate(shopClient, eds, request)!;
      return [...JSON.stringify(decodeAnyToJson(assignment!.any)).matchAll(/"socketAddress":\{"address":"([^"]+)"/g)].map((m) => m[1]);
    };
    await write('reviews.yaml', `${service('reviews', 'shop', 9080)}---\n${slice('reviews', 'shop', ['10.1.0.2'])}`);
    await waitFor(() => pushes.length === 1, 'the first endpoint push');
    await write('reviews.yaml', `${service('reviews', 'shop', 9080)}---\n${slice('reviews', 'shop', ['10.1.0.3'])}`);
    await waitFor(() => pushes.length === 2, 'the second endpoint push');
    expect(pushes[0]!.push).not.toBe(pushes[1]!.push);
    // A stream that reaches the first push only now still gets what that push's version names.
    expect(addressesIn(pushes[0]!)).toEqual(['10.1.0.2']);
    expect(addressesIn(pushes[1]!)).toEqual(['10.1.0.3']);
    expect(addressesIn(pipeline.pushRequest('now', 'test'))).toEqual(['10.1.0.3']);
  });
});

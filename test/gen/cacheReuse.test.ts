// Which generated results a new push context inherits from the previous one: decided by what each
// cache entry declares it depends on, compared with what a batch of changes reached.
import { describe, expect, it } from 'vitest';
import { changeThrough, reusableEntries, type CacheChange, type CacheEntry, type CachedResult } from '../../src/push/contextCache.js';
import { parsedCredentialEntry } from '../../src/push/credentials.js';
import type { KubeObject } from '../../src/model/kube.js';
import {
  edsClusterNamesEntry,
  endpointProxyInputsEntry,
  gatewayListenersEntry,
  gatewaySecretEntry,
  grpcClusterEntry,
  grpcServiceInstancesEntry,
  inboundClustersEntry,
  outboundListenersEntry,
  scopeClustersEntry,
  scopeEndpointsEntry,
  routeConfigurationEntry,
  routeConfigurationKey,
  serviceClustersEntry,
  serviceEndpointsEntry,
  sidecarClustersEntry,
  wellKnownClustersEntry,
} from '../../src/xds/gen/cacheKeys.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { fromScratch, generateEverything, seededContext } from '../support/contextReuse.js';
import { meshFromYaml, proxyPodYaml } from '../support/goldenMesh.js';

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS, Secret: SDS } = TypeUrl;
const reviews = 'reviews.shop.svc.cluster.local';
const ratings = 'ratings.shop.svc.cluster.local';
const reviewsEds = serviceEndpointsEntry(reviews, `outbound|9080||${reviews}`, '-').key;
const reviewsV1Eds = serviceEndpointsEntry(reviews, `outbound|9080|v1|${reviews}`, 'shop/reviews').key;
const reviewsCds = serviceClustersEntry(reviews, 9080, 'shop/reviews').key;

const cacheOf = (entries: ReadonlyArray<[CacheEntry, unknown]>) =>
  new Map<string, CachedResult>(entries.map(([entry, value]) => [entry.key, { entry, value }]));

const previous = cacheOf([
  [scopeClustersEntry('shop|-'), 'scope clusters'],
  [sidecarClustersEntry('shop|-', '9080', 'sec', ''), 'proxy clusters'],
  [serviceClustersEntry(reviews, 9080, 'shop/reviews'), 'reviews clusters'],
  [serviceClustersEntry(ratings, 9081, '-'), 'ratings clusters'],
  [inboundClustersEntry('9080:HTTP'), 'inbound clusters'],
  [wellKnownClustersEntry, 'well-known clusters'],
  [outboundListenersEntry('shop|-', ''), 'listeners'],
  [routeConfigurationEntry(routeConfigurationKey('shop|-', '', '9080'), [reviews, ratings], false), 'routes'],
  [scopeEndpointsEntry('shop|-', ''), 'scope list'],
  [edsClusterNamesEntry('shop|-'), 'eds names'],
  [endpointProxyInputsEntry('shop|-'), 'proxy inputs'],
  [serviceEndpointsEntry(reviews, `outbound|9080||${reviews}`, '-'), 'reviews'],
  [serviceEndpointsEntry(reviews, `outbound|9080|v1|${reviews}`, 'shop/reviews'), 'reviews v1'],
  [serviceEndpointsEntry(ratings, `outbound|9081||${ratings}`, '-'), 'ratings'],
  [grpcServiceInstancesEntry('shop', 'pod', ['10.0.0.1']), 'grpc instances'],
  [grpcClusterEntry('shop|-', 'x'), 'grpc'],
]);
const noObjects = { services: new Set<string>(), secrets: new Set<string>(), routing: new Set<string>(), gateways: new Set<string>() };
/** A batch reaching `types` everywhere (a VirtualService, a DestinationRule, a Gateway). */
const everywhere = (...types: string[]): CacheChange => ({ types: new Map(types.map((t) => [t, 'all' as const])), objects: noObjects });
/** Two changes in one batch. */
const both = (a: CacheChange, b: CacheChange): CacheChange => {
  if (a === 'all' || b === 'all') return 'all';
  return {
    types: new Map([...a.types, ...b.types]),
    objects: {
      services: new Set([...a.objects.services, ...b.objects.services]),
      secrets: new Set([...a.objects.secrets, ...b.objects.secrets]),
      routing: new Set([...a.objects.routing, ...b.objects.routing]),
      gateways: new Set([...a.objects.gateways, ...b.objects.gateways]),
    },
  };
};
const kept = (change: CacheChange) =>
  reusableEntries(previous, change)
    .map(([key]) => key)
    .sort();
const all = [...previous.keys()].filter((k) => !k.startsWith('grpc-'));
const without = (...prefixes: string[]) => all.filter((k) => !prefixes.some((p) => k.startsWith(p))).sort();

describe('reusableEntries', () => {
  it('keeps what the changed types do not cover', () => {
    expect(kept(everywhere(RDS))).toEqual(without('rds-name|'));
    expect(kept('all')).toEqual([]);
  });

  it('drops every EDS result with CDS, and with an EDS change of unknown extent', () => {
    expect(kept(everywhere(CDS))).toEqual(without('cds', 'eds'));
    expect(kept(everywhere(EDS))).toEqual(without('eds'));
  });

  it("keeps the load assignments of other services when only some services' endpoints changed", () => {
    expect(kept(changeThrough([EDS], { services: [reviews] }))).toEqual(without('eds|scope|', reviewsEds, reviewsV1Eds, 'eds|grpc-instances|'));
  });

  it("keeps other services' clusters, inbound and well-known clusters, listeners and routes when a pod of one service changed", () => {
    const pod = changeThrough([EDS, CDS, LDS], { services: [reviews] });
    expect(kept(pod)).toEqual(without('cds|shop|', 'cds-all|', reviewsCds, 'eds|scope|', reviewsEds, reviewsV1Eds, 'eds|grpc-instances|'));
    // A CDS change everywhere (a DestinationRule, say) in the same batch wins.
    expect(kept(both(pod, everywhere(CDS)))).toEqual(without('cds', 'eds'));
  });

  it('on a Secret change keeps every result that does not read it: other Secrets, and the listeners of gateways not using it', () => {
    const ref = (namespace: string, name: string) => ({ namespace, name });
    const secrets = cacheOf([
      [outboundListenersEntry('shop|-', ''), 'sidecar listeners'],
      [gatewayListenersEntry('istio-system', [ref('istio-system', 'shop-tls'), ref('istio-system', 'blog-tls')], 'gw'), 'shop gateway listeners'],
      [gatewayListenersEntry('istio-system', [ref('istio-system', 'blog-tls')], 'blog'), 'blog gateway listeners'],
      [gatewayListenersEntry('apps', [ref('apps', 'shop-tls')], 'gw'), 'listeners of a gateway elsewhere'],
      [gatewayListenersEntry('istio-system', [], 'plain'), 'plain gateway listeners'],
      [gatewaySecretEntry(ref('istio-system', 'shop-tls'), 'kubernetes://shop-tls'), 'shop secret'],
      [parsedCredentialEntry('istio-system', 'shop-tls', 'cert'), 'shop credential'],
      [gatewaySecretEntry(ref('istio-system', 'blog-tls'), 'kubernetes://blog-tls'), 'blog secret'],
      [gatewaySecretEntry(ref('apps', 'shop-tls'), 'kubernetes://shop-tls'), 'shop secret elsewhere'],
    ]);
    const keptOf = (change: CacheChange) =>
      reusableEntries(secrets, change)
        .map(([, cached]) => cached.value as string)
        .sort();
    const shopTls = [ref('istio-system', 'shop-tls')];
    expect(keptOf(changeThrough([SDS], { secrets: shopTls }))).toEqual(
      [
        'sidecar listeners',
        'shop gateway listeners',
        'blog gateway listeners',
        'listeners of a gateway elsewhere',
        'plain gateway listeners',
        'blog secret',
        'shop secret elsewhere',
      ].sort(),
    );
    expect(keptOf(changeThrough([SDS, LDS], { secrets: shopTls }))).toEqual(
      [
        'sidecar listeners',
        'blog gateway listeners',
        'listeners of a gateway elsewhere',
        'plain gateway listeners',
        'blog secret',
        'shop secret elsewhere',
      ].sort(),
    );
    // Without a dependency list (a Gateway change), every secret result goes; a parsed credential reads only its Secret and stays.
    const gatewayChange = keptOf(everywhere(SDS, LDS, RDS));
    expect(gatewayChange).not.toContain('blog secret');
    expect(gatewayChange).toContain('shop credential');
    // A change of the Secret that reaches no xDS type (no server names it) still drops what was parsed from it, and only that.
    expect(
      keptOf({ types: new Map(), objects: { services: new Set(), secrets: new Set(['istio-system/shop-tls']), routing: new Set(), gateways: new Set() } }),
    ).toEqual(
      [...secrets.values()]
        .map((c) => c.value as string)
        .filter((v) => v !== 'shop credential')
        .sort(),
    );
  });
});

describe('a change to one object evicts exactly the entries declaring it', () => {
  it('the endpoints of one service: the results declaring that service, or every endpoint, in the types the change reaches', () => {
    for (const [host, mine] of [
      [reviews, ['reviews clusters', 'reviews', 'reviews v1']],
      [ratings, ['ratings clusters', 'ratings']],
    ] as const) {
      const keptValues = new Set(reusableEntries(previous, changeThrough([EDS, CDS], { services: [host] })).map(([, c]) => c.value as string));
      const gone = [...previous.values()].map((c) => c.value as string).filter((v) => !keptValues.has(v));
      // Scope-wide lists read every endpoint; gRPC results live one context only.
      expect(gone.sort()).toEqual([...mine, 'scope clusters', 'proxy clusters', 'scope list', 'grpc instances', 'grpc'].sort());
    }
  });
});

describe('what a real change evicts from a generated cache', () => {
  const slice = (service: string, ip: string) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${service}-1, namespace: shop, labels: {kubernetes.io/service-name: ${service}}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints: [{addresses: [${ip}], conditions: {ready: true}}]
`;
  const secret = (name: string, data: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'istio-system' },
    data: { 'tls.crt': Buffer.from(data).toString('base64'), 'tls.key': Buffer.from(data).toString('base64') },
  });
  const yaml = (object: KubeObject) => JSON.stringify(object);
  const mesh = () =>
    meshFromYaml(`apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, ports: [{name: http, port: 9080}]}
---
${slice('reviews', '10.1.0.1')}---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: shop}
spec: {clusterIP: 10.96.0.2, ports: [{name: http, port: 9080}]}
---
${slice('ratings', '10.2.0.1')}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingress}
  servers:
  - {port: {number: 443, name: https-shop, protocol: HTTPS}, hosts: [shop.example.com], tls: {mode: SIMPLE, credentialName: shop-tls}}
  - {port: {number: 8443, name: https-blog, protocol: HTTPS}, hosts: [blog.example.com], tls: {mode: SIMPLE, credentialName: blog-tls}}
---
${yaml(secret('shop-tls', 'not a certificate'))}
---
${yaml(secret('blog-tls', 'not a certificate either'))}
---
${proxyPodYaml('web', 'shop', { app: 'web' }, '10.3.0.1')}---
${proxyPodYaml('ingress', 'istio-system', { istio: 'ingress' }, '10.4.0.1', 'router')}`);
  /** Applies `objects` to the mesh's model and returns the next context, seeded as the pipeline seeds it, and what it evicted. */
  const change = (objects: KubeObject[]) => {
    const { model, context, proxies, routers } = mesh();
    generateEverything(context, proxies, routers);
    const { next, reused } = seededContext(context, model, model.apply(objects.map((object) => ({ type: 'upsert' as const, object }))));
    const keptKeys = new Set(reused.map(([key]) => key));
    const evicted = [...context.cache.values()].filter((c) => !keptKeys.has(c.entry.key)).map((c) => c.entry);
    const keptEntries = reused.map(([, c]) => c.entry);
    // What the reused cache generates equals a generation from scratch.
    expect(generateEverything(next, proxies, routers)).toEqual(generateEverything(fromScratch(next), proxies, routers));
    return { evicted, kept: keptEntries };
  };
  const declaresSecret = (entry: CacheEntry, name: string) => entry.secrets?.some((s) => s.namespace === 'istio-system' && s.name === name) ?? false;
  const declaresEndpoints = (entry: CacheEntry, hostname: string) => entry.endpoints === 'all' || (entry.endpoints?.includes(hostname) ?? false);
  const keys = (entries: CacheEntry[]) => entries.map((e) => e.key).sort();

  it('a rotated Secret evicts the results declaring it, and of the rest only what lives one context', () => {
    const { evicted, kept } = change([secret('shop-tls', 'still not a certificate')]);
    // The credential's validity did not change (invalid before and after): SDS only, so listeners stay.
    const declaring = [...evicted, ...kept].filter(
      (e) => e.types === 'context' || (declaresSecret(e, 'shop-tls') && (e.types.length === 0 || e.types.includes(SDS))),
    );
    expect(keys(evicted)).toEqual(keys(declaring));
    expect(evicted.map((e) => e.kind)).toEqual(expect.arrayContaining(['gateway-secret', 'parsed-credential']));
    expect(kept.some((e) => e.kind === 'gateway-secret' && declaresSecret(e, 'blog-tls'))).toBe(true);
    expect(kept.some((e) => e.kind === 'gateway-listeners' && declaresSecret(e, 'shop-tls'))).toBe(true);
  });

  it("one service's endpoints evict the load assignments declaring it and the scope-wide lists, nothing of other services", () => {
    const { evicted, kept } = change([
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'reviews-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'reviews' } },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 9080 }],
        endpoints: [
          { addresses: ['10.1.0.1'], conditions: { ready: true } },
          { addresses: ['10.1.0.2'], conditions: { ready: true } },
        ],
      },
    ]);
    const everything = [...evicted, ...kept];
    // The service accounts did not change: EDS only.
    const declaring = everything.filter((e) => e.types === 'context' || (e.types.includes(EDS) && declaresEndpoints(e, reviews)));
    expect(keys(evicted)).toEqual(keys(declaring));
    expect(evicted.some((e) => e.kind === 'service-endpoints' && declaresEndpoints(e, reviews))).toBe(true);
    expect(kept.some((e) => e.kind === 'service-endpoints' && declaresEndpoints(e, ratings))).toBe(true);
    expect(kept.some((e) => e.kind === 'service-clusters' && declaresEndpoints(e, reviews))).toBe(true);
    // A scope's list of load assignments is assembled again from per-service parts: in every scope only reviews' is rebuilt.
    const parts = (entries: CacheEntry[]) => entries.filter((e) => e.kind === 'scope-service-endpoints').map((e) => e.endpoints);
    expect(parts(evicted).length).toBeGreaterThan(0);
    expect(parts(evicted)).toEqual(parts(evicted).map(() => [reviews]));
    expect(parts(kept)).toEqual(parts(evicted).map(() => [ratings]));
  });
});

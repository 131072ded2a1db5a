// A VirtualService or DestinationRule change rebuilds only the sidecar route configurations that read the
// routing of its hosts (istiod's route cache depends on the VirtualServices and DestinationRules a route
// configuration was built from); every other one is carried from the previous push context as the same
// object, and what the new context generates equals a generation from scratch, byte for byte.
import { describe, expect, it } from 'vitest';
import { changeThrough, survives, type CacheEntry } from '../../src/push/contextCache.js';
import type { KubeObject, SourceEvent } from '../../src/model/kube.js';
import { routeConfigurationKey } from '../../src/xds/gen/cacheKeys.js';
import { TypeUrl } from '../../src/xds/resource.js';
import { fromScratch, generateEverything, seededContext } from '../support/contextReuse.js';
import { meshFromYaml, proxyPodYaml } from '../support/goldenMesh.js';

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS } = TypeUrl;

const service = (name: string, ip: string, port: number, portName = 'http') => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {clusterIP: ${ip}, ports: [{name: ${portName}, port: ${port}}]}
---
`;
const virtualService = (name: string, spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'shop', creationTimestamp: '2024-01-01T00:00:00Z' },
  spec,
});
const reviewsRoutes = (header: string) => ({
  hosts: ['reviews'],
  http: [
    { match: [{ headers: { 'x-user': { exact: header } } }], route: [{ destination: { host: 'reviews', port: { number: 9080 } } }] },
    { route: [{ destination: { host: 'ratings', port: { number: 9080 } } }] },
  ],
});
const reviews = virtualService('reviews', reviewsRoutes('jason'));
const productpageRoot = virtualService('productpage', {
  hosts: ['productpage'],
  http: [{ match: [{ uri: { prefix: '/api' } }], delegate: { name: 'productpage-api' } }, { route: [{ destination: { host: 'productpage' } }] }],
});
const productpageApi = (timeout: string) =>
  virtualService('productpage-api', { http: [{ route: [{ destination: { host: 'productpage', port: { number: 9090 } } }], timeout }] });
const gatewayRoutes = (prefix: string) =>
  virtualService('shop-ingress', {
    hosts: ['shop.example.com'],
    gateways: ['istio-system/gw'],
    http: [{ match: [{ uri: { prefix } }], route: [{ destination: { host: 'productpage', port: { number: 9090 } } }] }],
  });
const ratingsRule = (header: string): KubeObject => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'ratings', namespace: 'shop' },
  spec: { host: 'ratings', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: header } } } },
});
const json = (object: KubeObject) => `${JSON.stringify(object)}\n---\n`;

const meshYaml = `${service('reviews', '10.96.0.1', 9080)}${service('ratings', '10.96.0.2', 9080)}${service('details', '10.96.0.3', 8080, 'http-web')}${service(
  'productpage',
  '10.96.0.4',
  9090,
)}${json(reviews)}${json(productpageRoot)}${json(productpageApi('5s'))}${json(gatewayRoutes('/shop'))}${json(ratingsRule('x-session'))}apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingress}
  servers:
  - {port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}
---
${proxyPodYaml('web', 'shop', { app: 'web' }, '10.3.0.1')}---
${proxyPodYaml('reader', 'blog', { app: 'reader' }, '10.3.0.2')}---
${proxyPodYaml('ingress', 'istio-system', { istio: 'ingress' }, '10.4.0.1', 'router')}`;

/**
 * Applies `events` to the mesh, seeds the next context as the pipeline does, and returns the sidecar route
 * configurations (`NAMESPACE NAME`) the next context built rather than carried over, and the router's routes.
 */
function afterChange(events: SourceEvent[], moreYaml = '') {
  const { model, context, proxies: sidecars, routers } = meshFromYaml(`${moreYaml}${meshYaml}`);
  const router = routers[0]!;
  const before = generateEverything(context, sidecars, routers);
  const changes = model.apply(events);
  expect(changes.length).toBeGreaterThan(0);
  const { next } = seededContext(context, model, changes);
  const after = generateEverything(next, sidecars, routers);
  // The reused cache generates exactly what a context built from scratch generates.
  expect(after).toEqual(generateEverything(fromScratch(next), sidecars, routers));
  const rebuilt: string[] = [];
  for (const proxy of sidecars) {
    const scope = next.scopeFor(proxy);
    for (const name of ['8080', '9080', '9090']) {
      const key = routeConfigurationKey(scope.key, '', name);
      if (moreYaml === '') expect(context.cache.has(key)).toBe(true);
      if (next.cache.get(key) !== context.cache.get(key)) rebuilt.push(`${proxy.namespace} ${name}`);
    }
  }
  const routerRoutes = (lines: string[]) => lines.filter((l) => l.startsWith(`${router.id} ${RDS}`));
  const routerEntries = [...next.cache].filter(([, cached]) => cached.entry.kind === 'gateway-routes');
  expect(routerEntries.length).toBeGreaterThan(0);
  const carriedRoutes = [...next.cache].filter(([key, cached]) => cached.entry.kind === 'route-configuration' && context.cache.get(key) === cached);
  return {
    carried: carriedRoutes.length,
    rebuilt: rebuilt.sort(),
    routerRebuilt: routerEntries.some(([key, cached]) => context.cache.get(key) !== cached),
    routerChanged: routerRoutes(before).join() !== routerRoutes(after).join(),
    changed: before.join() !== after.join(),
  };
}

const upsert = (object: KubeObject): SourceEvent => ({ type: 'upsert', object });

describe('route configurations a routing change leaves alone are carried over', () => {
  it('a VirtualService edit rebuilds only the route configurations holding its host, in every scope', () => {
    const { rebuilt, changed, routerRebuilt } = afterChange([upsert(virtualService('reviews', reviewsRoutes('mike')))]);
    expect(changed).toBe(true);
    expect(rebuilt).toEqual(['blog 9080', 'shop 9080']);
    // The router reads only the VirtualServices bound to its Gateway, and reviews is none of its destinations.
    expect(routerRebuilt).toBe(false);
  });

  it('a consistent-hash DestinationRule edit rebuilds only the route configurations routing to its host', () => {
    const { rebuilt, changed, routerRebuilt } = afterChange([upsert(ratingsRule('x-user'))]);
    expect(changed).toBe(true);
    expect(rebuilt).toEqual(['blog 9080', 'shop 9080']);
    expect(routerRebuilt).toBe(false);
  });

  it("a consistent-hash DestinationRule of a gateway route's destination reaches the router's routes", () => {
    const productpageRule: KubeObject = { ...ratingsRule('x-user'), metadata: { name: 'productpage', namespace: 'shop' } };
    (productpageRule.spec as { host: string }).host = 'productpage';
    const { rebuilt, routerChanged, routerRebuilt } = afterChange([upsert(productpageRule)]);
    expect(routerChanged).toBe(true);
    expect(routerRebuilt).toBe(true);
    expect(rebuilt).toEqual(['blog 9090', 'shop 9090']);
  });

  it("a delegate's edit rebuilds the route configurations of its root's hosts", () => {
    const { rebuilt, changed } = afterChange([upsert(productpageApi('7s'))]);
    expect(changed).toBe(true);
    expect(rebuilt).toEqual(['blog 9090', 'shop 9090']);
  });

  it("a gateway's VirtualService reaches the router's routes and no sidecar route configuration", () => {
    const { rebuilt, routerChanged, routerRebuilt } = afterChange([upsert(gatewayRoutes('/store'))]);
    expect(routerChanged).toBe(true);
    expect(routerRebuilt).toBe(true);
    expect(rebuilt).toEqual([]);
  });

  it('a host moved to a service on another port rebuilds the route configurations of both ports', () => {
    const moved = virtualService('reviews', { ...reviewsRoutes('jason'), hosts: ['details'] });
    const { rebuilt, changed } = afterChange([upsert(moved)]);
    expect(changed).toBe(true);
    expect(rebuilt).toEqual(['blog 8080', 'blog 9080', 'shop 8080', 'shop 9080']);
  });

  it('a deleted VirtualService rebuilds the route configurations of its hosts', () => {
    const { rebuilt, changed } = afterChange([{ type: 'delete', ref: { kind: 'VirtualService', namespace: 'shop', name: 'reviews' } }]);
    expect(changed).toBe(true);
    expect(rebuilt).toEqual(['blog 9080', 'shop 9080']);
  });

  it('an exportTo change rebuilds the route configurations of its hosts in every scope', () => {
    const { rebuilt, changed } = afterChange([upsert(virtualService('reviews', { ...reviewsRoutes('jason'), exportTo: ['.'] }))]);
    expect(changed).toBe(true);
    expect(rebuilt).toEqual(['blog 9080', 'shop 9080']);
  });

  it('a new VirtualService for a wildcard host rebuilds every route configuration of a host it covers', () => {
    const wildcardHosts = virtualService('all-shop', {
      hosts: ['*.shop.svc.cluster.local'],
      http: [{ route: [{ destination: { host: 'details.shop.svc.cluster.local', port: { number: 8080 } } }] }],
    });
    const { rebuilt, changed } = afterChange([upsert(wildcardHosts)]);
    expect(changed).toBe(true);
    expect(rebuilt).toEqual(['blog 8080', 'blog 9080', 'blog 9090', 'shop 8080', 'shop 9080', 'shop 9090']);
  });

  it('a Service change rebuilds every route configuration', () => {
    const { rebuilt } = afterChange([
      upsert({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'details', namespace: 'shop' },
        spec: { clusterIP: '10.96.0.3', ports: [{ name: 'http-web', port: 8081 }] },
      }),
    ]);
    expect(rebuilt).toEqual(['blog 8080', 'blog 9080', 'blog 9090', 'shop 8080', 'shop 9080', 'shop 9090']);
  });

  it("route configurations built for a workload's labels (sourceLabels) are rebuilt in every context, as istiod does not cache them", () => {
    const bySource = virtualService('details', {
      hosts: ['details'],
      http: [{ match: [{ sourceLabels: { app: 'web' } }], route: [{ destination: { host: 'details', port: { number: 8080 } } }] }],
    });
    expect(afterChange([upsert(virtualService('reviews', reviewsRoutes('mike')))]).carried).toBeGreaterThan(0);
    const { carried, changed } = afterChange([upsert(virtualService('reviews', reviewsRoutes('mike')))], json(bySource));
    expect(changed).toBe(true);
    expect(carried).toBe(0);
  });
});

describe('which routing changes a route configuration reads', () => {
  const routes = (routing: CacheEntry['routing'], gateways?: string[]): CacheEntry => ({
    kind: 'test',
    key: 'k',
    types: [RDS],
    routing,
    ...(gateways ? { gateways } : {}),
  });
  const byHosts = (...routing: string[]) => changeThrough([RDS], { routing });

  it('matches exact hosts, wildcard patterns either way, and every host', () => {
    expect(survives(routes(['a.shop.svc.cluster.local']), byHosts('a.shop.svc.cluster.local'))).toBe(false);
    expect(survives(routes(['a.shop.svc.cluster.local']), byHosts('b.shop.svc.cluster.local'))).toBe(true);
    expect(survives(routes(['a.shop.svc.cluster.local']), byHosts('*.shop.svc.cluster.local'))).toBe(false);
    expect(survives(routes(['a.shop.svc.cluster.local']), byHosts('*.blog.svc.cluster.local'))).toBe(true);
    // A ServiceEntry's wildcard host is read by a VirtualService of any host it covers.
    expect(survives(routes(['*.wikipedia.org']), byHosts('en.wikipedia.org'))).toBe(false);
    expect(survives(routes('all'), byHosts('x.example.com'))).toBe(false);
    expect(survives(routes([]), byHosts('*'))).toBe(true);
  });

  it("matches a router's Gateways, and only a change of routing reaches them", () => {
    expect(survives(routes([], ['istio-system/gw']), changeThrough([RDS], { gateways: ['istio-system/gw'] }))).toBe(false);
    expect(survives(routes([], ['istio-system/gw']), changeThrough([RDS], { gateways: ['shop/gw'] }))).toBe(true);
    expect(survives(routes(['a.shop.svc.cluster.local'], ['istio-system/gw']), changeThrough([CDS, EDS], { services: ['a.shop.svc.cluster.local'] }))).toBe(
      true,
    );
  });

  it('a VirtualService with tcp routes narrows only RDS: its listeners are rebuilt in full', () => {
    const { model, context } = meshFromYaml(meshYaml);
    const tcp = virtualService('reviews', { hosts: ['reviews'], tcp: [{ route: [{ destination: { host: 'reviews' } }] }] });
    const { change } = seededContext(context, model, model.apply([upsert(tcp)]));
    if (change === 'all') throw new Error('a VirtualService change reaches only some types');
    expect(change.types.get(LDS)).toBe('all');
    const rds = change.types.get(RDS);
    if (rds === undefined || rds === 'all') throw new Error('RDS is narrowed to the hosts');
    expect([...rds.routing]).toEqual(['reviews.shop.svc.cluster.local']);
  });
});

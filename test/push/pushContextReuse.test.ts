// What a push context takes over from the previous one: an endpoint change
// and a Pod relabel recompute the endpoints of the services they reach and
// nothing else; a change to the Istio configuration or to a Service rebuilds
// what derives from it. Results equal a context built from scratch.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/model/kube.js';
import { MeshModel } from '../../src/model/meshModel.js';
import { PushContext, defaultPushContextOptions } from '../../src/push/pushContext.js';
import { serviceIndexStats } from '../../src/push/services.js';
import { kindValidators } from '../../src/security/validation.js';

const service = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: { clusterIP: `10.96.0.${name.length}`, selector: { app: name }, ports: [{ name: 'http', port: 9080 }] },
});
const pod = (name: string, app: string, ip: string, version = 'v1'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop', labels: { app, version } },
  spec: { serviceAccountName: app },
  status: { podIP: ip },
});
/** reviews' slice names its pods by targetRef; ratings' only by address. */
const slice = (app: string, ips: string[], byTargetRef: boolean, ready = true): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: `${app}-1`, namespace: 'shop', labels: { 'kubernetes.io/service-name': app } },
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 9080 }],
  endpoints: ips.map((ip, i) => ({
    addresses: [ip],
    conditions: { ready },
    ...(byTargetRef ? { targetRef: { kind: 'Pod', name: `${app}-${i}`, namespace: 'shop' } } : {}),
  })),
});
const config: KubeObject[] = [
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] },
  },
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
  },
];
const reviews = 'reviews.shop.svc.cluster.local';
const ratings = 'ratings.shop.svc.cluster.local';
const details = 'details.shop.svc.cluster.local';

function mesh() {
  const model = new MeshModel({ logger: pino({ level: 'silent' }), validators: kindValidators });
  model.apply(
    [
      service('reviews'),
      service('ratings'),
      service('details'),
      pod('reviews-0', 'reviews', '10.1.0.1'),
      pod('ratings-0', 'ratings', '10.1.0.2'),
      pod('details-0', 'details', '10.1.0.3'),
      slice('reviews', ['10.1.0.1'], true),
      slice('ratings', ['10.1.0.2'], false),
      slice('details', ['10.1.0.3'], true),
      ...config,
    ].map((object) => ({ type: 'upsert' as const, object })),
  );
  let context = new PushContext(model.snapshot());
  context.scopeFor({ namespace: 'shop', labels: { app: 'client' } });
  return {
    model,
    get context() {
      return context;
    },
    /** Applies `objects` and builds the next context on the current one, as the pipeline does. */
    next(...objects: KubeObject[]) {
      const previous = context;
      model.apply(objects.map((object) => ({ type: 'upsert' as const, object })));
      context = new PushContext(model.snapshot(), defaultPushContextOptions, previous.encodings, previous);
      return { previous, next: context, endpointsBuilt: serviceIndexStats.endpointsBuilt };
    },
  };
}

/** What a context serves, in a comparable form. */
const served = (c: PushContext) => ({
  services: c.services.map((s) => s.hostname),
  endpoints: [...c.serviceIndex.endpoints].map(([host, byPort]) => [
    host,
    [...byPort].map(([port, eps]) => [port, eps.map((e) => `${e.address}:${e.port} ${e.workload} ${JSON.stringify(e.labels)} ${e.serviceAccount}`)]),
  ]),
  podsByIp: [...c.serviceIndex.podsByIp.keys()].sort(),
  route: c.virtualServiceFor(reviews, 'shop')?.name,
  rule: c.destinationRuleFor({ namespace: 'shop' }, reviews)?.name,
});
const fromScratch = (model: MeshModel) => new PushContext(model.snapshot());

describe('push context reuse', () => {
  it('an endpoint change recomputes the endpoints of its service only, and takes every other part over', () => {
    const m = mesh();
    const { previous, next, endpointsBuilt } = m.next(slice('reviews', ['10.1.0.1'], true, false));
    expect(endpointsBuilt).toBe(1);
    expect(next.endpoints(reviews, 9080)).toEqual([]);
    expect(next.serviceIndex.endpoints.get(ratings)).toBe(previous.serviceIndex.endpoints.get(ratings));
    expect(next.serviceIndex.endpoints.get(details)).toBe(previous.serviceIndex.endpoints.get(details));
    expect([...next.reused].sort()).toEqual([
      'destinationRuleLookups',
      'destinationRules',
      'envoyFilters',
      'gatewayApi',
      'gateways',
      'meshConfig',
      'scopes',
      'services',
      'sidecars',
      'telemetries',
      'virtualServices',
    ]);
    expect(next.scopeFor({ namespace: 'shop', labels: { app: 'client' } })).toBe(previous.scopeFor({ namespace: 'shop', labels: { app: 'client' } }));
    expect(served(next)).toEqual(served(fromScratch(m.model)));
  });

  it('a Pod relabel recomputes the endpoints of the services whose slices name it, by targetRef or by IP', () => {
    const m = mesh();
    const relabelled = m.next(pod('reviews-0', 'reviews', '10.1.0.1', 'v2'));
    expect(relabelled.endpointsBuilt).toBe(1);
    expect(relabelled.next.endpoints(reviews, 9080)[0]!.labels).toEqual({ app: 'reviews', version: 'v2' });
    expect(relabelled.next.serviceIndex.endpoints.get(ratings)).toBe(relabelled.previous.serviceIndex.endpoints.get(ratings));
    expect(relabelled.next.reused.has('virtualServices') && relabelled.next.reused.has('destinationRules') && relabelled.next.reused.has('scopes')).toBe(true);
    expect(served(relabelled.next)).toEqual(served(fromScratch(m.model)));

    // ratings' slice finds its pod by IP.
    const byIp = m.next(pod('ratings-0', 'ratings', '10.1.0.2', 'v2'));
    expect(byIp.endpointsBuilt).toBe(1);
    expect(byIp.next.endpoints(ratings, 9080)[0]!.labels.version).toBe('v2');
    expect(served(byIp.next)).toEqual(served(fromScratch(m.model)));

    // A pod no slice names (a client) changes no endpoints at all.
    const client = m.next(pod('client-0', 'client', '10.1.0.9'));
    expect(client.endpointsBuilt).toBe(0);
    expect([...client.next.serviceIndex.endpoints.values()]).toEqual([...client.previous.serviceIndex.endpoints.values()]);
    expect(client.next.serviceIndex.podsByIp.get('10.1.0.9')?.metadata.name).toBe('client-0');
    expect(served(client.next)).toEqual(served(fromScratch(m.model)));
  });

  it("a pod moving to an IP a slice names by address moves that service's endpoint labels too", () => {
    const m = mesh();
    m.next(pod('ratings-0', 'ratings', '10.1.0.7'));
    const moved = m.next(pod('other', 'other', '10.1.0.2', 'v9'));
    expect(moved.endpointsBuilt).toBe(1);
    expect(moved.next.endpoints(ratings, 9080)[0]!.labels).toEqual({ app: 'other', version: 'v9' });
    expect(served(moved.next)).toEqual(served(fromScratch(m.model)));
  });

  it('Istio configuration and Service changes rebuild what derives from them', () => {
    const m = mesh();
    const vs = m.next({ ...config[0]!, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] } });
    expect(vs.endpointsBuilt).toBe(0);
    expect(vs.next.reused.has('virtualServices')).toBe(false);
    expect([...vs.next.reused]).toEqual(expect.arrayContaining(['destinationRules', 'services', 'endpoints', 'scopes']));
    const svc = m.next(service('orders'));
    expect(svc.endpointsBuilt).toBe(4);
    expect(svc.next.reused.has('services') || svc.next.reused.has('scopes') || svc.next.reused.has('destinationRuleLookups')).toBe(false);
    expect(svc.next.reused.has('virtualServices')).toBe(true);
    expect(served(svc.next)).toEqual(served(fromScratch(m.model)));
  });

  it('with Gateway API routes present, a Service change translates them again (backends resolve against Services)', () => {
    const m = mesh();
    expect(m.next(service('orders')).next.reused.has('gatewayApi')).toBe(true);
    const gateway: KubeObject = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] },
    };
    const route: KubeObject = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { parentRefs: [{ name: 'web' }], rules: [{ backendRefs: [{ name: 'payments', port: 9080 }] }] },
    };
    const added = m.next(gateway, route);
    expect(added.next.reused.has('gatewayApi')).toBe(false);
    const svc = m.next(service('payments'));
    expect(svc.next.reused.has('gatewayApi')).toBe(false);
    expect(svc.next.reused.has('virtualServices')).toBe(false);
    expect(served(svc.next)).toEqual(served(fromScratch(m.model)));
    expect(svc.next.gatewayApi.virtualServices).toEqual(fromScratch(m.model).gatewayApi.virtualServices);
  });
});

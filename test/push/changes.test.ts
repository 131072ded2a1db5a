import { describe, expect, it } from 'vitest';
import { changeImpact, pushRequestFor } from '../../src/push/changes.js';
import { Debouncer } from '../../src/push/debouncer.js';
import { meshFromYaml, proxyForPod } from '../support/goldenMesh.js';
import { waitFor } from '../support/captureLogger.js';
import type { ModelChange } from '../../src/model/meshModel.js';

const { context } = meshFromYaml(`apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: isolated}
spec: {egress: [{hosts: ["./*"]}]}
`);
const shop = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'shop' } });
const isolated = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b', namespace: 'isolated' } });
const short = (types: ReadonlySet<string> | 'all') => (types === 'all' ? 'all' : [...types].map((t) => t.slice(t.lastIndexOf('.') + 1)).sort());

/** The shop/reviews Service (selecting app=reviews) and its EndpointSlice with `endpoints` (YAML flow items). */
const reviewsWithEndpoints = (endpoints: string) => `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.1, selector: {app: reviews}, ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-1, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [${endpoints}]
`;

function change(kind: ModelChange['kind'], namespace: string, spec: unknown): ModelChange {
  return { kind, namespace, name: 'x', current: { apiVersion: 'networking.istio.io/v1', kind, metadata: { name: 'x', namespace }, spec } };
}

describe('change impact', () => {
  it('a DestinationRule pushes CDS and EDS to the proxies seeing its host, plus RDS when it hashes', () => {
    const plain = changeImpact(change('DestinationRule', 'shop', { host: 'reviews' }), context, context);
    expect(short(plain.types)).toEqual(['Cluster', 'ClusterLoadAssignment']);
    expect([plain.affects!(shop), plain.affects!(isolated)]).toEqual([true, false]);
    const hashing = changeImpact(
      change('DestinationRule', 'shop', { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true } } } }),
      context,
      context,
    );
    expect(short(hashing.types)).toEqual(['Cluster', 'ClusterLoadAssignment', 'RouteConfiguration']);
  });

  it('reads consistent hashing wherever a DestinationRule can set it: traffic policy, port level, a subset, a subset port level', () => {
    const hash = { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } };
    const portLevel = { portLevelSettings: [{ port: { number: 80 } }, { port: { number: 80 }, ...hash }] };
    const places = {
      trafficPolicy: { host: 'reviews', trafficPolicy: hash },
      portLevelSettings: { host: 'reviews', trafficPolicy: portLevel },
      subset: {
        host: 'reviews',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' }, trafficPolicy: hash },
        ],
      },
      subsetPortLevelSettings: { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' }, trafficPolicy: portLevel }] },
    };
    for (const [place, spec] of Object.entries(places)) {
      expect(short(changeImpact(change('DestinationRule', 'shop', spec), context, context).types), place).toContain('RouteConfiguration');
    }
  });

  it('does not take the text "consistentHash" in a name or label value for consistent hashing', () => {
    const spec = {
      host: 'reviews',
      trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: 'LEAST_REQUEST' } }] },
      subsets: [
        { name: 'consistentHash', labels: { version: 'v1' } },
        { name: 'v2', labels: { strategy: '"consistentHash"' } },
      ],
    };
    expect(short(changeImpact(change('DestinationRule', 'shop', spec), context, context).types)).toEqual(['Cluster', 'ClusterLoadAssignment']);
  });

  it('a VirtualService with tcp routes pushes LDS too; one bound only to gateways spares sidecars', () => {
    const tcp = changeImpact(
      change('VirtualService', 'shop', { hosts: ['reviews'], tcp: [{ route: [{ destination: { host: 'reviews' } }] }] }),
      context,
      context,
    );
    expect(short(tcp.types)).toEqual(['Listener', 'RouteConfiguration']);
    const gatewayOnly = changeImpact(change('VirtualService', 'shop', { hosts: ['reviews'], gateways: ['ingress'], http: [] }), context, context);
    expect(gatewayOnly.affects!(shop)).toBe(false);
  });

  it('a Sidecar is a full push for its namespace; Secrets and ConfigMaps push nothing', () => {
    const sidecar = changeImpact(change('Sidecar', 'isolated', {}), context, context);
    expect(sidecar.types).toBe('all');
    expect([sidecar.affects!(shop), sidecar.affects!(isolated)]).toEqual([false, true]);
    const secret = changeImpact({ kind: 'Secret', namespace: 'shop', name: 's' }, context, context);
    expect(pushRequestFor([secret], 'v1', 0)).toBeUndefined();
    // Nothing is pushed, but what was parsed from the Secret must not outlive it (see parsedCredentialEntry).
    expect(secret.secretsOf).toEqual([{ namespace: 'shop', name: 's' }]);
  });

  it('a Pod pushes EDS, CDS and LDS to its own proxy and to the proxies seeing a service it backs, not to everyone', () => {
    const mesh =
      meshFromYaml(`${reviewsWithEndpoints('{addresses: [10.1.0.5], conditions: {ready: true}, targetRef: {kind: Pod, name: reviews-v1, namespace: shop}}')}---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: shop, labels: {app: reviews, version: v1}}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Service
metadata: {name: tools, namespace: ops}
spec: {clusterIP: 10.96.0.2, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ops}
spec: {egress: [{hosts: ["./*"]}]}
`).context;
    const pod = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'shop', labels } });
    const backing = changeImpact(
      {
        kind: 'Pod',
        namespace: 'shop',
        name: 'reviews-v1',
        previous: pod('reviews-v1', { app: 'reviews', version: 'v1' }),
        current: pod('reviews-v1', { app: 'reviews', version: 'v2' }),
      },
      mesh,
      mesh,
    );
    expect(short(backing.types)).toEqual(['Cluster', 'ClusterLoadAssignment', 'Listener']);
    const opsClient = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ops-1', namespace: 'ops' } });
    const ownProxy = proxyForPod(pod('reviews-v1', { app: 'reviews' }));
    expect([backing.affects!(shop), backing.affects!(opsClient), backing.affects!(ownProxy)]).toEqual([true, false, true]);
    // A pod no endpoint refers to concerns only its own proxy.
    const loner = changeImpact({ kind: 'Pod', namespace: 'shop', name: 'loner', current: pod('loner', { app: 'loner' }) }, mesh, mesh);
    expect([loner.affects!(shop), loner.affects!(proxyForPod(pod('loner', {})))]).toEqual([false, true]);
  });

  it('an endpoint change that brings a new service account pushes CDS too, since clusters pin the identities', () => {
    const mesh = (endpoints: string) =>
      meshFromYaml(`${reviewsWithEndpoints(endpoints)}---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: shop, labels: {app: reviews}}
spec: {serviceAccountName: reviews}
status: {podIP: 10.1.0.5}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1b, namespace: shop, labels: {app: reviews}}
spec: {serviceAccountName: reviews}
status: {podIP: 10.1.0.7}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v2, namespace: shop, labels: {app: reviews}}
spec: {serviceAccountName: reviews-canary}
status: {podIP: 10.1.0.6}
`).context;
    const v1 = '{addresses: [10.1.0.5], conditions: {ready: true}, targetRef: {kind: Pod, name: reviews-v1, namespace: shop}}';
    const v2 = '{addresses: [10.1.0.6], conditions: {ready: true}, targetRef: {kind: Pod, name: reviews-v2, namespace: shop}}';
    const slice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'reviews-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'reviews' } },
    };
    const endpointChange = { kind: 'EndpointSlice' as const, namespace: 'shop', name: 'reviews-1', previous: slice, current: slice };
    const newAccount = changeImpact(endpointChange, mesh(v1), mesh(`${v1}, ${v2}`));
    expect(short(newAccount.types)).toEqual(['Cluster', 'ClusterLoadAssignment']);
    expect(newAccount.servicesOf).toEqual(['reviews.shop.svc.cluster.local']);
    const v1b = '{addresses: [10.1.0.7], conditions: {ready: true}, targetRef: {kind: Pod, name: reviews-v1b, namespace: shop}}';
    const sameAccount = changeImpact(endpointChange, mesh(v1), mesh(`${v1}, ${v1b}`));
    expect(short(sameAccount.types)).toEqual(['ClusterLoadAssignment']);
    expect(sameAccount.servicesOf).toEqual(['reviews.shop.svc.cluster.local']);
  });

  it('Gateway API objects push LDS, RDS and SDS to routers only; Namespace labels reach routers once a Gateway API gateway exists', () => {
    const withGateway = meshFromYaml(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}
`).context;
    const router = proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'edge-1', namespace: 'ingress' } }, 'router');
    for (const kind of ['GatewayClass', 'KubernetesGateway', 'HTTPRoute', 'GRPCRoute', 'ReferenceGrant'] as const) {
      const impact = changeImpact(change(kind, 'shop', {}), context, withGateway);
      expect(short(impact.types), kind).toEqual(['Listener', 'RouteConfiguration', 'Secret']);
      expect(impact.affects!(router)).toBe(true);
      expect(impact.affects!(shop)).toBe(false);
    }
    const namespaceChange: ModelChange = {
      kind: 'Namespace',
      namespace: '',
      name: 'shop',
      current: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { team: 'shop' } } },
    };
    expect(short(changeImpact(namespaceChange, withGateway, withGateway).types)).toEqual(['Listener', 'RouteConfiguration']);
    expect(short(changeImpact(namespaceChange, context, context).types)).toEqual([]);
  });

  it('merges a batch: union of types, a proxy is affected when any change affects it', () => {
    const eds = changeImpact(
      {
        kind: 'EndpointSlice',
        namespace: 'shop',
        name: 'reviews-1',
        current: {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'reviews-1', namespace: 'shop', labels: { 'kubernetes.io/service-name': 'reviews' } },
        },
      },
      context,
      context,
    );
    const sidecar = changeImpact(change('Sidecar', 'isolated', {}), context, context);
    const edsOnly = pushRequestFor([eds], 'v2', 5)!;
    expect(short(edsOnly.types!)).toEqual(['ClusterLoadAssignment']);
    expect([edsOnly.affects!(shop), edsOnly.affects!(isolated)]).toEqual([true, false]);
    const merged = pushRequestFor([eds, sidecar], 'v3', 5)!;
    expect(merged.types).toBeUndefined();
    expect([merged.affects!(shop), merged.affects!(isolated)]).toEqual([true, true]);
    expect(merged).toMatchObject({ version: 'v3', startedAt: 5, reason: ['EndpointSlice/shop/reviews-1', 'Sidecar/isolated/x'] });
  });
});

describe('Debouncer', () => {
  it('releases a burst once after the quiet period, merged', async () => {
    const released: number[][] = [];
    const debouncer = new Debouncer<number>({ afterMs: 30, maxMs: 10_000 }, (items) => released.push(items));
    debouncer.add([1]);
    debouncer.add([2, 3]);
    await waitFor(() => released.length === 1, 'the release');
    expect(released).toEqual([[1, 2, 3]]);
    debouncer.stop();
  });

  it('releases at debounceMax even while changes keep coming', async () => {
    let clock = 0;
    const released: number[][] = [];
    // Without the cap the 10 s quiet period would outlast the 1 s wait below.
    const debouncer = new Debouncer<number>(
      { afterMs: 10_000, maxMs: 100 },
      (items) => released.push(items),
      () => clock,
    );
    debouncer.add([1]);
    clock = 99; // 99 ms after the first change: at most 1 ms more may pass
    debouncer.add([2]);
    await waitFor(() => released.length === 1, 'the capped release', 1000);
    expect(released).toEqual([[1, 2]]);
    debouncer.stop();
  });
});

// Which EnvoyFilters apply to a proxy, in which order, and the cache keys they give.
import { describe, expect, it } from 'vitest';
import { meshFromYaml } from '../support/goldenMesh.js';
import { proxyEnvoyFilters } from '../../src/push/envoyFilters.js';
import { changeImpact } from '../../src/push/changes.js';
import type { KubeObject } from '../../src/model/kube.js';
import { SidecarGenerator } from '../../src/xds/gen/sidecar/generator.js';
import { TypeUrl, decodeAnyToJson } from '../../src/xds/resource.js';
import type { Proxy } from '../../src/model/proxy.js';
import { captureLogger } from '../support/captureLogger.js';

const pods = `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  clusterIP: 10.96.5.11
  selector: {app: api}
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: 10.1.5.1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: shop, labels: {app: web}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: 10.1.5.2}
---
apiVersion: v1
kind: Pod
metadata: {name: batch-1, namespace: shop, labels: {app: batch}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: 10.1.5.3}
---
apiVersion: v1
kind: Pod
metadata: {name: batch-2, namespace: shop, labels: {app: batch}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: 10.1.5.4}
---
apiVersion: v1
kind: Pod
metadata: {name: other-1, namespace: other, labels: {app: web}, annotations: {golden.meshd.io/proxy: "true"}}
status: {podIP: 10.1.6.1}
`;

function filter(name: string, namespace: string, spec: string, created = '2026-01-01T00:00:00Z'): string {
  return `---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ${name}, namespace: ${namespace}, creationTimestamp: "${created}"}
spec:
${spec}`;
}
const mergeTimeout = (seconds: number, extra = '') => `${extra}  configPatches:
  - applyTo: CLUSTER
    match: {cluster: {service: api.shop.svc.cluster.local}}
    patch: {operation: MERGE, value: {connect_timeout: ${seconds}s}}
`;
const byPod = (proxies: Proxy[], pod: string): Proxy => proxies.find((p) => p.podName === pod)!;

describe('EnvoyFilter selection and order', () => {
  it('applies root-namespace filters everywhere, namespace filters to their namespace, selectors to matching labels', () => {
    const mesh = meshFromYaml(
      pods +
        filter('mesh-wide', 'istio-system', mergeTimeout(1)) +
        filter('web-only', 'shop', mergeTimeout(2, '  workloadSelector: {labels: {app: web}}\n')) +
        filter('shop-wide', 'shop', mergeTimeout(3)),
    );
    const applied = (pod: string) => proxyEnvoyFilters(mesh.context, byPod(mesh.proxies, pod)).filters;
    expect(applied('web-1')).toEqual(['istio-system/mesh-wide', 'shop/shop-wide', 'shop/web-only']);
    expect(applied('batch-1')).toEqual(['istio-system/mesh-wide', 'shop/shop-wide']);
    expect(applied('other-1')).toEqual(['istio-system/mesh-wide']);
  });

  it('orders by priority, then root namespace first, then creation time, then name', () => {
    const mesh = meshFromYaml(
      pods +
        filter('late-root', 'istio-system', mergeTimeout(1), '2026-03-01T00:00:00Z') +
        filter('early-ns', 'shop', mergeTimeout(2), '2026-01-01T00:00:00Z') +
        filter('b-same-time', 'shop', mergeTimeout(3), '2026-02-01T00:00:00Z') +
        filter('a-same-time', 'shop', mergeTimeout(4), '2026-02-01T00:00:00Z') +
        filter('first', 'shop', mergeTimeout(5, '  priority: -5\n'), '2026-09-01T00:00:00Z') +
        filter('last', 'istio-system', mergeTimeout(6, '  priority: 5\n'), '2025-01-01T00:00:00Z'),
    );
    const proxy = byPod(mesh.proxies, 'batch-1');
    expect(proxyEnvoyFilters(mesh.context, proxy).filters).toEqual([
      'shop/first',
      'istio-system/late-root',
      'shop/early-ns',
      'shop/a-same-time',
      'shop/b-same-time',
      'istio-system/last',
    ]);
    // The last MERGE wins.
    const generator = new SidecarGenerator(() => mesh.context);
    const api = generator
      .clusters(mesh.context, proxy)
      .map((c) => decodeAnyToJson(c.any))
      .find((c) => c.name === 'outbound|8080||api.shop.svc.cluster.local')!;
    expect(api.connectTimeout).toEqual({ seconds: '6' });
  });

  it('keeps patches whose proxy match (version regex, metadata) fits the proxy', () => {
    const spec = `  configPatches:
  - applyTo: CLUSTER
    match: {proxy: {proxyVersion: '^1\\.24.*'}}
    patch: {operation: REMOVE}
  - applyTo: CLUSTER
    match: {proxy: {proxyVersion: '^1\\.19.*'}}
    patch: {operation: REMOVE}
  - applyTo: CLUSTER
    match: {proxy: {metadata: {CLUSTER_ID: Kubernetes}}}
    patch: {operation: REMOVE}
  - applyTo: CLUSTER
    match: {proxy: {metadata: {CLUSTER_ID: elsewhere}}}
    patch: {operation: REMOVE}
`;
    const mesh = meshFromYaml(pods + filter('versions', 'shop', spec));
    const kept = proxyEnvoyFilters(mesh.context, byPod(mesh.proxies, 'web-1'))
      .patches.get('CLUSTER')!
      .map((p) => p.index);
    expect(kept).toEqual([0, 2]);
  });

  it('targetRefs attach to the gateway deployment of the named Gateway only', () => {
    const spec = `  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: shop-gw}]
${mergeTimeout(2)}`;
    const routers = `---
apiVersion: v1
kind: Pod
metadata: {name: gw-1, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: shop-gw}, annotations: {golden.meshd.io/proxy: router}}
status: {podIP: 10.1.7.1}
---
apiVersion: v1
kind: Pod
metadata: {name: gw-2, namespace: shop, labels: {gateway.networking.k8s.io/gateway-name: other-gw}, annotations: {golden.meshd.io/proxy: router}}
status: {podIP: 10.1.7.2}
`;
    const mesh = meshFromYaml(pods + routers + filter('gw', 'shop', spec));
    expect(proxyEnvoyFilters(mesh.context, byPod(mesh.routers, 'gw-1')).filters).toEqual(['shop/gw']);
    expect(proxyEnvoyFilters(mesh.context, byPod(mesh.routers, 'gw-2')).filters).toEqual([]);
    expect(proxyEnvoyFilters(mesh.context, byPod(mesh.proxies, 'web-1')).filters).toEqual([]);
  });
});

describe('EnvoyFilter and the result cache', () => {
  const spec = `  workloadSelector: {labels: {app: web}}
  configPatches:
  - applyTo: CLUSTER
    match: {cluster: {service: api.shop.svc.cluster.local}}
    patch: {operation: MERGE, value: {connect_timeout: 2s}}
  - applyTo: HTTP_FILTER
    match:
      listener:
        filterChain:
          filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}
    patch: {operation: REMOVE}
  - applyTo: ROUTE_CONFIGURATION
    match: {routeConfiguration: {portNumber: 8080}}
    patch: {operation: MERGE, value: {validate_clusters: true}}
`;
  const types = [TypeUrl.Cluster, TypeUrl.Listener] as const;
  /** The very same encoded resources (shared, not re-encoded per proxy). */
  const sameResources = (a: readonly unknown[], b: readonly unknown[]) => {
    expect(a.length).toBe(b.length);
    a.forEach((r, i) => expect(r).toBe(b[i]));
  };
  const generate = (generator: SidecarGenerator, mesh: ReturnType<typeof meshFromYaml>, pod: string, typeUrl: string) =>
    generator.generate(byPod(mesh.proxies, pod), { typeUrl, wildcard: true, names: new Set() })!;

  it('proxies without filters share the results they shared before; selected replicas share theirs', () => {
    const plain = meshFromYaml(pods);
    const mesh = meshFromYaml(pods + filter('web-tuning', 'shop', spec));
    const plainGenerator = new SidecarGenerator(() => plain.context);
    const generator = new SidecarGenerator(() => mesh.context);
    for (const typeUrl of [...types, TypeUrl.RouteConfiguration]) {
      const batch1 = generate(generator, mesh, 'batch-1', typeUrl);
      // Unselected proxies: one shared result, byte-identical to the mesh without the filter.
      sameResources(generate(generator, mesh, 'batch-2', typeUrl), batch1);
      expect(batch1.map((r) => r.version)).toEqual(generate(plainGenerator, plain, 'batch-1', typeUrl).map((r) => r.version));
      // Selected replicas: one shared, patched result.
      const web1 = generate(generator, mesh, 'web-1', typeUrl);
      sameResources(generate(generator, mesh, 'web-2', typeUrl), web1);
      expect(web1.map((r) => r.version)).not.toEqual(batch1.map((r) => r.version));
    }
    // The keys of unselected proxies' results carry no filter identity; the patched ones do.
    const keys = [...mesh.context.cache.keys()];
    expect(keys.filter((k) => k.includes('|ef:')).every((k) => k.includes('shop/web-tuning@'))).toBe(true);
    expect(keys.some((k) => k.startsWith('cds-all|') && k.includes('|ef:'))).toBe(true);
    expect(keys.some((k) => k.startsWith('cds-all|') && !k.includes('|ef:'))).toBe(true);
  });

  it('a filter patching only gateways (or only one side of a sidecar) leaves the other results shared', () => {
    const gatewayOnly = `  configPatches:
  - applyTo: HTTP_FILTER
    match: {context: GATEWAY}
    patch: {operation: REMOVE}
  - applyTo: CLUSTER
    match: {context: GATEWAY}
    patch: {operation: REMOVE}
`;
    const outboundOnly = `  workloadSelector: {labels: {app: web}}
  configPatches:
  - applyTo: LISTENER
    match: {context: SIDECAR_OUTBOUND, listener: {portNumber: 8080}}
    patch: {operation: REMOVE}
`;
    const plain = meshFromYaml(pods);
    const mesh = meshFromYaml(pods + filter('gateways', 'istio-system', gatewayOnly) + filter('outbound', 'shop', outboundOnly));
    const generator = new SidecarGenerator(() => mesh.context);
    const plainGenerator = new SidecarGenerator(() => plain.context);
    for (const typeUrl of [...types, TypeUrl.RouteConfiguration]) {
      sameResources(generate(generator, mesh, 'batch-2', typeUrl), generate(generator, mesh, 'batch-1', typeUrl));
      expect(generate(generator, mesh, 'batch-1', typeUrl).map((r) => r.version)).toEqual(
        generate(plainGenerator, plain, 'batch-1', typeUrl).map((r) => r.version),
      );
    }
    // web-1's outbound listener on 8080 is gone; its inbound side is the unpatched one.
    const names = (pod: string) => generate(generator, mesh, pod, TypeUrl.Listener).map((l) => l.name);
    expect(names('web-1')).not.toContain('0.0.0.0_8080');
    expect(names('batch-1')).toContain('0.0.0.0_8080');
    expect([...mesh.context.cache.keys()].filter((k) => k.startsWith('lds-in|') && k.includes('|ef:'))).toEqual([]);
  });

  it('the patch reaches only the selected proxy', () => {
    const mesh = meshFromYaml(pods + filter('web-tuning', 'shop', spec));
    const generator = new SidecarGenerator(() => mesh.context);
    const routerCount = (pod: string) =>
      JSON.stringify(generate(generator, mesh, pod, TypeUrl.Listener).map((l) => decodeAnyToJson(l.any))).split('envoy.filters.http.router').length - 1;
    expect(routerCount('web-1')).toBe(0);
    expect(routerCount('batch-1')).toBeGreaterThan(0);
  });
});

describe('a patch that matches nothing', () => {
  it('is logged at debug level for the proxy, naming the EnvoyFilter and the patch, and is no error', () => {
    const spec = `  workloadSelector: {labels: {app: web}}
  configPatches:
  - applyTo: CLUSTER
    match: {cluster: {service: nowhere.shop.svc.cluster.local}}
    patch: {operation: MERGE, value: {connect_timeout: 2s}}
  - applyTo: HTTP_FILTER
    match: {context: SIDECAR_INBOUND, listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.absent}}}}}
    patch: {operation: REMOVE}
  - applyTo: CLUSTER
    match: {cluster: {service: api.shop.svc.cluster.local}}
    patch: {operation: MERGE, value: {connect_timeout: 2s}}
`;
    const mesh = meshFromYaml(pods + filter('stale', 'shop', spec));
    const { logger, lines } = captureLogger('debug');
    const generator = new SidecarGenerator(() => mesh.context, logger);
    const web = byPod(mesh.proxies, 'web-1');
    expect(generator.clusters(mesh.context, web).length).toBeGreaterThan(0);
    expect(generator.listeners(mesh.context, web).length).toBeGreaterThan(0);
    const unmatched = lines.filter((l) => l.envoyFilter === 'shop/stale').map((l) => [l.level, l.patch, l.msg]);
    expect(unmatched).toEqual([
      [20, 0, `EnvoyFilter shop/stale configPatches[0] (CLUSTER MERGE) matched nothing for ${web.id}`],
      [20, 1, `EnvoyFilter shop/stale configPatches[1] (HTTP_FILTER REMOVE) matched nothing for ${web.id}`],
    ]);
  });
});

describe('a MERGE whose result Envoy would refuse', () => {
  it('leaves the proxy its unpatched result, with a warning naming the EnvoyFilter and the rule', () => {
    const spec = `  workloadSelector: {labels: {app: web}}
  configPatches:
  - applyTo: CLUSTER
    match: {cluster: {service: api.shop.svc.cluster.local}}
    patch: {operation: MERGE, value: {dns_refresh_rate: 0.0001s}}
`;
    const mesh = meshFromYaml(pods + filter('too-fast', 'shop', spec));
    const plain = meshFromYaml(pods);
    const { logger, lines } = captureLogger('warn');
    const web = byPod(mesh.proxies, 'web-1');
    const clusters = new SidecarGenerator(() => mesh.context, logger).clusters(mesh.context, web);
    const unpatched = new SidecarGenerator(() => plain.context).clusters(plain.context, byPod(plain.proxies, 'web-1'));
    expect(clusters.map((c) => c.version)).toEqual(unpatched.map((c) => c.version));
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(
        /^EnvoyFilter patches \(shop\/too-fast\) produce configuration Envoy would refuse \(outbound\|8080\|\|api.shop.svc.cluster.local: Cluster.dnsRefreshRate: duration must be > .*\); serving it unpatched$/,
      ),
    ]);
  });
});

describe('EnvoyFilter change impact', () => {
  const object = (namespace: string, spec: Record<string, unknown>): KubeObject => ({
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'f', namespace },
    spec,
  });
  const mesh = meshFromYaml(pods);
  const affected = (namespace: string, spec: Record<string, unknown>, previousSpec?: Record<string, unknown>) => {
    const impact = changeImpact(
      { kind: 'EnvoyFilter', namespace, name: 'f', current: object(namespace, spec), ...(previousSpec ? { previous: object(namespace, previousSpec) } : {}) },
      mesh.context,
      mesh.context,
    );
    expect(impact.types).toEqual(new Set([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration]));
    return mesh.proxies
      .filter((p) => impact.affects!(p))
      .map((p) => p.podName)
      .sort();
  };

  it('pushes to the proxies the old or the new version selects', () => {
    expect(affected('shop', { workloadSelector: { labels: { app: 'web' } } })).toEqual(['web-1', 'web-2']);
    expect(affected('shop', { workloadSelector: { labels: { app: 'web' } } }, { workloadSelector: { labels: { app: 'batch' } } })).toEqual([
      'batch-1',
      'batch-2',
      'web-1',
      'web-2',
    ]);
    expect(affected('shop', {})).toEqual(['batch-1', 'batch-2', 'web-1', 'web-2']);
    expect(affected('istio-system', { workloadSelector: { labels: { app: 'web' } } })).toEqual(['other-1', 'web-1', 'web-2']);
  });
});

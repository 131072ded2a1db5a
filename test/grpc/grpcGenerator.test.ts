// The proxyless gRPC generator over a push context: istiod's names and
// shapes, exactly the requested resources, and resources that pass Envoy's
// protos and validation rules.
import { describe, expect, it } from 'vitest';
import { parseProxy, type Proxy } from '../../src/model/proxy.js';
import { GrpcGenerator } from '../../src/xds/gen/grpc/generator.js';
import { consistencyProblems, referencedEdsNames, referencedRouteNames } from '../../src/xds/consistency.js';
import { TypeUrl, decodeAnyToJson, type XdsResource } from '../../src/xds/resource.js';
import { encodedResourceProblems } from '../support/envoyValidation.js';
import { meshFromYaml } from '../support/goldenMesh.js';

const mesh = meshFromYaml(`
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: app}
spec: {clusterIP: 10.96.0.20, selector: {app: echo}, ports: [{name: grpc, port: 7070, targetPort: grpc}, {name: grpc-admin, port: 7071, targetPort: admin}]}
---
apiVersion: v1
kind: Service
metadata: {name: hashed, namespace: app}
spec: {selector: {app: hashed}, ports: [{name: grpc, port: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-v1, namespace: app, labels: {app: echo, version: v1}}
status: {podIP: 127.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-v2, namespace: app, labels: {app: echo, version: v2}}
status: {podIP: 127.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-v3, namespace: app, labels: {app: echo, version: v3}}
spec: {containers: [{name: echo, ports: [{name: grpc, containerPort: 17073}, {name: admin, containerPort: 18073}]}]}
status: {podIP: 127.0.0.1}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-v1, namespace: app, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: grpc, port: 17071}, {name: grpc-admin, port: 18071}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}, targetRef: {kind: Pod, name: echo-v1, namespace: app}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-v2, namespace: app, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: grpc, port: 17072}, {name: grpc-admin, port: 18072}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}, targetRef: {kind: Pod, name: echo-v2, namespace: app}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: app}
spec:
  host: echo
  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN}
    connectionPool: {http: {http2MaxRequests: 50}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v2}, trafficPolicy: {connectionPool: {http: {http2MaxRequests: 7}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hashed, namespace: app}
spec:
  host: hashed
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user, minimumRingSize: 2048}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: app}
spec:
  hosts: [echo]
  http:
    - match: [{headers: {x-version: {exact: v2}}}]
      route: [{destination: {host: echo, subset: v2}}]
    - route:
        - {destination: {host: echo, subset: v1}, weight: 90}
        - {destination: {host: echo, subset: v2}, weight: 10}
`);

function grpcProxy(pod: string, namespace = 'app', ip = '127.0.0.1'): Proxy {
  return parseProxy({
    id: `sidecar~${ip}~${pod}.${namespace}~${namespace}.svc.cluster.local`,
    metadata: { GENERATOR: 'grpc', NAMESPACE: namespace, LABELS: { app: pod } },
  });
}

const generator = new GrpcGenerator(() => mesh.context);
const request = { version: 't', reason: ['test'], startedAt: 0 };
const generate = (proxy: Proxy, typeUrl: string, names: string[]): readonly XdsResource[] =>
  generator.generate(proxy, { typeUrl, wildcard: names.length === 0, names: new Set(names) }, request)!;
const json = (resources: readonly XdsResource[]) => resources.map((r) => decodeAnyToJson(r.any) as Record<string, any>);
const client = grpcProxy('client', 'app', '10.0.0.9');
const host = 'echo.app.svc.cluster.local';

describe('gRPC client listeners', () => {
  it('answers HOST:PORT with an api_listener whose RDS name is the default cluster name', () => {
    const [listener, ...rest] = json(generate(client, TypeUrl.Listener, [`${host}:7070`]));
    expect(rest).toEqual([]);
    expect(listener!.name).toBe(`${host}:7070`);
    expect(listener!.address.socketAddress).toMatchObject({ address: '10.96.0.20', portValue: 7070 });
    const hcm = listener!.apiListener.apiListener;
    expect(hcm['@type']).toBe('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    expect(hcm.rds).toMatchObject({ routeConfigName: `outbound|7070||${host}`, configSource: { ads: {} } });
    expect(hcm.httpFilters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.router']);
  });

  it('expands short names as istiod does and keeps the requested name', () => {
    const names = json(generate(client, TypeUrl.Listener, ['echo:7070', 'echo.app:7071', 'echo.app.svc'])).map((l) => [
      l.name,
      l.apiListener.apiListener.rds.routeConfigName,
    ]);
    expect(names).toEqual([
      ['echo:7070', `outbound|7070||${host}`],
      ['echo.app:7071', `outbound|7071||${host}`],
      // No port: every service port.
      ['echo.app.svc:7070', `outbound|7070||${host}`],
      ['echo.app.svc:7071', `outbound|7071||${host}`],
    ]);
  });

  it('answers nothing for unknown hosts and ports, nor for short names from another namespace (istiod expands them only in the own namespace)', () => {
    const other = grpcProxy('client', 'elsewhere');
    expect(generate(client, TypeUrl.Listener, ['nope.app.svc.cluster.local:7070', `${host}:9999`])).toEqual([]);
    expect(generate(other, TypeUrl.Listener, ['echo:7070'])).toEqual([]);
    expect(generate(other, TypeUrl.Listener, ['echo.app:7070'])).toEqual([]);
    expect(json(generate(other, TypeUrl.Listener, [`${host}:7070`])).map((l) => l.name)).toEqual([`${host}:7070`]);
  });
});

describe('gRPC server listeners', () => {
  it('serves xds.istio.io/grpc/lds/inbound/IP:PORT on a port one of the workload endpoints serves', () => {
    const name = 'xds.istio.io/grpc/lds/inbound/127.0.0.1:17072';
    const [listener] = json(generate(grpcProxy('echo-v2'), TypeUrl.Listener, [name]));
    expect(listener!.name).toBe(name);
    expect(listener!.address.socketAddress).toMatchObject({ address: '127.0.0.1', portValue: 17072 });
    expect(listener!.apiListener).toBeUndefined();
    const hcm = listener!.filterChains[0].filters[0].typedConfig;
    expect(hcm.routeConfig.virtualHosts[0].routes[0]).toMatchObject({ match: { prefix: '/' }, nonForwardingAction: {} });
    expect(hcm.httpFilters.map((f: { name: string }) => f.name)).toEqual(['envoy.filters.http.router']);
  });

  it("serves the ports its Pod's Services target before any endpoint lists the Pod (named target ports via container ports)", () => {
    const names = ['xds.istio.io/grpc/lds/inbound/127.0.0.1:17073', 'xds.istio.io/grpc/lds/inbound/127.0.0.1:18073'];
    const listeners = json(generate(grpcProxy('echo-v3'), TypeUrl.Listener, names));
    expect(listeners.map((l) => [l.name, l.address.socketAddress.portValue])).toEqual([
      [names[0], 17073],
      [names[1], 18073],
    ]);
  });

  it('answers nothing for a port no service instance of the workload serves', () => {
    expect(generate(client, TypeUrl.Listener, ['xds.istio.io/grpc/lds/inbound/10.0.0.9:17072'])).toEqual([]);
    expect(generate(grpcProxy('echo-v2'), TypeUrl.Listener, ['xds.istio.io/grpc/lds/inbound/127.0.0.1:19999'])).toEqual([]);
  });
});

describe('gRPC routes', () => {
  it('holds the one virtual host of the service, reachable by every name with and without the port', () => {
    const [config, ...rest] = json(generate(client, TypeUrl.RouteConfiguration, [`outbound|7070||${host}`, `outbound|7070|v1|${host}`]));
    expect(rest).toEqual([]);
    expect(config!.name).toBe(`outbound|7070||${host}`);
    expect(config!.virtualHosts).toHaveLength(1);
    expect(config!.virtualHosts[0].domains).toEqual(
      expect.arrayContaining([host, `${host}:7070`, 'echo:7070', 'echo.app:7070', 'echo.app.svc:7070', '10.96.0.20:7070']),
    );
  });

  it('carries the VirtualService rules in order, header matches in the form every gRPC version reads', () => {
    const [config] = json(generate(client, TypeUrl.RouteConfiguration, [`outbound|7070||${host}`]));
    const [byHeader, split] = config!.virtualHosts[0].routes;
    expect(byHeader.match.headers).toEqual([{ name: 'x-version', exactMatch: 'v2' }]);
    expect(byHeader.route.cluster).toBe(`outbound|7070|v2|${host}`);
    expect(split.route.weightedClusters.clusters.map((c: { name: string; weight: { value: number } }) => [c.name, c.weight.value])).toEqual([
      [`outbound|7070|v1|${host}`, 90],
      [`outbound|7070|v2|${host}`, 10],
    ]);
  });
});

describe('gRPC clusters', () => {
  it('answers exactly the requested clusters that exist; an undefined subset has none', () => {
    const names = json(generate(client, TypeUrl.Cluster, [`outbound|7070||${host}`, `outbound|7070|v2|${host}`, `outbound|7070|v9|${host}`])).map(
      (c) => c.name,
    );
    expect(names).toEqual([`outbound|7070||${host}`, `outbound|7070|v2|${host}`]);
  });

  it('builds EDS clusters with the gRPC load balancer, max_requests and outlier detection of the DestinationRule', () => {
    const [byDefault, v2] = json(generate(client, TypeUrl.Cluster, [`outbound|7070||${host}`, `outbound|7070|v2|${host}`]));
    expect(byDefault).toMatchObject({ type: 'EDS', edsClusterConfig: { serviceName: `outbound|7070||${host}`, edsConfig: { ads: {} } } });
    // LEAST_CONN has no gRPC counterpart (gRPC would NACK LEAST_REQUEST): round robin, as istiod falls back.
    expect(byDefault!.lbPolicy ?? 'ROUND_ROBIN').toBe('ROUND_ROBIN');
    expect(byDefault!.circuitBreakers.thresholds[0].maxRequests.value).toBe(50);
    expect(v2!.circuitBreakers.thresholds[0].maxRequests.value).toBe(7);
    expect(byDefault!.outlierDetection).toMatchObject({ consecutive_5xx: { value: 5 }, interval: { seconds: '10' }, maxEjectionPercent: { value: 50 } });
  });

  it('turns consistent hashing into RING_HASH with the ring size', () => {
    const [cluster] = json(generate(client, TypeUrl.Cluster, ['outbound|8080||hashed.app.svc.cluster.local']));
    expect(cluster).toMatchObject({ lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: { value: '2048' } } });
  });

  it('serves a default cluster for an unknown service, as istiod does', () => {
    expect(json(generate(client, TypeUrl.Cluster, ['outbound|80||unknown.app.svc.cluster.local'])).map((c) => c.name)).toEqual([
      'outbound|80||unknown.app.svc.cluster.local',
    ]);
  });
});

describe('gRPC endpoints', () => {
  it('selects the subset endpoints with their own ports', () => {
    const [v2] = json(generate(client, TypeUrl.ClusterLoadAssignment, [`outbound|7070|v2|${host}`]));
    const addresses = v2!.endpoints.flatMap((l: { lbEndpoints: { endpoint: { address: { socketAddress: unknown } } }[] }) =>
      l.lbEndpoints.map((e) => e.endpoint.address.socketAddress),
    );
    expect(addresses).toEqual([{ address: '127.0.0.1', portValue: 17072 }]);
  });
});

describe('every gRPC resource', () => {
  it('passes Envoy proto and validation-rule checks', () => {
    const all = [
      ...generate(client, TypeUrl.Listener, [`${host}:7070`, 'echo:7071']),
      ...generate(grpcProxy('echo-v1'), TypeUrl.Listener, ['xds.istio.io/grpc/lds/inbound/127.0.0.1:17071']),
      ...generate(client, TypeUrl.RouteConfiguration, [`outbound|7070||${host}`]),
      ...generate(client, TypeUrl.Cluster, [`outbound|7070||${host}`, `outbound|7070|v1|${host}`, 'outbound|8080||hashed.app.svc.cluster.local']),
      ...generate(client, TypeUrl.ClusterLoadAssignment, [`outbound|7070|v1|${host}`]),
    ];
    expect(all).toHaveLength(8);
    expect(all.flatMap((r) => encodedResourceProblems(r.any).map((p) => `${r.name}: ${p}`))).toEqual([]);
  });

  it('is consistent, from a client listener down to its endpoints: every RDS and EDS name referenced is generated', () => {
    const listeners = json(generate(client, TypeUrl.Listener, [`${host}:7070`]));
    const routeNames = [...referencedRouteNames(listeners).values()].flatMap((names) => [...names]);
    const routes = json(generate(client, TypeUrl.RouteConfiguration, routeNames));
    // A client asks for the clusters its routes name, then for their load assignments.
    const clusterNames = [
      ...new Set(
        routes
          .flatMap((rc) => rc.virtualHosts as any[])
          .flatMap((vh) => vh.routes as any[])
          .flatMap((r) => (r.route.cluster ? [r.route.cluster] : (r.route.weightedClusters.clusters as any[]).map((c) => c.name))),
      ),
    ];
    const clusters = json(generate(client, TypeUrl.Cluster, clusterNames));
    const endpoints = json(generate(client, TypeUrl.ClusterLoadAssignment, [...new Set(referencedEdsNames(clusters).values())]));
    expect(routeNames).toEqual([`outbound|7070||${host}`]);
    expect(clusters.map((c) => c.name).sort()).toEqual([`outbound|7070|v1|${host}`, `outbound|7070|v2|${host}`]);
    expect(consistencyProblems(client.id, { listeners, clusters, routes, endpoints })).toEqual([]);
  });

  it('answers an EDS name of no known service port with an empty assignment, and leaves an unknown service out for Delta (removed_resources), as istiod does', () => {
    const unknown = ['outbound|7070||nope.app.svc.cluster.local', `outbound|9999||${host}`];
    const [known, ...empty] = json(generate(client, TypeUrl.ClusterLoadAssignment, [`outbound|7070|v1|${host}`, ...unknown]));
    expect(known!.clusterName).toBe(`outbound|7070|v1|${host}`);
    expect(empty.map((p) => [p.clusterName, p.endpoints])).toEqual(unknown.map((name) => [name, []]));
    const watched = { typeUrl: TypeUrl.ClusterLoadAssignment, wildcard: false, names: new Set(unknown), incremental: true };
    expect(generator.generate(client, watched, request)!.map((r) => r.name)).toEqual([`outbound|9999||${host}`]);
  });

  it('is encoded once and shared by proxies of the same scope', () => {
    const other = grpcProxy('client-2', 'app', '10.0.0.10');
    for (const [typeUrl, name] of [
      [TypeUrl.Listener, `${host}:7070`],
      [TypeUrl.RouteConfiguration, `outbound|7070||${host}`],
      [TypeUrl.Cluster, `outbound|7070|v1|${host}`],
      [TypeUrl.ClusterLoadAssignment, `outbound|7070|v1|${host}`],
    ] as const) {
      expect(generate(other, typeUrl, [name])[0]).toBe(generate(client, typeUrl, [name])[0]);
    }
  });

  it('leaves other xDS types to others', () => {
    expect(generator.generate(client, { typeUrl: TypeUrl.Secret, wildcard: false, names: new Set(['default']) }, request)).toBeUndefined();
  });
});

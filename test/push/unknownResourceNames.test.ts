// A proxy that names a resource meshd does not have is answered at once, as istiod answers it,
// instead of being left to wait out its initial fetch timeout: over Delta the name comes back in
// removed_resources; over State of the World an EDS name gets an empty ClusterLoadAssignment
// (but not one of a service resolved by DNS, whose cluster is not EDS). Real gRPC, real pipeline.
import { afterEach, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, sidecarNode, type ReceivedResponse, type TestNode } from '../support/adsClient.js';
import { opensslServingCertificate, tlsSecretYaml } from '../support/ca.js';
import { startFileMeshd } from '../support/filePipeline.js';

const mesh = {
  'services.yaml': `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: shop}
spec: {hosts: [api.example.com], location: MESH_EXTERNAL, resolution: DNS, ports: [{number: 443, name: tls, protocol: TLS}]}
`,
  'endpoints.yaml': `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-1, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints: [{addresses: [10.1.0.1], conditions: {ready: true}}]
`,
};

const ghost = `apiVersion: v1
kind: Service
metadata: {name: ghost, namespace: shop}
spec: {clusterIP: 10.96.0.11, selector: {app: ghost}, ports: [{name: http, port: 9080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ghost-1, namespace: shop, labels: {kubernetes.io/service-name: ghost}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints: [{addresses: [10.1.0.9], conditions: {ready: true}}]
`;

const reviews = 'outbound|9080||reviews.shop.svc.cluster.local';
const ghostCluster = 'outbound|9080||ghost.shop.svc.cluster.local';
const dnsCluster = 'outbound|443||api.example.com';
const endpointIps = (r: ReceivedResponse, name: string): string[] =>
  [...JSON.stringify(r.resources.find((x) => x.name === name)?.body ?? {}).matchAll(/"address":"([\d.]+)"/g)].map((m) => m[1]!);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function start(files: Record<string, string> = mesh) {
  const started = await startFileMeshd(files);
  cleanups.push(started.stop);
  const connect = (protocol: 'sotw' | 'delta', node: TestNode): AdsTestClient => {
    const client = new AdsTestClient(started.xdsAddress, protocol, node);
    cleanups.push(async () => client.close());
    return client;
  };
  return { ...started, connect };
}

describe('EDS names meshd has no load assignment for', () => {
  it('are named in removed_resources over Delta and answered with an empty assignment over SotW, then sent once the service exists', async () => {
    const { connect, write } = await start();
    const sotw = connect('sotw', sidecarNode('productpage', 'shop'));
    const delta = connect('delta', sidecarNode('details', 'shop'));
    const names = [reviews, ghostCluster];
    sotw.request(TypeUrl.ClusterLoadAssignment, { names });
    delta.delta(TypeUrl.ClusterLoadAssignment, { subscribe: names });

    const sotwFirst = await sotw.next();
    expect(sotwFirst.resources.map((r) => r.name).sort()).toEqual([ghostCluster, reviews]);
    expect(endpointIps(sotwFirst, reviews)).toEqual(['10.1.0.1']);
    const placeholder = sotwFirst.resources.find((r) => r.name === ghostCluster)!.body;
    expect(placeholder.clusterName).toBe(ghostCluster);
    expect(placeholder.endpoints).toEqual([]);
    const deltaFirst = await delta.next();
    expect(deltaFirst.resources.map((r) => r.name)).toEqual([reviews]);
    expect(deltaFirst.removed).toEqual([ghostCluster]);
    sotw.ack(sotwFirst, names);
    delta.ack(deltaFirst);

    // The service appears: both proxies get its endpoints, the Delta one without naming it again.
    await write('ghost.yaml', ghost);
    const [sotwNext, deltaNext] = [await sotw.next(), await delta.next()];
    expect(endpointIps(sotwNext, ghostCluster)).toEqual(['10.1.0.9']);
    expect(deltaNext.resources.map((r) => r.name)).toEqual([ghostCluster]);
    expect(endpointIps(deltaNext, ghostCluster)).toEqual(['10.1.0.9']);
    expect(deltaNext.removed).toEqual([]);
  });

  it('answers a name subscribed later over Delta with removed_resources alone', async () => {
    const { connect } = await start();
    const delta = connect('delta', sidecarNode('details', 'shop'));
    delta.delta(TypeUrl.ClusterLoadAssignment, { subscribe: [reviews] });
    const first = await delta.next();
    expect(first.resources.map((r) => r.name)).toEqual([reviews]);
    expect(first.removed).toEqual([]);
    delta.ack(first);
    delta.delta(TypeUrl.ClusterLoadAssignment, { subscribe: [ghostCluster] });
    const second = await delta.next();
    expect(second.resources).toEqual([]);
    expect(second.removed).toEqual([ghostCluster]);
  });

  it('gives a SotW proxy no placeholder for the cluster of a service resolved by DNS, as istiod skips it', async () => {
    const { connect } = await start();
    const sotw = connect('sotw', sidecarNode('productpage', 'shop'));
    sotw.request(TypeUrl.ClusterLoadAssignment, { names: [dnsCluster, reviews, ghostCluster] });
    const first = await sotw.next();
    expect(first.resources.map((r) => r.name).sort()).toEqual([ghostCluster, reviews]);
  });
});

describe('RDS and SDS names meshd does not have, over Delta', () => {
  it('answers an unknown route configuration name as istiod does (an empty configuration), not as removed', async () => {
    const { connect } = await start();
    const delta = connect('delta', sidecarNode('details', 'shop'));
    delta.delta(TypeUrl.RouteConfiguration, { subscribe: ['9080', 'no-such-route'] });
    const first = await delta.next();
    expect(first.resources.map((r) => r.name).sort()).toEqual(['9080', 'no-such-route']);
    expect(first.removed).toEqual([]);
    expect(first.resources.find((r) => r.name === 'no-such-route')!.body.virtualHosts).toEqual([]);
  });

  it('names a gateway secret that does not exist in removed_resources, and sends the one that does', async () => {
    const pair = opensslServingCertificate('shop.example.com');
    const { connect } = await start({
      'gateway.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop, namespace: istio-system}
spec:
  selector: {istio: shop-ingress}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-tls}
---
${tlsSecretYaml('shop-tls', 'istio-system', pair)}`,
    });
    const gateway = connect('delta', {
      id: 'router~10.0.0.40~shop-gw-1.istio-system~istio-system.svc.cluster.local',
      metadata: { NAMESPACE: 'istio-system', CLUSTER_ID: 'Kubernetes', ISTIO_VERSION: '1.24.0', LABELS: { istio: 'shop-ingress' } },
    });
    gateway.delta(TypeUrl.Secret, { subscribe: ['kubernetes://shop-tls', 'kubernetes://missing-tls'] });
    const first = await gateway.next();
    expect(first.resources.map((r) => r.name)).toEqual(['kubernetes://shop-tls']);
    expect(first.removed).toEqual(['kubernetes://missing-tls']);
  });
});

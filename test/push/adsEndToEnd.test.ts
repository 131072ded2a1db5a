// meshd with the file source over real ADS streams: editing a file pushes
// only the affected xDS types, and only to the proxies that can see the change.
import { afterEach, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, sidecarNode } from '../support/adsClient.js';
import { shortType, subscribeLikeEnvoy, type EnvoyLikeStream } from '../support/envoySubscriber.js';
import { startFileMeshd } from '../support/filePipeline.js';

const mesh = {
  'services.yaml': `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: isolated}
spec: {clusterIP: 10.96.0.20, selector: {app: local}, ports: [{name: http, port: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: isolated}
spec: {egress: [{hosts: ["./*"]}]}
`,
  'endpoints.yaml': `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: reviews-1, namespace: shop, labels: {kubernetes.io/service-name: reviews}}
addressType: IPv4
ports: [{name: http, port: 9080}]
endpoints: [{addresses: [10.1.0.1], conditions: {ready: true}}]
`,
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Subscribes like Envoy: CDS and LDS wildcard, then EDS and RDS for the names they carry. */
async function connect(address: string, name: string, namespace: string): Promise<EnvoyLikeStream> {
  const proxy = await subscribeLikeEnvoy(address, sidecarNode(name, namespace), ['eds', 'rds']);
  cleanups.push(async () => proxy.client.close());
  return proxy;
}

describe('meshd with --config-dir over ADS', () => {
  it('pushes only the affected types to only the affected proxies when files change', async () => {
    // Connects after the initial sync, so the sync's full push is not mistaken for a change's.
    const { dir, xdsAddress, pushes, stop } = await startFileMeshd(mesh);
    cleanups.push(stop);
    const shopProxy = await connect(xdsAddress, 'productpage', 'shop');
    const isolatedProxy = await connect(xdsAddress, 'local', 'isolated');

    // 1. An endpoint change: EDS only, and only to the proxy that can see reviews.
    await writeFile(path.join(dir, 'endpoints.yaml'), mesh['endpoints.yaml'].replace('[10.1.0.1]', '[10.1.0.1, 10.1.0.2]'));
    const eds = await shopProxy.nextAcked();
    expect(shortType(eds.typeUrl)).toBe('ClusterLoadAssignment');
    expect(JSON.stringify(eds.resources.map((r) => r.body))).toContain('10.1.0.2');

    // 2. A VirtualService for reviews: RDS only, again only to the shop proxy.
    await writeFile(
      path.join(dir, 'vs.yaml'),
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: shop}\nspec: {hosts: [reviews], http: [{timeout: 2s, route: [{destination: {host: reviews}}]}]}\n`,
    );
    const rds = await shopProxy.nextAcked();
    expect(shortType(rds.typeUrl)).toBe('RouteConfiguration');
    expect(JSON.stringify(rds.resources.map((r) => r.body))).toContain('"seconds":"2"');

    // 3. A new service (on a new port) in the isolated namespace: CDS, LDS and RDS for both. Its being the
    // isolated proxy's first push proves steps 1 and 2 sent it nothing.
    await writeFile(
      path.join(dir, 'new.yaml'),
      `apiVersion: v1\nkind: Service\nmetadata: {name: fresh, namespace: isolated}\nspec: {clusterIP: 10.96.0.30, selector: {app: fresh}, ports: [{name: http, port: 8081}]}\n`,
    );
    // RDS is part of the push, but a new port's route configuration goes out only once the proxy asks for it.
    const isolatedTypes = [shortType((await isolatedProxy.nextAcked()).typeUrl), shortType((await isolatedProxy.nextAcked()).typeUrl)];
    expect(isolatedTypes).toEqual(['Cluster', 'Listener']);
    expect(pushes.map((p) => [...(p.types ?? [])].map(shortType).sort())).toEqual([
      ['ClusterLoadAssignment'],
      ['RouteConfiguration'],
      ['Cluster', 'Listener', 'RouteConfiguration'],
    ]);
    const clusters = await shopProxy.nextAcked();
    expect(shortType(clusters.typeUrl)).toBe('Cluster');
    expect(clusters.resources.map((r) => r.name)).toContain('outbound|8081||fresh.isolated.svc.cluster.local');
  });

  it('labels every response with the version of the push whose content it carries, across two quick pushes', async () => {
    const { dir, xdsAddress, pushes, stop } = await startFileMeshd(mesh);
    cleanups.push(stop);
    const proxies = await Promise.all(Array.from({ length: 6 }, (_, i) => connect(xdsAddress, `page-${i}`, 'shop')));
    const endpoints = (ips: string) => mesh['endpoints.yaml'].replace('[10.1.0.1]', `[${ips}]`);
    await writeFile(path.join(dir, 'endpoints.yaml'), endpoints('10.1.0.2'));
    await eventually(() => pushes.length === 1, 5_000, 'the first push');
    // The second push follows while the first is still reaching the proxies.
    await writeFile(path.join(dir, 'endpoints.yaml'), endpoints('10.1.0.3'));
    await eventually(() => pushes.length === 2, 5_000, 'the second push');
    const addressOf: Record<string, string> = { [pushes[0]!.version]: '10.1.0.2', [pushes[1]!.version]: '10.1.0.3' };
    for (const proxy of proxies) {
      for (;;) {
        const response = await proxy.nextAcked();
        expect(shortType(response.typeUrl)).toBe('ClusterLoadAssignment');
        const addresses = [...JSON.stringify(response.resources.map((r) => r.body)).matchAll(/"address":"(10\.1\.0\.\d)"/g)].map((m) => m[1]);
        expect(addresses).toEqual([addressOf[response.versionInfo]]);
        if (response.versionInfo === pushes[1]!.version) break;
      }
    }
  });
});

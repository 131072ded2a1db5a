// A rotated Secret invalidates only what reads it: the SDS resource of the
// gateways naming it, and their listeners only when the Secret's validity
// decides whether a server's chain exists. The push goes to those gateways
// alone; every other proxy's cached listeners carry over to the new context.
import { afterEach, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import type { PushRequest, WatchedResource } from '../../src/xds/server/types.js';
import { waitFor } from '../support/captureLogger.js';
import { startFilePipeline } from '../support/filePipeline.js';
import { proxyForPod } from '../support/goldenMesh.js';
import { opensslServingCertificate, tlsSecretYaml } from '../support/ca.js';

const config = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.1.10, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop, namespace: istio-system}
spec:
  selector: {istio: shop-ingress}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-tls}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: blog, namespace: istio-system}
spec:
  selector: {istio: blog-ingress}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [blog.example.com]
    tls: {mode: SIMPLE, credentialName: blog-tls}
`;

const pod = (name: string, namespace: string, labels: Record<string, string>, type: 'sidecar' | 'router' = 'sidecar') =>
  proxyForPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels } }, type);
const sidecar = pod('web-1', 'shop', { app: 'web' });
const shopGateway = pod('shop-gw-1', 'istio-system', { istio: 'shop-ingress' }, 'router');
const blogGateway = pod('blog-gw-1', 'istio-system', { istio: 'blog-ingress' }, 'router');

const request = { version: 'v', reason: [], startedAt: 0 };
const lds: WatchedResource = { typeUrl: TypeUrl.Listener, wildcard: true, names: new Set<string>() };
const sds: WatchedResource = { typeUrl: TypeUrl.Secret, wildcard: true, names: new Set<string>() };
const typeNames = (r: PushRequest) => [...(r.types ?? [])].map((t) => t.slice(t.lastIndexOf('.') + 1)).sort();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('Secret rotation', () => {
  it('pushes SDS to the gateways using the Secret, drops only what reads it, and rebuilds listeners only when its validity changes', async () => {
    const shop = opensslServingCertificate('shop.example.com');
    const started = await startFilePipeline({
      'config.yaml': config,
      'shop-tls.yaml': tlsSecretYaml('shop-tls', 'istio-system', shop),
      'blog-tls.yaml': tlsSecretYaml('blog-tls', 'istio-system', opensslServingCertificate('blog.example.com')),
    });
    cleanups.push(started.stop);
    const { pipeline, pushes, write } = started;
    const generate = (proxy: typeof sidecar, watched: WatchedResource) => pipeline.generator.generate(proxy, watched, request)!;
    const before = {
      sidecar: generate(sidecar, lds),
      shop: generate(shopGateway, lds),
      blog: generate(blogGateway, lds),
      shopSecrets: generate(shopGateway, sds),
      blogSecrets: generate(blogGateway, sds),
    };
    expect(before.shop.map((l) => l.name).sort()).toEqual(['0.0.0.0_443', '0.0.0.0_80']);
    const firstContext = pipeline.current();

    // Rotated: still valid, so the listeners stay as they are.
    await write('shop-tls.yaml', tlsSecretYaml('shop-tls', 'istio-system', opensslServingCertificate('shop.example.com')));
    await waitFor(() => pushes.length === 1, 'the rotation push');
    expect(typeNames(pushes[0]!)).toEqual(['Secret']);
    expect([sidecar, shopGateway, blogGateway].map((p) => pushes[0]!.affects!(p))).toEqual([false, true, false]);
    expect(pipeline.current()).not.toBe(firstContext);
    // Cached results carried over: the very same arrays, not rebuilt ones.
    expect(generate(sidecar, lds)).toBe(before.sidecar);
    expect(generate(shopGateway, lds)).toBe(before.shop);
    expect(generate(blogGateway, lds)).toBe(before.blog);
    expect(generate(blogGateway, sds)[0]).toBe(before.blogSecrets[0]);
    const rotated = generate(shopGateway, sds);
    expect(rotated.map((s) => s.name)).toEqual(['kubernetes://shop-tls']);
    expect(rotated[0]!.version).not.toBe(before.shopSecrets[0]!.version);

    // Broken: the HTTPS server's chain goes, so the gateway's listeners are rebuilt; nobody else's.
    await write('shop-tls.yaml', tlsSecretYaml('shop-tls', 'istio-system', { cert: 'not a certificate', key: shop.key }));
    await waitFor(() => pushes.length === 2, 'the push for the broken Secret');
    expect(typeNames(pushes[1]!)).toEqual(['Listener', 'Secret']);
    expect([sidecar, shopGateway, blogGateway].map((p) => pushes[1]!.affects!(p))).toEqual([false, true, false]);
    expect(generate(shopGateway, lds).map((l) => l.name)).toEqual(['0.0.0.0_80']);
    expect(generate(sidecar, lds)).toBe(before.sidecar);
    expect(generate(blogGateway, lds)).toBe(before.blog);
  });
});

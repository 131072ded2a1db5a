// Ingress gateways (router proxies) over real ADS streams, configured from a
// config directory: listeners, routes and credentialName certificates over
// SDS on the gateway's own stream; Secret rotation reaches only the gateways
// using the Secret; a Secret of another namespace is never served; a Secret
// deleted while in use drops only its server's chain; a Gateway API
// listener's certificateRef to another namespace is served only while a
// ReferenceGrant allows it.
import { afterEach, describe, expect, it } from 'vitest';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, routerNode, sidecarNode, type ReceivedResponse, type TestNode } from '../support/adsClient.js';
import { shortType, subscribeLikeEnvoy, type EnvoyLikeStream } from '../support/envoySubscriber.js';
import type { LogCapture } from '../support/meshdHarness.js';
import { waitFor } from '../support/captureLogger.js';
import { startFileMeshd } from '../support/filePipeline.js';
import { opensslServingCertificate, tlsSecretYaml } from '../support/ca.js';
import { meshctl } from '../support/meshctl.js';
import { X509Certificate } from 'node:crypto';

const b64 = (text: string) => Buffer.from(text).toString('base64');

const gateways = `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  clusterIP: 10.96.0.20
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.1.10, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-shop, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-tls}
  - port: {number: 443, name: https-blog, protocol: HTTPS}
    hosts: [blog.example.com]
    tls: {mode: SIMPLE, credentialName: blog-tls}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
    tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: blog-only, namespace: istio-system}
spec:
  selector: {istio: blog-ingress}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [blog.example.com]
    tls: {mode: SIMPLE, credentialName: blog-tls}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: partner, namespace: partners}
spec:
  selector: {istio: partner-ingress}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com]
    tls: {mode: SIMPLE, credentialName: shop-tls}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sites, namespace: shop}
spec:
  hosts: [shop.example.com, blog.example.com]
  gateways: [istio-system/public, istio-system/blog-only, partners/partner]
  http:
  - route: [{destination: {host: web}}]
`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A router subscribed like Envoy, following the route and secret names its listeners carry. */
async function connectGateway(address: string, node: TestNode): Promise<EnvoyLikeStream & { rds: ReceivedResponse; sds: ReceivedResponse }> {
  const gateway = await subscribeLikeEnvoy(address, node, ['rds', 'sds']);
  cleanups.push(async () => gateway.client.close());
  return { ...gateway, rds: gateway.rds!, sds: gateway.sds! };
}

async function startMeshd(
  files: Record<string, string>,
): Promise<{ dir: string; xdsAddress: string; httpUrl: string; logs: LogCapture; warnings: Record<string, unknown>[] }> {
  const served = await startFileMeshd(files);
  cleanups.push(served.stop);
  return served;
}

const secretBody = (response: ReceivedResponse, name: string) =>
  response.resources.find((r) => r.name === name)?.body as
    { tlsCertificate?: { certificateChain?: { inlineBytes?: string }; privateKey?: { inlineBytes?: string } } } | undefined;
const chainsOf = (lds: ReceivedResponse, listener: string) =>
  ((lds.resources.find((r) => r.name === listener)?.body.filterChains ?? []) as { filterChainMatch?: { serverNames?: string[] } }[]).map(
    (c) => c.filterChainMatch?.serverNames ?? [],
  );

describe('gateways over ADS', () => {
  const shop = opensslServingCertificate('shop.example.com');
  const blog = opensslServingCertificate('blog.example.com');

  it('gives a router its listeners on the target ports, its routes, and the credential Secret over SDS', async () => {
    const { xdsAddress } = await startMeshd({
      'gateways.yaml': gateways,
      'shop-tls.yaml': tlsSecretYaml('shop-tls', 'istio-system', shop),
      'blog-tls.yaml': tlsSecretYaml('blog-tls', 'istio-system', blog),
    });
    const ingress = await connectGateway(xdsAddress, routerNode('ingress-1', 'istio-system', { istio: 'ingressgateway' }));
    expect(ingress.lds.resources.map((r) => r.name).sort()).toEqual(['0.0.0.0_8080', '0.0.0.0_8443']);
    expect(chainsOf(ingress.lds, '0.0.0.0_8443')).toEqual([['shop.example.com'], ['blog.example.com']]);
    expect(ingress.rds.resources.map((r) => r.name).sort()).toEqual([
      'http.8080',
      'https.443.https-blog.public.istio-system',
      'https.443.https-shop.public.istio-system',
    ]);
    const redirect = ingress.rds.resources.find((r) => r.name === 'http.8080')!.body as { virtualHosts: { domains: string[]; requireTls?: string }[] };
    // Hosts bound to the VirtualService and the server's own `*` alike answer plain HTTP with a redirect to HTTPS.
    expect(redirect.virtualHosts.map((v) => [v.domains, v.requireTls])).toEqual([
      [['*'], 'ALL'],
      [['blog.example.com', 'shop.example.com'], 'ALL'],
    ]);
    expect(ingress.sds.resources.map((r) => r.name).sort()).toEqual(['kubernetes://blog-tls', 'kubernetes://shop-tls']);
    const served = secretBody(ingress.sds, 'kubernetes://shop-tls')!.tlsCertificate!;
    expect(Buffer.from(served.certificateChain!.inlineBytes!, 'base64').toString()).toBe(shop.cert);
    expect(Buffer.from(served.privateKey!.inlineBytes!, 'base64').toString()).toBe(shop.key);
  });

  it('pushes a rotated Secret only to the gateways using it', async () => {
    const { dir, xdsAddress } = await startMeshd({
      'gateways.yaml': gateways,
      'shop-tls.yaml': tlsSecretYaml('shop-tls', 'istio-system', shop),
      'blog-tls.yaml': tlsSecretYaml('blog-tls', 'istio-system', blog),
    });
    const sidecar = new AdsTestClient(xdsAddress, 'sotw', sidecarNode('web', 'shop'));
    cleanups.push(async () => sidecar.close());
    sidecar.request(TypeUrl.Listener);
    sidecar.ack(await sidecar.next());
    const ingress = await connectGateway(xdsAddress, routerNode('ingress-1', 'istio-system', { istio: 'ingressgateway' }));
    const blogOnly = await connectGateway(xdsAddress, routerNode('blog-1', 'istio-system', { istio: 'blog-ingress' }));
    expect(blogOnly.sds.resources.map((r) => r.name)).toEqual(['kubernetes://blog-tls']);

    const renewed = opensslServingCertificate('shop.example.com');
    await writeFile(path.join(dir, 'shop-tls.yaml'), tlsSecretYaml('shop-tls', 'istio-system', renewed));
    const pushed = await ingress.nextAcked();
    expect(shortType(pushed.typeUrl)).toBe('Secret');
    expect(pushed.resources.map((r) => r.name)).toEqual(['kubernetes://shop-tls']);
    expect(Buffer.from(secretBody(pushed, 'kubernetes://shop-tls')!.tlsCertificate!.certificateChain!.inlineBytes!, 'base64').toString()).toBe(renewed.cert);

    // Renewing blog-tls next: the blog-only gateway's first response since is that one, so shop-tls's rotation sent it nothing.
    const blogRenewed = opensslServingCertificate('blog.example.com');
    await writeFile(path.join(dir, 'blog-tls.yaml'), tlsSecretYaml('blog-tls', 'istio-system', blogRenewed));
    const blogPushed = await blogOnly.nextAcked();
    expect(shortType(blogPushed.typeUrl)).toBe('Secret');
    expect(blogPushed.resources.map((r) => r.name)).toEqual(['kubernetes://blog-tls']);
    expect((await ingress.nextAcked()).resources.map((r) => r.name)).toEqual(['kubernetes://blog-tls']);
    // The sidecar heard of neither.
    expect(sidecar.pending).toBe(0);
  });

  it('never serves a Secret of another namespace', async () => {
    const { xdsAddress, warnings } = await startMeshd({
      'gateways.yaml': gateways,
      'shop-tls.yaml': tlsSecretYaml('shop-tls', 'istio-system', shop),
    });
    const partner = new AdsTestClient(xdsAddress, 'sotw', routerNode('partner-1', 'partners', { istio: 'partner-ingress' }));
    cleanups.push(async () => partner.close());
    partner.request(TypeUrl.Listener);
    const lds = await partner.next();
    // Its only server's credential is not in its namespace: no chain, so no listener.
    expect(lds.resources).toEqual([]);
    await waitFor(() => warnings.some((l) => String(l.msg).includes('Secret partners/shop-tls not found')), 'the dropped server to be logged');
    partner.ack(lds);
    partner.request(TypeUrl.Secret, { names: ['kubernetes://shop-tls', 'kubernetes://istio-system/shop-tls'] });
    const sds = await partner.next();
    expect(shortType(sds.typeUrl)).toBe('Secret');
    expect(sds.resources).toEqual([]);
  });

  it('keeps the other servers working when a Secret in use is deleted', async () => {
    const { dir, xdsAddress, warnings } = await startMeshd({
      'gateways.yaml': gateways,
      'shop-tls.yaml': tlsSecretYaml('shop-tls', 'istio-system', shop),
      'blog-tls.yaml': tlsSecretYaml('blog-tls', 'istio-system', blog),
    });
    const ingress = await connectGateway(xdsAddress, routerNode('ingress-1', 'istio-system', { istio: 'ingressgateway' }));
    await rm(path.join(dir, 'blog-tls.yaml'));
    const lds = await ingress.nextAcked();
    expect(shortType(lds.typeUrl)).toBe('Listener');
    expect(chainsOf(lds, '0.0.0.0_8443')).toEqual([['shop.example.com']]);
    expect(lds.resources.map((r) => r.name).sort()).toEqual(['0.0.0.0_8080', '0.0.0.0_8443']);
    expect(warnings.some((l) => String(l.msg).includes('Secret istio-system/blog-tls not found'))).toBe(true);

    // The Secret back: its chain returns.
    await writeFile(path.join(dir, 'blog-tls.yaml'), tlsSecretYaml('blog-tls', 'istio-system', blog));
    // The SDS response (this client never unsubscribed) may come first.
    const responses = [await ingress.nextAcked(), await ingress.nextAcked()];
    expect(responses.map((r) => shortType(r.typeUrl)).sort()).toEqual(['Listener', 'Secret']);
    const restored = responses.find((r) => shortType(r.typeUrl) === 'Listener')!;
    expect(chainsOf(restored, '0.0.0.0_8443')).toEqual([['shop.example.com'], ['blog.example.com']]);
  });

  it('shows routers in meshctl proxy-status and their certificates in proxy-config secret, private keys redacted', async () => {
    const { xdsAddress, httpUrl } = await startMeshd({
      'gateways.yaml': gateways,
      'shop-tls.yaml': tlsSecretYaml('shop-tls', 'istio-system', shop),
      'blog-tls.yaml': tlsSecretYaml('blog-tls', 'istio-system', blog),
    });
    await connectGateway(xdsAddress, routerNode('ingress-1', 'istio-system', { istio: 'ingressgateway' }));
    const status = await meshctl(['--server', httpUrl, 'proxy-status']);
    expect(status.stdout).toMatch(/^ingress-1\.istio-system\s/m);

    const listeners = await meshctl(['--server', httpUrl, 'proxy-config', 'listener', 'ingress-1.istio-system']);
    expect(listeners.stdout).toContain('8443');
    const routes = await meshctl(['--server', httpUrl, 'proxy-config', 'route', 'ingress-1.istio-system']);
    expect(routes.code).toBe(0);
    expect(routes.stdout).toMatch(/^http\.8080\s+blog\.example\.com:80\s+blog\.example\.com, shop\.example\.com\s+\/\*\s+sites\.shop$/m);
    expect(routes.stdout).toMatch(/^https\.443\.https-shop\.public\.istio-system\s+shop\.example\.com:443\s+shop\.example\.com\s+\/\*\s+sites\.shop$/m);
    const secrets = await meshctl(['--server', httpUrl, 'proxy-config', 'secret', 'ingress-1.istio-system']);
    expect(secrets.code).toBe(0);
    const [header, ...rows] = secrets.stdout.trimEnd().split('\n');
    expect(header!.split(/\s{2,}/)).toEqual(['RESOURCE NAME', 'TYPE', 'SOURCE', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE']);
    const cert = new X509Certificate(shop.cert);
    const row = rows.find((r) => r.startsWith('kubernetes://shop-tls '))!.split(/\s{2,}/);
    expect(row).toEqual([
      'kubernetes://shop-tls',
      'Cert Chain',
      'SDS from meshd',
      'true',
      cert.serialNumber.toLowerCase(),
      new Date(cert.validTo).toISOString().replace('.000Z', 'Z'),
      new Date(cert.validFrom).toISOString().replace('.000Z', 'Z'),
    ]);

    const dump = await (await fetch(`${httpUrl}/debug/config_dump?proxyID=ingress-1.istio-system`)).text();
    expect(dump).toContain('[redacted]');
    expect(dump).not.toContain(b64(shop.key));
  });
});

describe('Gateway API certificateRefs to another namespace over ADS', () => {
  const shop = opensslServingCertificate('shop.example.com');
  const sdsName = 'kubernetes-gateway://shop/shop-cert';
  const edge = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec:
  gatewayClassName: istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, hostname: shop.example.com, tls: {certificateRefs: [{name: shop-cert, namespace: shop}]}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ingress}
spec: {clusterIP: 10.96.1.11, selector: {app: web}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: ingress}
spec:
  parentRefs: [{name: edge}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
`;
  const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: edge-certs, namespace: shop}
spec:
  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: ingress}]
  to: [{group: "", kind: Secret, name: shop-cert}]
`;
  const edgeNode = () => routerNode('edge-1', 'ingress', { 'gateway.networking.k8s.io/gateway-name': 'edge' });

  it('serves the Secret while a ReferenceGrant allows it, pushes its rotation, and takes it and the chain away when the grant goes', async () => {
    const { dir, xdsAddress } = await startMeshd({ 'edge.yaml': edge, 'shop-cert.yaml': tlsSecretYaml('shop-cert', 'shop', shop), 'grant.yaml': grant });
    const router = await connectGateway(xdsAddress, edgeNode());
    expect(router.lds.resources.map((r) => r.name)).toEqual(['0.0.0.0_443']);
    expect(chainsOf(router.lds, '0.0.0.0_443')).toEqual([['shop.example.com']]);
    expect(router.sds.resources.map((r) => r.name)).toEqual([sdsName]);
    const served = secretBody(router.sds, sdsName)!.tlsCertificate!;
    expect(Buffer.from(served.certificateChain!.inlineBytes!, 'base64').toString()).toBe(shop.cert);
    expect(Buffer.from(served.privateKey!.inlineBytes!, 'base64').toString()).toBe(shop.key);

    // A rotated Secret reaches the router of the other namespace that reads it.
    const renewed = opensslServingCertificate('shop.example.com');
    await writeFile(path.join(dir, 'shop-cert.yaml'), tlsSecretYaml('shop-cert', 'shop', renewed));
    const rotated = await router.nextAcked();
    expect(shortType(rotated.typeUrl)).toBe('Secret');
    expect(Buffer.from(secretBody(rotated, sdsName)!.tlsCertificate!.certificateChain!.inlineBytes!, 'base64').toString()).toBe(renewed.cert);

    await rm(path.join(dir, 'grant.yaml'));
    // The listener loses its only chain, and the still-subscribed secret is no longer sent; in either order.
    const seen = new Map<string, ReceivedResponse>();
    while (!seen.has('Listener') || !seen.has('Secret')) {
      const response = await router.nextAcked();
      seen.set(shortType(response.typeUrl), response);
    }
    expect(seen.get('Listener')!.resources).toEqual([]);
    expect(seen.get('Secret')!.resources).toEqual([]);
  });

  it('never serves it without a grant, whatever name the router asks for', async () => {
    const { xdsAddress } = await startMeshd({ 'edge.yaml': edge, 'shop-cert.yaml': tlsSecretYaml('shop-cert', 'shop', shop) });
    const router = new AdsTestClient(xdsAddress, 'sotw', edgeNode());
    cleanups.push(async () => router.close());
    router.request(TypeUrl.Listener);
    const lds = await router.next();
    expect(lds.resources).toEqual([]);
    router.ack(lds);
    router.request(TypeUrl.Secret, { names: [sdsName, 'kubernetes://shop/shop-cert', 'kubernetes://shop-cert'] });
    const sds = await router.next();
    expect(shortType(sds.typeUrl)).toBe('Secret');
    expect(sds.resources).toEqual([]);
  });
});

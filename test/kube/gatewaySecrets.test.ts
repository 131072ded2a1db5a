// The real `meshd serve --kubeconfig` against a real API server: an ingress
// gateway gets its TLS listener and the credentialName certificate read from
// a kubernetes.io/tls Secret (as cert-manager writes it) over SDS, and a
// renewed Secret reaches it by watch event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually } from '../support/adsClient.js';
import { opensslServingCertificate } from '../support/ca.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { RealKubeApi, realApiServerAvailable } from '../support/realKubeApi.js';

const tlsSecret = (pair: { cert: string; key: string }) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'shop-example-com-tls', namespace: 'istio-system', annotations: { 'cert-manager.io/certificate-name': 'shop-example-com' } },
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': Buffer.from(pair.cert).toString('base64'), 'tls.key': Buffer.from(pair.key).toString('base64') },
});

describe.skipIf(!realApiServerAvailable)('gateway credentials from a real API server', () => {
  let api: RealKubeApi;
  let meshd: MeshdProcess;
  const first = opensslServingCertificate('shop.example.com');

  beforeAll(async () => {
    api = await RealKubeApi.start();
    await api.installIstioCrds();
    for (const name of ['istio-system', 'shop']) await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
    });
    await api.apply(tlsSecret(first));
    await api.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: 'shop', namespace: 'istio-system' },
      spec: {
        selector: { istio: 'ingressgateway' },
        servers: [
          {
            port: { number: 443, name: 'https', protocol: 'HTTPS' },
            hosts: ['shop.example.com'],
            tls: { mode: 'SIMPLE', credentialName: 'shop-example-com-tls' },
          },
          { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['shop.example.com'], tls: { httpsRedirect: true } },
        ],
      },
    });
    await api.apply({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'shop', namespace: 'shop' },
      spec: { hosts: ['shop.example.com'], gateways: ['istio-system/shop'], http: [{ route: [{ destination: { host: 'web' } }] }] },
    });
    meshd = await spawnMeshd(['--kubeconfig', api.kubeconfigPath], 40_000);
  }, 120_000);

  afterAll(async () => {
    meshd?.child.kill('SIGKILL');
    await api?.close();
  });

  it('serves the Secret to the gateway over SDS and pushes its renewal', async () => {
    await eventually(async () => (await fetch(`http://127.0.0.1:${meshd.ports.http}/ready`)).status === 200, 30_000, '/ready 200');
    const client = new AdsTestClient(`127.0.0.1:${meshd.ports.xds}`, 'sotw', {
      id: 'router~10.1.0.5~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local',
      metadata: { NAMESPACE: 'istio-system', CLUSTER_ID: 'Kubernetes', ISTIO_VERSION: '1.24.0', LABELS: { istio: 'ingressgateway' } },
    });
    try {
      client.request(TypeUrl.Listener);
      const lds = await client.next();
      expect(lds.resources.map((r) => r.name).sort()).toEqual(['0.0.0.0_443', '0.0.0.0_80']);
      client.ack(lds);
      const names = ['kubernetes://shop-example-com-tls'];
      client.request(TypeUrl.Secret, { names });
      const sds = await client.next();
      const chainOf = (body: Record<string, unknown>) =>
        Buffer.from((body.tlsCertificate as { certificateChain: { inlineBytes: string } }).certificateChain.inlineBytes, 'base64').toString();
      expect(sds.resources.map((r) => r.name)).toEqual(names);
      expect(chainOf(sds.resources[0]!.body)).toBe(first.cert);
      client.ack(sds, names);

      const renewed = opensslServingCertificate('shop.example.com');
      await api.apply(tlsSecret(renewed));
      // The renewal is an SDS push (a listener push may come with it, as the Secret could have changed validity).
      let pushed = await client.next(20_000);
      if (pushed.typeUrl !== TypeUrl.Secret) {
        client.ack(pushed);
        pushed = await client.next(20_000);
      }
      expect(pushed.typeUrl).toBe(TypeUrl.Secret);
      expect(chainOf(pushed.resources[0]!.body)).toBe(renewed.cert);
    } finally {
      client.close();
    }
  }, 90_000);
});

// The real `meshd serve --kubeconfig` (two replicas) against a real API
// server with the Gateway API CRDs: a GatewayClass, Gateway, HTTPRoutes and a
// Secret become a router's listeners, routes and SDS certificate over ADS;
// the status conditions appear, a RefNotPermitted clears once a
// ReferenceGrant allows the reference, and only the Lease holder writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TypeUrl } from '../../src/xds/resource.js';
import { AdsTestClient, eventually } from '../support/adsClient.js';
import { opensslServingCertificate } from '../support/ca.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { RealKubeApi, realApiServerAvailable, type KubeObject } from '../support/realKubeApi.js';

const gw = 'gateway.networking.k8s.io/v1';
type Conditions = { type: string; status: string; reason: string; lastTransitionTime?: string }[];
type WithStatus = KubeObject & { status?: any };
const condition = (conditions: Conditions | undefined, type: string) => conditions?.find((c) => c.type === type);

describe.skipIf(!realApiServerAvailable)('Gateway API on a real API server', () => {
  let api: RealKubeApi;
  const replicas: MeshdProcess[] = [];
  const cert = opensslServingCertificate('shop.example.com');

  beforeAll(async () => {
    api = await RealKubeApi.start();
    await api.installGatewayApiCrds();
    for (const name of ['istio-system', 'ingress', 'shop', 'payments']) await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80 }] },
    });
    await api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'payments', namespace: 'payments' },
      spec: { selector: { app: 'payments' }, ports: [{ name: 'http', port: 8080 }] },
    });
    await api.apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'edge-istio', namespace: 'ingress' },
      spec: {
        selector: { 'gateway.networking.k8s.io/gateway-name': 'edge' },
        ports: [
          { name: 'http', port: 80, targetPort: 8080 },
          { name: 'https', port: 443, targetPort: 8443 },
        ],
      },
    });
    await api.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'shop-example-com-tls', namespace: 'ingress' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from(cert.cert).toString('base64'), 'tls.key': Buffer.from(cert.key).toString('base64') },
    });
    await api.apply({ apiVersion: gw, kind: 'GatewayClass', metadata: { name: 'istio' }, spec: { controllerName: 'istio.io/gateway-controller' } });
    await api.apply({
      apiVersion: gw,
      kind: 'Gateway',
      metadata: { name: 'edge', namespace: 'ingress' },
      spec: {
        gatewayClassName: 'istio',
        listeners: [
          {
            name: 'https',
            hostname: 'shop.example.com',
            port: 443,
            protocol: 'HTTPS',
            tls: { mode: 'Terminate', certificateRefs: [{ name: 'shop-example-com-tls' }] },
            allowedRoutes: { namespaces: { from: 'All' } },
          },
          { name: 'http', hostname: 'shop.example.com', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
        ],
      },
    });
    await api.apply({
      apiVersion: gw,
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        parentRefs: [{ name: 'edge', namespace: 'ingress', sectionName: 'https' }],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'web', port: 80 }] }],
      },
    });
    await api.apply({
      apiVersion: gw,
      kind: 'HTTPRoute',
      metadata: { name: 'pay', namespace: 'shop' },
      spec: {
        parentRefs: [{ name: 'edge', namespace: 'ingress', sectionName: 'http' }],
        rules: [{ backendRefs: [{ name: 'payments', namespace: 'payments', port: 8080 }] }],
      },
    });
    for (const id of ['meshd-a', 'meshd-b']) replicas.push(await spawnMeshd(['--kubeconfig', api.kubeconfigPath], 40_000, { ...process.env, POD_NAME: id }));
  }, 150_000);

  afterAll(async () => {
    for (const replica of replicas) replica.child.kill('SIGKILL');
    await api?.close();
  });

  it('serves the router its listeners, routes and certificate over ADS', async () => {
    const meshd = replicas[0]!;
    await eventually(async () => (await fetch(`http://127.0.0.1:${meshd.ports.http}/ready`)).status === 200, 30_000, '/ready 200');
    const client = new AdsTestClient(`127.0.0.1:${meshd.ports.xds}`, 'sotw', {
      id: 'router~10.1.0.7~edge-istio-1.ingress~ingress.svc.cluster.local',
      metadata: { NAMESPACE: 'ingress', CLUSTER_ID: 'Kubernetes', ISTIO_VERSION: '1.24.0', LABELS: { 'gateway.networking.k8s.io/gateway-name': 'edge' } },
    });
    try {
      client.request(TypeUrl.Listener);
      const lds = await client.next(20_000);
      expect(lds.resources.map((r) => r.name).sort()).toEqual(['0.0.0.0_8080', '0.0.0.0_8443']);
      client.ack(lds);
      const httpsRoute = 'https.443.https.edge~istio-autogenerated-k8s-gateway~https.ingress';
      client.request(TypeUrl.RouteConfiguration, { names: [httpsRoute, 'http.8080'] });
      const rds = await client.next(20_000);
      const routes = JSON.stringify(rds.resources.map((r) => r.body));
      expect(rds.resources.map((r) => r.name).sort()).toEqual(['http.8080', httpsRoute].sort());
      expect(routes).toContain('outbound|80||web.shop.svc.cluster.local');
      // No ReferenceGrant: the route to payments answers 500 instead.
      expect(routes).not.toContain('payments.payments');
      client.ack(rds, [httpsRoute, 'http.8080']);
      const names = ['kubernetes-gateway://ingress/shop-example-com-tls']; // istiod's name for a certificateRef, as the listener names it
      client.request(TypeUrl.Secret, { names });
      const sds = await client.next(20_000);
      expect(sds.resources.map((r) => r.name)).toEqual(names);
      const chain = (sds.resources[0]!.body.tlsCertificate as { certificateChain: { inlineBytes: string } }).certificateChain.inlineBytes;
      expect(Buffer.from(chain, 'base64').toString()).toBe(cert.cert);
    } finally {
      client.close();
    }
  }, 90_000);

  it('writes the status conditions, clears RefNotPermitted once granted, and only the Lease holder writes', async () => {
    const gatewayClass = await eventually(
      async () => {
        const c = await api.get<WithStatus>(gw, 'GatewayClass', undefined, 'istio');
        return condition(c?.status?.conditions, 'Accepted')?.status === 'True' ? c : undefined;
      },
      30_000,
      'GatewayClass Accepted',
    );
    expect(condition(gatewayClass.status.conditions, 'Accepted')!.lastTransitionTime).toBeTruthy();
    const gateway = await eventually(
      async () => {
        const g = await api.get<WithStatus>(gw, 'Gateway', 'ingress', 'edge');
        return condition(g?.status?.conditions, 'Programmed')?.status === 'True' ? g : undefined;
      },
      30_000,
      'Gateway Programmed',
    );
    const service = await api.get<WithStatus>('v1', 'Service', 'ingress', 'edge-istio');
    expect(gateway.status.addresses).toEqual([{ type: 'IPAddress', value: (service!.spec as { clusterIP: string }).clusterIP }]);
    expect(condition(gateway.status.conditions, 'Accepted')!.status).toBe('True');
    const https = gateway.status.listeners.find((l: { name: string }) => l.name === 'https');
    expect(https.attachedRoutes).toBe(1);
    expect(Object.fromEntries((https.conditions as Conditions).map((c) => [c.type, c.status]))).toEqual({
      Accepted: 'True',
      Conflicted: 'False',
      ResolvedRefs: 'True',
      Programmed: 'True',
    });

    const refused = await eventually(
      async () => {
        const r = await api.get<WithStatus>(gw, 'HTTPRoute', 'shop', 'pay');
        return r?.status?.parents?.length ? r : undefined;
      },
      30_000,
      'HTTPRoute pay status',
    );
    expect(refused.status.parents[0].controllerName).toBe('istio.io/gateway-controller');
    expect(condition(refused.status.parents[0].conditions, 'ResolvedRefs')).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });

    await api.apply({
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant',
      metadata: { name: 'from-shop', namespace: 'payments' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop' }], to: [{ group: '', kind: 'Service' }] },
    });
    const granted = await eventually(
      async () => {
        const r = await api.get<WithStatus>(gw, 'HTTPRoute', 'shop', 'pay');
        return condition(r?.status?.parents?.[0]?.conditions, 'ResolvedRefs')?.status === 'True' ? r : undefined;
      },
      30_000,
      'ResolvedRefs True after the ReferenceGrant',
    );
    expect(condition(granted.status.parents[0].conditions, 'ResolvedRefs')!.reason).toBe('ResolvedRefs');
    expect(granted.status.parents).toHaveLength(1);

    const lease = await api.get<KubeObject & { spec: { holderIdentity?: string } }>('coordination.k8s.io/v1', 'Lease', 'istio-system', 'istio-leader');
    const holder = lease!.spec.holderIdentity;
    expect(['meshd-a', 'meshd-b']).toContain(holder);
    const writes = (m: MeshdProcess) => m.logs.filter((l) => l.msg === 'wrote Gateway API status').length;
    const [leader, follower] = holder === 'meshd-a' ? [replicas[0]!, replicas[1]!] : [replicas[1]!, replicas[0]!];
    expect(writes(leader)).toBeGreaterThan(0);
    expect(writes(follower)).toBe(0);
  }, 90_000);
});

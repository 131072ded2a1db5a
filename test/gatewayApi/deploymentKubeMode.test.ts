// `meshd serve --kubeconfig` against a real API server, running as
// istio-system/istiod with the manifests' RBAC: a Gateway of class `istio`
// gets its ServiceAccount, Deployment and Service only once this replica holds
// the istio-leader Lease (a follower writes nothing), owned by the Gateway
// (uid included); the Service follows the listeners and comes back when
// deleted; a Gateway of another class gets nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { microTime } from '../../src/sources/kube/leaderElection.js';
import { eventually, istioCaSecret } from '../support/fakeKubeApiHelpers.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { RealKubeApi, realApiServerAvailable, type KubeObject } from '../support/realKubeApi.js';

type Owned = KubeObject & { metadata: KubeObject['metadata'] & { ownerReferences?: unknown[]; labels?: Record<string, string>; uid?: string } };
type Service = Owned & { spec: { type: string; ports: Array<{ name: string; port: number; appProtocol?: string }> } };

const repoRoot = path.resolve(import.meta.dirname, '../..');
const ownedKinds = [
  ['v1', 'ServiceAccount'],
  ['apps/v1', 'Deployment'],
  ['v1', 'Service'],
] as const;

function gateway(name: string, className: string, listeners: unknown[]): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: 'edge' },
    spec: { gatewayClassName: className, listeners },
  };
}

describe.skipIf(!realApiServerAvailable)('Gateway API automated deployment: meshd in Kubernetes mode against a real API server', () => {
  let api: RealKubeApi;
  let meshd: MeshdProcess;
  let dir: string;
  const get = <T extends KubeObject = Owned>(apiVersion: string, kind: string, name: string) => api.get<T>(apiVersion, kind, 'edge', name);

  beforeAll(async () => {
    api = await RealKubeApi.start();
    await api.installIstioCrds();
    await api.installGatewayApiCrds();
    for (const name of ['istio-system', 'edge']) await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await api.applyManifestFile(path.join(repoRoot, 'manifests', '10-serviceaccount.yaml'));
    await api.applyManifestFile(path.join(repoRoot, 'manifests', '20-rbac.yaml'));
    // Another replica holds the Lease (and created the CA): this meshd starts as a follower.
    await api.apply(istioCaSecret());
    const now = Date.now();
    await api.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'istio-leader', namespace: 'istio-system' },
      spec: { holderIdentity: 'istiod-other', leaseDurationSeconds: 3600, acquireTime: microTime(now), renewTime: microTime(now) },
    });
    await api.apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'istio' },
      spec: { controllerName: 'istio.io/gateway-controller' },
    });
    await api.apply({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'other' },
      spec: { controllerName: 'example.com/other' },
    });
    dir = mkdtempSync(path.join(tmpdir(), 'meshd-gwdeploy-'));
    const token = await api.serviceAccountToken('istio-system', 'istiod', ['https://kubernetes.default.svc.cluster.local']);
    const kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfigYaml(token));
    meshd = await spawnMeshd(['--kubeconfig', kubeconfig, '--log-level', 'debug'], 40_000);
  }, 120_000);

  afterAll(async () => {
    meshd?.child.kill('SIGKILL');
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes nothing as a follower, and deploys a class-istio Gateway once it holds the Lease', async () => {
    await meshd.waitForLog((l) => l.msg === 'configuration sources synced', 40_000);
    await api.apply(
      gateway('web', 'istio', [
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'https', port: 443, protocol: 'HTTPS', tls: { mode: 'Terminate', certificateRefs: [{ name: 'web-cert' }] } },
      ]),
    );
    await api.apply(gateway('other', 'other', [{ name: 'http', port: 80, protocol: 'HTTP' }]));
    await meshd.waitForLog((l) => l.gateway === 'edge/web' && String(l.msg).includes('not the Lease holder'), 30_000);
    for (const [apiVersion, kind] of ownedKinds) expect(await get(apiVersion, kind, 'web-istio')).toBeUndefined();

    // The other replica hands the Lease back.
    const lease = (await api.get<KubeObject & { spec: Record<string, unknown> }>('coordination.k8s.io/v1', 'Lease', 'istio-system', 'istio-leader'))!;
    const released = await api.request('PUT', await api.path('coordination.k8s.io/v1', 'Lease', 'istio-system', 'istio-leader'), {
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(Date.now()) },
    });
    expect(released.status).toBe(200);

    const web = (await get('gateway.networking.k8s.io/v1', 'Gateway', 'web'))!;
    const owner = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'web', uid: web.metadata.uid, controller: true };
    const service = await eventually(() => get<Service>('v1', 'Service', 'web-istio'), 'Service web-istio', 40_000);
    const deployment = await eventually(
      () => get<Owned & { spec: { template: { spec: { serviceAccountName: string } } } }>('apps/v1', 'Deployment', 'web-istio'),
      'Deployment web-istio',
      20_000,
    );
    const serviceAccount = await eventually(() => get('v1', 'ServiceAccount', 'web-istio'), 'ServiceAccount web-istio', 20_000);
    for (const object of [service, deployment, serviceAccount]) {
      expect(object.metadata.ownerReferences).toEqual([owner]);
      expect(object.metadata.labels).toMatchObject({ 'gateway.networking.k8s.io/gateway-name': 'web', 'istio.io/gateway-name': 'web' });
    }
    expect(deployment.spec.template.spec.serviceAccountName).toBe('web-istio');
    expect(service.spec.type).toBe('LoadBalancer');
    expect(service.spec.ports.map((p) => [p.name, p.port, p.appProtocol])).toEqual([
      ['status-port', 15021, 'tcp'],
      ['http', 80, 'http'],
      ['https', 443, 'https'],
    ]);

    // The leader looked at the other class's Gateway and left it alone.
    await meshd.waitForLog((l) => l.gateway === 'edge/other' && String(l.msg).includes('not managed'), 20_000);
    for (const [apiVersion, kind] of ownedKinds) expect(await get(apiVersion, kind, 'other-other')).toBeUndefined();
  }, 120_000);

  it('makes the Service follow edited listeners, and restores it when deleted by hand', async () => {
    await api.apply(
      gateway('web', 'istio', [
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'alt', port: 8080, protocol: 'HTTP' },
      ]),
    );
    await eventually(
      async () => {
        const ports = (await get<Service>('v1', 'Service', 'web-istio'))?.spec.ports.map((p) => p.port);
        return JSON.stringify(ports) === JSON.stringify([15021, 80, 8080]);
      },
      'the Service ports following the listeners',
      20_000,
    );

    const before = (await get('v1', 'Service', 'web-istio'))!;
    await api.delete('v1', 'Service', 'edge', 'web-istio');
    const restored = await eventually(
      async () => {
        const service = await get<Service>('v1', 'Service', 'web-istio');
        return service && service.metadata.uid !== before.metadata.uid ? service : undefined;
      },
      'the deleted Service restored',
      20_000,
    );
    expect(restored.spec.ports.map((p) => p.port)).toEqual([15021, 80, 8080]);
  }, 60_000);
});

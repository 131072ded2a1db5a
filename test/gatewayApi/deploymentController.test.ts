// The gateway deployment controller against a real API server, with exactly
// the RBAC of manifests/20-rbac.yaml (it runs as istio-system/istiod): a
// class-istio Gateway gets its ServiceAccount, Deployment and Service; the
// Service follows the listeners; objects edited or deleted by someone else are
// restored; nothing is written when nothing changed, for another class, over an
// object it does not manage, or while another replica leads.
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayDeploymentController } from '../../src/gatewayApi/deployment/controller.js';
import type { KubeObject as ModelObject } from '../../src/model/kube.js';
import { KubeHttp } from '../../src/sources/kube/kubeHttp.js';
import { injectionSettingsFrom } from '../../src/webhooks/inject/injectionSettings.js';
import { captureLogger, eventually } from '../support/fakeKubeApiHelpers.js';
import { RealKubeApi, realApiServerAvailable, type KubeObject } from '../support/realKubeApi.js';

type Service = KubeObject & { spec: { type: string; ports: Array<{ name: string; port: number; appProtocol?: string }> } };
type Owned = KubeObject & { metadata: KubeObject['metadata'] & { ownerReferences?: unknown[]; labels?: Record<string, string>; resourceVersion?: string } };

const repoRoot = path.resolve(import.meta.dirname, '../..');

function gateway(name: string, className: string, listeners: Array<{ name: string; port: number; protocol: string }>): ModelObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: 'edge', uid: `uid-${name}` },
    spec: { gatewayClassName: className, listeners },
  };
}

describe.skipIf(!realApiServerAvailable)('gateway deployment controller against a real API server', () => {
  let api: RealKubeApi;
  let http: KubeHttp;
  const gateways: ModelObject[] = [];
  const istioClass: ModelObject = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name: 'istio' },
    spec: { controllerName: 'istio.io/gateway-controller' },
  };
  const settings = injectionSettingsFrom(undefined, undefined, { clusterId: 'Kubernetes', trustDomain: 'cluster.local' });
  const controllers: GatewayDeploymentController[] = [];
  const log = captureLogger('debug');

  function controller(isLeader: () => boolean): GatewayDeploymentController {
    const created = new GatewayDeploymentController({
      http,
      logger: log.logger,
      isLeader,
      gateways: () => gateways,
      gatewayClass: (name) => (name === 'istio' ? istioClass : undefined),
      injection: () => settings,
      backoff: { initialMs: 200, maxMs: 2_000 },
    });
    controllers.push(created);
    return created;
  }

  const get = <T extends KubeObject = Owned>(apiVersion: string, kind: string, name: string) => api.get<T>(apiVersion, kind, 'edge', name);
  const applyLogs = () => log.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('gateway deployment: applied'));

  beforeAll(async () => {
    api = await RealKubeApi.start();
    for (const name of ['istio-system', 'edge']) await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await api.applyManifestFile(path.join(repoRoot, 'manifests', '10-serviceaccount.yaml'));
    await api.applyManifestFile(path.join(repoRoot, 'manifests', '20-rbac.yaml'));
    const token = await api.serviceAccountToken('istio-system', 'istiod', ['https://kubernetes.default.svc.cluster.local']);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(api.kubeconfigYaml(token));
    http = new KubeHttp(kubeConfig);
  }, 120_000);

  afterAll(async () => {
    for (const c of controllers) await c.stop();
    await api?.close();
  });

  it('deploys a class-istio Gateway: ServiceAccount, Deployment and Service named NAME-istio, owned by the Gateway', async () => {
    gateways.push(
      gateway('web', 'istio', [
        { name: 'http', port: 80, protocol: 'HTTP' },
        { name: 'https', port: 443, protocol: 'HTTPS' },
      ]),
    );
    const leader = controller(() => true);
    leader.startLeading();
    await leader.idle();
    const owner = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'web', uid: 'uid-web', controller: true };
    const sa = await get('v1', 'ServiceAccount', 'web-istio');
    const deployment = await get<
      Owned & { spec: { selector: unknown; template: { spec: { serviceAccountName: string; containers: Array<{ name: string; args: string[] }> } } } }
    >('apps/v1', 'Deployment', 'web-istio');
    const service = await get<Service & Owned>('v1', 'Service', 'web-istio');
    for (const object of [sa, deployment, service]) {
      expect(object?.metadata.ownerReferences).toEqual([owner]);
      expect(object?.metadata.labels).toMatchObject({
        'gateway.networking.k8s.io/gateway-name': 'web',
        'gateway.istio.io/managed': 'istio.io-gateway-controller',
      });
    }
    expect(deployment!.spec.selector).toEqual({ matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'web' } });
    expect(deployment!.spec.template.spec.serviceAccountName).toBe('web-istio');
    expect(deployment!.spec.template.spec.containers.map((c) => [c.name, c.args.slice(0, 2)])).toEqual([['istio-proxy', ['proxy', 'router']]]);
    expect(service!.spec.type).toBe('LoadBalancer');
    expect(service!.spec.ports.map((p) => [p.name, p.port, p.appProtocol])).toEqual([
      ['status-port', 15021, 'tcp'],
      ['http', 80, 'http'],
      ['https', 443, 'https'],
    ]);
    // Written by istiod's field manager.
    const managers = (service!.metadata as { managedFields?: Array<{ manager: string; operation: string }> }).managedFields ?? [];
    expect(managers).toContainEqual(expect.objectContaining({ manager: 'istio.io/gateway-controller', operation: 'Apply' }));
  }, 60_000);

  it('writes nothing when nothing changed', async () => {
    const [leader] = controllers;
    const before = await Promise.all([get('v1', 'ServiceAccount', 'web-istio'), get('apps/v1', 'Deployment', 'web-istio'), get('v1', 'Service', 'web-istio')]);
    const applied = applyLogs().length;
    leader!.enqueueAll();
    await leader!.idle();
    const after = await Promise.all([get('v1', 'ServiceAccount', 'web-istio'), get('apps/v1', 'Deployment', 'web-istio'), get('v1', 'Service', 'web-istio')]);
    expect(after.map((o) => o?.metadata.resourceVersion)).toEqual(before.map((o) => o?.metadata.resourceVersion));
    expect(applyLogs()).toHaveLength(applied);
  }, 30_000);

  it('makes the Service follow the listeners', async () => {
    const [leader] = controllers;
    gateways[0] = gateway('web', 'istio', [
      { name: 'http', port: 80, protocol: 'HTTP' },
      { name: 'grpc', port: 9090, protocol: 'HTTP' },
    ]);
    leader!.gatewayChanged('edge', 'web');
    await leader!.idle();
    const service = await get<Service>('v1', 'Service', 'web-istio');
    expect(service!.spec.ports.map((p) => [p.name, p.port])).toEqual([
      ['status-port', 15021],
      ['http', 80],
      ['grpc', 9090],
    ]);
  }, 30_000);

  it('restores an owned Service deleted by hand, and an owned field edited by someone else', async () => {
    const deleted = await get('v1', 'Service', 'web-istio');
    await api.delete('v1', 'Service', 'edge', 'web-istio');
    const restored = await eventually(
      async () => {
        const service = await get<Service & Owned>('v1', 'Service', 'web-istio');
        return service && service.metadata.uid !== deleted!.metadata.uid ? service : undefined;
      },
      'the deleted Service recreated',
      20_000,
    );
    expect(restored.spec.ports.map((p) => p.port)).toEqual([15021, 80, 9090]);

    const servicePath = await api.path('v1', 'Service', 'edge', 'web-istio');
    const patched = await api.request('PATCH', servicePath, { spec: { type: 'ClusterIP' } }, 'application/merge-patch+json');
    expect(patched.status).toBe(200);
    await eventually(
      async () => (await get<Service>('v1', 'Service', 'web-istio'))?.spec.type === 'LoadBalancer',
      'the Service type set back to LoadBalancer',
      20_000,
    );
  }, 60_000);

  it('gives a Gateway of another class nothing, and never takes over an object it does not manage', async () => {
    const [leader] = controllers;
    gateways.push(gateway('other', 'example', [{ name: 'http', port: 80, protocol: 'HTTP' }]));
    await api.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'taken-istio', namespace: 'edge' }, spec: { ports: [{ name: 'x', port: 1234 }] } });
    gateways.push(gateway('taken', 'istio', [{ name: 'http', port: 80, protocol: 'HTTP' }]));
    leader!.gatewayChanged('edge', 'other');
    leader!.gatewayChanged('edge', 'taken');
    await leader!.idle();
    for (const [apiVersion, kind] of [
      ['v1', 'ServiceAccount'],
      ['apps/v1', 'Deployment'],
      ['v1', 'Service'],
    ] as const) {
      expect(await get(apiVersion, kind, 'other-example')).toBeUndefined();
    }
    const untouched = await get<Service>('v1', 'Service', 'taken-istio');
    expect(untouched!.spec.ports.map((p) => p.port)).toEqual([1234]);
    expect(log.lines).toContainEqual(
      expect.objectContaining({ gateway: 'edge/taken', kind: 'Service', msg: expect.stringContaining('is not managed by istio.io/gateway-controller') }),
    );
  }, 30_000);

  it('logs a write the API server refuses with the object and reason, retries it with backoff, and keeps serving other Gateways', async () => {
    const [leader] = controllers;
    // A listener name is a valid section name but not a valid Service port name.
    gateways.push(gateway('bad', 'istio', [{ name: 'web.http', port: 80, protocol: 'HTTP' }]));
    leader!.gatewayChanged('edge', 'bad');
    const retried = await eventually(
      () => log.lines.find((l) => l.gateway === 'edge/bad' && l.msg === 'gateway deployment failed; retrying' && Number(l.attempt) >= 2),
      'a second failed attempt for edge/bad',
      20_000,
    );
    expect(retried.err).toMatch(/^Service edge\/bad-istio: .*HTTP 422/);
    // The ServiceAccount and Deployment, applied before it, are there; the Service is not.
    expect(await get('v1', 'ServiceAccount', 'bad-istio')).toBeDefined();
    expect(await get('apps/v1', 'Deployment', 'bad-istio')).toBeDefined();
    expect(await get('v1', 'Service', 'bad-istio')).toBeUndefined();
    // Other Gateways are still reconciled meanwhile.
    gateways[0] = gateway('web', 'istio', [
      { name: 'http', port: 80, protocol: 'HTTP' },
      { name: 'grpc', port: 9091, protocol: 'HTTP' },
    ]);
    leader!.gatewayChanged('edge', 'web');
    await eventually(
      async () => (await get<Service>('v1', 'Service', 'web-istio'))?.spec.ports.some((p) => p.port === 9091),
      'web-istio following its listeners',
      20_000,
    );
    gateways.splice(
      gateways.findIndex((g) => g.metadata.name === 'bad'),
      1,
    );
  }, 60_000);

  it('writes nothing while another replica leads', async () => {
    const follower = controller(() => false);
    gateways.push(gateway('quiet', 'istio', [{ name: 'http', port: 80, protocol: 'HTTP' }]));
    follower.startLeading();
    follower.gatewayChanged('edge', 'quiet');
    await follower.idle();
    for (const [apiVersion, kind] of [
      ['v1', 'ServiceAccount'],
      ['apps/v1', 'Deployment'],
      ['v1', 'Service'],
    ] as const) {
      expect(await get(apiVersion, kind, 'quiet-istio')).toBeUndefined();
    }
  }, 30_000);
});

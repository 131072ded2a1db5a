// Sidecar injection through a real kube-apiserver with meshd's shipped webhook
// configuration: the API server stores pods of injected namespaces with the
// sidecar, leaves the others alone, and refuses a pod whose override is malformed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fakeKubeApiHelpers.js';
import { freePort } from '../support/ports.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { RealKubeApi, realApiServerAvailable, type KubeObject } from '../support/realKubeApi.js';
import { webhookConfigurationsAt, type WebhookConfigurationObject } from '../support/webhookManifests.js';
import { meshctl } from '../support/meshctl.js';

interface StoredPod extends KubeObject {
  metadata: KubeObject['metadata'] & { annotations?: Record<string, string> };
  spec: {
    containers: Array<{ name: string; image: string; env?: Array<{ name: string; value?: string }> }>;
    initContainers?: Array<{ name: string; args?: string[] }>;
    volumes?: Array<{ name: string }>;
  };
}

const pod = (name: string, namespace: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels: { app: name, ...(extra.labels ?? {}) }, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'registry.example.com/app:1',
        ports: [{ name: 'http', containerPort: 8080 }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
      },
    ],
  },
});

describe.skipIf(!realApiServerAvailable)('sidecar injection through a real API server', () => {
  let api: RealKubeApi;
  let meshd: MeshdProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    api = await RealKubeApi.start();
    await api.installIstioCrds();
    await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
    await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'injected', labels: { 'istio-injection': 'enabled' } } });
    await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'plain' } });
    // No controller-manager here: the service accounts pods run as are created by hand.
    for (const namespace of ['injected', 'plain']) await api.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace } });
    const webhookPort = await freePort();
    for (const config of webhookConfigurationsAt(`https://127.0.0.1:${webhookPort}`)) await api.apply(config);
    dir = mkdtempSync(join(tmpdir(), 'meshd-inject-real-'));
    meshd = await spawnMeshd(['--kubeconfig', api.kubeconfigPath, '--webhook-port', String(webhookPort), '--dns-names', '127.0.0.1'], 40_000);
    // The injector's caBundle is meshd's root once the leader has patched it.
    await eventually(
      async () => {
        const config = (
          await api.request<WebhookConfigurationObject>('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/istio-sidecar-injector')
        ).body;
        return config.webhooks.every((w) => Boolean(w.clientConfig.caBundle));
      },
      'caBundle patched into istio-sidecar-injector',
      40_000,
    );
  }, 150_000);

  afterAll(async () => {
    meshd?.child.kill('SIGKILL');
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Creates the pod, retrying while the API server has not yet picked up the patched caBundle. */
  async function create(object: ReturnType<typeof pod>): Promise<{ status: number; body: StoredPod & { message?: string } }> {
    const path = await api.path('v1', 'Pod', object.metadata.namespace);
    return eventually(
      async () => {
        const answer = await api.request<StoredPod & { message?: string }>('POST', path, object);
        return !(answer.status >= 500 || /failed calling webhook/.test(answer.body.message ?? '')) && answer;
      },
      `create pod ${object.metadata.namespace}/${object.metadata.name}`,
      30_000,
    );
  }

  it('stores a pod created in a namespace labelled istio-injection=enabled with the sidecar', async () => {
    const created = await create(pod('reviews', 'injected'));
    expect(created.status).toBe(201);
    const stored = (await api.get<StoredPod>('v1', 'Pod', 'injected', 'reviews'))!;
    expect(stored.spec.containers.map((c) => c.name)).toEqual(['app', 'istio-proxy']);
    expect(stored.spec.initContainers?.map((c) => c.name)).toEqual(['istio-init']);
    expect(stored.spec.initContainers?.[0]?.args?.slice(0, 9)).toEqual(['istio-iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT']);
    const proxy = stored.spec.containers.find((c) => c.name === 'istio-proxy')!;
    expect(proxy.image).toMatch(/\/proxyv2:/);
    expect(proxy.env?.find((e) => e.name === 'PROXY_CONFIG')?.value).toContain('istiod.istio-system.svc:15012');
    expect(stored.spec.volumes?.map((v) => v.name)).toEqual(
      expect.arrayContaining(['istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert']),
    );
    expect(stored.metadata.labels).toMatchObject({ 'security.istio.io/tlsMode': 'istio', 'service.istio.io/canonical-name': 'reviews' });
    expect(JSON.parse(stored.metadata.annotations!['sidecar.istio.io/status']!)).toMatchObject({ initContainers: ['istio-init'], containers: ['istio-proxy'] });
    // The application's readiness probe now goes through the agent.
    const app = stored.spec.containers.find((c) => c.name === 'app') as unknown as { readinessProbe: { httpGet: { path: string; port: number } } };
    expect(app.readinessProbe.httpGet).toMatchObject({ path: '/app-health/app/readyz', port: 15020 });
  }, 60_000);

  it('leaves a pod in an unlabelled namespace, and a pod that opts out, without a sidecar', async () => {
    expect((await create(pod('plain-app', 'plain'))).status).toBe(201);
    const plain = (await api.get<StoredPod>('v1', 'Pod', 'plain', 'plain-app'))!;
    expect(plain.spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(plain.metadata.annotations?.['sidecar.istio.io/status']).toBeUndefined();
    expect((await create(pod('opted-out', 'injected', { labels: { 'sidecar.istio.io/inject': 'false' } }))).status).toBe(201);
    expect((await api.get<StoredPod>('v1', 'Pod', 'injected', 'opted-out'))!.spec.containers.map((c) => c.name)).toEqual(['app']);
  }, 60_000);

  it('injects a pod that asks for it with sidecar.istio.io/inject=true in an unlabelled namespace', async () => {
    expect((await create(pod('asks', 'plain', { labels: { 'sidecar.istio.io/inject': 'true' } }))).status).toBe(201);
    expect((await api.get<StoredPod>('v1', 'Pod', 'plain', 'asks'))!.spec.containers.map((c) => c.name)).toEqual(['app', 'istio-proxy']);
  }, 60_000);

  it('refuses a native sidecar on this API server (v1.25), which would store a pod that never starts', async () => {
    await meshd!.waitForLog((l) => l.msg === 'API server version');
    const refused = await create(pod('native', 'injected', { annotations: { 'sidecar.istio.io/nativeSidecar': 'true' } }));
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe(
      'admission webhook "namespace.sidecar-injector.istio.io" denied the request: injection failed: annotation sidecar.istio.io/nativeSidecar asks for a native sidecar, which needs Kubernetes 1.29 or later; this API server is 1.25',
    );
  }, 60_000);

  it('meshctl --kubeconfig kube-inject reads the values and the server version from the cluster, as istioctl does', async () => {
    const values = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio-sidecar-injector', namespace: 'istio-system' },
      data: { values: JSON.stringify({ global: { hub: 'registry.example.com/istio', tag: '1.23.2' } }) },
    };
    await api.apply(values);
    writeFileSync(join(dir, 'pod.yaml'), JSON.stringify(pod('offline', 'injected')));
    const injected = await meshctl(['--kubeconfig', api.kubeconfigPath, 'kube-inject', '-f', join(dir, 'pod.yaml')]);
    expect(injected.stderr).toBe('');
    expect(injected.stdout).toContain('image: registry.example.com/istio/proxyv2:1.23.2');
    writeFileSync(join(dir, 'native.yaml'), JSON.stringify(pod('native', 'injected', { annotations: { 'sidecar.istio.io/nativeSidecar': 'true' } })));
    const native = await meshctl(['--kubeconfig', api.kubeconfigPath, 'kube-inject', '-f', join(dir, 'native.yaml')]);
    expect(native.code).toBe(1);
    expect(native.stderr).toContain('needs Kubernetes 1.29 or later; this API server is 1.25');
    // The webhook follows the same ConfigMap once meshd has seen it.
    await eventually(
      async () => {
        const name = `valued-${Date.now()}`;
        await create(pod(name, 'injected'));
        const stored = await api.get<StoredPod>('v1', 'Pod', 'injected', name);
        return stored?.spec.containers.find((c) => c.name === 'istio-proxy')?.image === 'registry.example.com/istio/proxyv2:1.23.2';
      },
      'a pod injected with the hub and tag of the values ConfigMap',
      20_000,
    );
    await api.delete('v1', 'ConfigMap', 'istio-system', 'istio-sidecar-injector');
  }, 60_000);

  it('refuses a pod whose override annotation is malformed, naming the annotation', async () => {
    const refused = await create(pod('bad-ports', 'injected', { annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '3306,mysql' } }));
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe(
      'admission webhook "namespace.sidecar-injector.istio.io" denied the request: injection failed: annotation traffic.sidecar.istio.io/excludeOutboundPorts="3306,mysql": "mysql" is not a port number (1-65535)',
    );
    expect(await api.get('v1', 'Pod', 'injected', 'bad-ports')).toBeUndefined();
  }, 60_000);
});

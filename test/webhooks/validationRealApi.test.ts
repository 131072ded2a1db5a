// Validation through a real kube-apiserver: meshd patches the caBundle of the
// shipped webhook configurations, verifies the API server reaches /validate and
// then fails closed; an invalid Istio object is refused at `kubectl apply` time
// with istiod's message and never stored; a restart with a new root re-patches.
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/fakeKubeApiHelpers.js';
import { spawnMeshd, type MeshdProcess } from '../support/meshdProcess.js';
import { freePort } from '../support/ports.js';
import { RealKubeApi, realApiServerAvailable, type KubeObject } from '../support/realKubeApi.js';
import { webhookConfigurationsAt, type WebhookConfigurationObject } from '../support/webhookManifests.js';

const namespaceWidePortLevel = {
  apiVersion: 'security.istio.io/v1',
  kind: 'PeerAuthentication',
  metadata: { name: 'default', namespace: 'shop' },
  spec: { mtls: { mode: 'STRICT' }, portLevelMtls: { '9090': { mode: 'DISABLE' } } },
};

describe.skipIf(!realApiServerAvailable)('validation webhook through a real API server', () => {
  let api: RealKubeApi;
  let meshd: MeshdProcess | undefined;
  let webhookPort: number;
  const admission = (resource: 'validatingwebhookconfigurations' | 'mutatingwebhookconfigurations', name: string) =>
    api.request<WebhookConfigurationObject>('GET', `/apis/admissionregistration.k8s.io/v1/${resource}/${name}`).then((r) => r.body);
  const validator = () => admission('validatingwebhookconfigurations', 'istio-validator-istio-system');
  const injector = () => admission('mutatingwebhookconfigurations', 'istio-sidecar-injector');
  const root = async () =>
    (await api.get<KubeObject & { data: Record<string, string> }>('v1', 'ConfigMap', 'istio-system', 'istio-ca-root-cert'))?.data['root-cert.pem'];
  const start = () => spawnMeshd(['--kubeconfig', api.kubeconfigPath, '--webhook-port', String(webhookPort), '--dns-names', '127.0.0.1'], 40_000);

  beforeAll(async () => {
    api = await RealKubeApi.start();
    await api.installIstioCrds();
    for (const name of ['istio-system', 'shop']) await api.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    webhookPort = await freePort();
    for (const config of webhookConfigurationsAt(`https://127.0.0.1:${webhookPort}`)) await api.apply(config);
    meshd = await start();
  }, 120_000);

  afterAll(async () => {
    meshd?.child.kill('SIGKILL');
    await api?.close();
  });

  it('patches both caBundles with its root and moves validation to failurePolicy Fail', async () => {
    const rootPem = await eventually(root, 'istio-ca-root-cert in istio-system', 30_000);
    const bundle = Buffer.from(rootPem).toString('base64');
    const settled = await eventually(
      async () => {
        const config = await validator();
        return config.webhooks.every((w) => w.clientConfig.caBundle === bundle && w.failurePolicy === 'Fail') && config;
      },
      'validation webhooks with caBundle and failurePolicy Fail',
      30_000,
    );
    expect(settled.webhooks.map((w) => w.name)).toEqual(['rev.validation.istio.io', 'validation.istio.io']);
    const mutating = await injector();
    expect(mutating.webhooks.map((w) => w.clientConfig.caBundle)).toEqual(mutating.webhooks.map(() => bundle));
    // Injection keeps the policy it shipped with.
    expect(mutating.webhooks.every((w) => w.failurePolicy === 'Fail')).toBe(true);
  }, 60_000);

  it("refuses the namespace-wide PeerAuthentication with portLevelMtls in istiod's words, and stores nothing", async () => {
    const path = await api.path('security.istio.io/v1', 'PeerAuthentication', 'shop');
    const refused = await api.request<{ message: string; code: number }>('POST', path, namespaceWidePortLevel);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe(
      'admission webhook "validation.istio.io" denied the request: configuration is invalid: spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS',
    );
    expect(await api.get('security.istio.io/v1', 'PeerAuthentication', 'shop', 'default')).toBeUndefined();
  }, 30_000);

  it('admits valid objects, and names the rev webhook for objects of the default revision', async () => {
    await api.apply({ ...namespaceWidePortLevel, spec: { mtls: { mode: 'STRICT' } } });
    expect(await api.get('security.istio.io/v1', 'PeerAuthentication', 'shop', 'default')).toBeDefined();
    const path = await api.path('networking.istio.io/v1', 'VirtualService', 'shop');
    const refused = await api.request<{ message: string }>('POST', path, {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'bad', namespace: 'shop', labels: { 'istio.io/rev': 'default' } },
      spec: { hosts: ['web'], http: [{ match: [{ uri: { regex: '(' } }], route: [{ destination: { host: 'web' } }] }] },
    });
    expect(refused.body.message).toMatch(
      /^admission webhook "rev.validation.istio.io" denied the request: configuration is invalid: spec.http\[0\].match\[0\].uri.regex: invalid RE2 regex/,
    );
  }, 30_000);

  it("refuses an EnvoyFilter whose patch value does not decode against Envoy's protos, naming the patch, and admits the seeds' rate-limit filter", async () => {
    const rateLimit = (typedConfig: Record<string, unknown>) => ({
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'EnvoyFilter',
      metadata: { name: 'filter-ratelimit', namespace: 'istio-system' },
      spec: {
        workloadSelector: { labels: { istio: 'ingressgateway' } },
        configPatches: [
          {
            applyTo: 'HTTP_FILTER',
            match: {
              context: 'GATEWAY',
              listener: {
                filterChain: { filter: { name: 'envoy.filters.network.http_connection_manager', subFilter: { name: 'envoy.filters.http.router' } } },
              },
            },
            patch: {
              operation: 'INSERT_BEFORE',
              value: {
                name: 'envoy.filters.http.ratelimit',
                typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit', ...typedConfig },
              },
            },
          },
        ],
      },
    });
    const service = {
      rate_limit_service: {
        grpc_service: { envoy_grpc: { cluster_name: 'outbound|8081||ratelimit.istio-system.svc.cluster.local' } },
        transport_api_version: 'V3',
      },
    };
    const path = await api.path('networking.istio.io/v1alpha3', 'EnvoyFilter', 'istio-system');
    const refused = await api.request<{ message: string }>('POST', path, rateLimit({ domian: 'shop', ...service }));
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(
      /^admission webhook "validation.istio.io" denied the request: configuration is invalid: spec\.configPatches\[0\]\.patch\.value: does not decode as envoy\.extensions\.filters\.network\.http_connection_manager\.v3\.HttpFilter: .*unknown field "domian"/,
    );
    expect(await api.get('networking.istio.io/v1alpha3', 'EnvoyFilter', 'istio-system', 'filter-ratelimit')).toBeUndefined();
    await api.apply(rateLimit({ domain: 'shop', ...service }));
    expect(await api.get('networking.istio.io/v1alpha3', 'EnvoyFilter', 'istio-system', 'filter-ratelimit')).toBeDefined();
  }, 30_000);

  it('admits a risky object with the warning kubectl prints', async () => {
    const path = await api.path('security.istio.io/v1', 'AuthorizationPolicy', 'shop');
    const body = JSON.stringify({
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'lockdown', namespace: 'shop' },
      spec: {},
    });
    // The Warning header is what kubectl prints as `Warning: ...`.
    const answer = await new Promise<{ status: number; warning: string }>((resolve, reject) => {
      const request = https.request(
        `${api.url}${path}`,
        {
          method: 'POST',
          ca: api.caPem,
          headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve({ status: response.statusCode ?? 0, warning: String(response.headers.warning ?? '') }));
        },
      );
      request.on('error', reject);
      request.end(body);
    });
    expect(answer.status).toBe(201);
    expect(answer.warning).toContain('ALLOW policy with no rules: it matches no request, so every request to the workloads it selects is denied');
  }, 30_000);

  it('re-patches the caBundle when meshd restarts with a new root', async () => {
    const before = await root();
    // A clean stop releases the Lease, so the next meshd leads at once.
    meshd!.child.kill('SIGTERM');
    await meshd!.exited;
    await api.delete('v1', 'Secret', 'istio-system', 'istio-ca-secret');
    meshd = await start();
    const after = await eventually(
      async () => {
        const pem = await root();
        return pem !== before && pem;
      },
      'a new root in istio-ca-root-cert',
      30_000,
    );
    const bundle = Buffer.from(after).toString('base64');
    await eventually(async () => (await injector()).webhooks.every((w) => w.clientConfig.caBundle === bundle), 'injector caBundle = new root', 30_000);
    await eventually(async () => (await validator()).webhooks.every((w) => w.clientConfig.caBundle === bundle), 'validator caBundle = new root', 30_000);
    // The API server trusts the new serving certificate: invalid objects are still refused by meshd.
    const path = await api.path('security.istio.io/v1', 'PeerAuthentication', 'shop');
    const refused = await eventually(
      async () => {
        const answer = await api.request<{ message: string }>('POST', path, { ...namespaceWidePortLevel, metadata: { name: 'again', namespace: 'shop' } });
        return answer.body.message?.includes('denied the request') && answer;
      },
      'denial after the restart',
      30_000,
    );
    expect(refused.status).toBe(400);
  }, 120_000);
});

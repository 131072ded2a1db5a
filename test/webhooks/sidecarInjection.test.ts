// The injection template with istiod's facts: what the injected pod holds,
// where values, mesh config and per-pod annotations change it, and how a
// malformed override is refused instead of producing a broken pod.
import { describe, expect, it } from 'vitest';
import { injectionRequired } from '../../src/webhooks/inject/injectionPolicy.js';
import { injectorConfigFrom } from '../../src/webhooks/inject/injectorConfig.js';
import { injectionSettingsFrom } from '../../src/webhooks/inject/injectionSettings.js';
import { injectAdmission, podPatch } from '../../src/webhooks/inject/injectWebhook.js';
import type { Container, Pod } from '../../src/webhooks/inject/podTypes.js';
import { injectSidecar, type InjectionSettings } from '../../src/webhooks/inject/sidecarInjection.js';
import { parseServerVersion } from '../../src/webhooks/kubernetesVersion.js';

const identity = { clusterId: 'Kubernetes', trustDomain: 'cluster.local' };

function settings(mesh?: string, values?: string): InjectionSettings {
  const meshCm =
    mesh === undefined ? undefined : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace: 'istio-system' }, data: { mesh } };
  const valuesCm =
    values === undefined
      ? undefined
      : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio-sidecar-injector', namespace: 'istio-system' }, data: { values } };
  const result = injectionSettingsFrom(meshCm, valuesCm, identity);
  if (!result.ok) throw new Error(result.error);
  return result.settings;
}

function appPod(overrides: { annotations?: Record<string, string>; labels?: Record<string, string>; containers?: Container[] } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'reviews-v1-7d9f8c6b5-',
      namespace: 'shop',
      labels: { app: 'reviews', version: 'v1', 'pod-template-hash': '7d9f8c6b5', ...(overrides.labels ?? {}) },
      ...(overrides.annotations ? { annotations: overrides.annotations } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'reviews-v1-7d9f8c6b5', controller: true }],
    },
    spec: {
      serviceAccountName: 'reviews',
      containers: overrides.containers ?? [{ name: 'reviews', image: 'reviews:1', ports: [{ name: 'http', containerPort: 9080, protocol: 'TCP' }] }],
    },
  };
}

const proxyOf = (pod: Pod) => pod.spec.containers.find((c) => c.name === 'istio-proxy') ?? pod.spec.initContainers?.find((c) => c.name === 'istio-proxy');
const initOf = (pod: Pod) => pod.spec.initContainers?.find((c) => c.name === 'istio-init');
const envOf = (c: Container | undefined) => Object.fromEntries((c?.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

describe('sidecar injection template', () => {
  it("adds istiod's istio-proxy container", () => {
    const pod = injectSidecar(appPod(), 'shop', settings());
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['reviews', 'istio-proxy']);
    const proxy = proxyOf(pod)!;
    expect(proxy.image).toBe('docker.io/istio/proxyv2:1.24.0');
    expect(proxy.args).toEqual([
      'proxy',
      'sidecar',
      '--domain',
      '$(POD_NAMESPACE).svc.cluster.local',
      '--proxyLogLevel=warning',
      '--proxyComponentLogLevel=misc:error',
      '--log_output_level=default:info',
    ]);
    const env = envOf(proxy);
    expect(env.POD_NAME).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env.POD_NAMESPACE).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(env.INSTANCE_IP).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
    expect(env.SERVICE_ACCOUNT).toEqual({ fieldRef: { fieldPath: 'spec.serviceAccountName' } });
    expect(env.HOST_IP).toEqual({ fieldRef: { fieldPath: 'status.hostIP' } });
    expect(JSON.parse(env.PROXY_CONFIG as string)).toEqual({ discoveryAddress: 'istiod.istio-system.svc:15012' });
    expect(env.CA_ADDR).toBe('istiod.istio-system.svc:15012');
    expect(env.JWT_POLICY).toBe('third-party-jwt');
    expect(env.PILOT_CERT_PROVIDER).toBe('istiod');
    expect(env.ISTIO_META_CLUSTER_ID).toBe('Kubernetes');
    expect(env.ISTIO_META_MESH_ID).toBe('cluster.local');
    expect(env.TRUST_DOMAIN).toBe('cluster.local');
    expect(env.ISTIO_META_WORKLOAD_NAME).toBe('reviews-v1');
    expect(env.ISTIO_META_OWNER).toBe('kubernetes://apis/apps/v1/namespaces/shop/deployments/reviews-v1');
    expect(env.ISTIO_META_APP_CONTAINERS).toBe('reviews');
    expect(env.ISTIO_META_INTERCEPTION_MODE).toBe('REDIRECT');
    expect(JSON.parse(env.ISTIO_META_POD_PORTS as string)).toEqual([{ name: 'http', containerPort: 9080, protocol: 'TCP' }]);
    expect(proxy.readinessProbe).toEqual({
      httpGet: { path: '/healthz/ready', port: 15021 },
      initialDelaySeconds: 0,
      periodSeconds: 15,
      timeoutSeconds: 3,
      failureThreshold: 4,
    });
    expect(proxy.securityContext).toMatchObject({
      runAsUser: 1337,
      runAsGroup: 1337,
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(proxy.ports).toEqual([{ containerPort: 15090, protocol: 'TCP', name: 'http-envoy-prom' }]);
    expect(proxy.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } });
  });

  it("captures traffic through istio-init with istiod's iptables arguments", () => {
    const pod = injectSidecar(appPod(), 'shop', settings());
    const init = initOf(pod)!;
    expect(init.args).toEqual([
      'istio-iptables',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      '1337',
      '-m',
      'REDIRECT',
      '-i',
      '*',
      '-x',
      '',
      '-b',
      '*',
      '-d',
      '15090,15021,15020',
      '--log_output_level=default:info',
    ]);
    expect(init.securityContext).toMatchObject({ runAsUser: 0, runAsNonRoot: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } });
    expect(init.image).toBe('docker.io/istio/proxyv2:1.24.0');
  });

  it("adds istiod's volumes, labels and the status annotation", () => {
    const pod = injectSidecar(appPod(), 'shop', settings());
    const volumes = Object.fromEntries((pod.spec.volumes ?? []).map((v) => [v.name as string, v]));
    expect(Object.keys(volumes)).toEqual([
      'workload-socket',
      'credential-socket',
      'workload-certs',
      'istio-envoy',
      'istio-data',
      'istio-podinfo',
      'istio-token',
      'istiod-ca-cert',
    ]);
    expect(volumes['istio-envoy']).toEqual({ name: 'istio-envoy', emptyDir: { medium: 'Memory' } });
    expect(volumes['istio-token']).toEqual({
      name: 'istio-token',
      projected: { sources: [{ serviceAccountToken: { path: 'istio-token', expirationSeconds: 43200, audience: 'istio-ca' } }] },
    });
    expect(volumes['istiod-ca-cert']).toEqual({ name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } });
    const mounts = Object.fromEntries(((proxyOf(pod)!.volumeMounts as Array<{ name: string; mountPath: string }>) ?? []).map((m) => [m.name, m.mountPath]));
    expect(mounts).toMatchObject({
      'istio-token': '/var/run/secrets/tokens',
      'istiod-ca-cert': '/var/run/secrets/istio',
      'istio-envoy': '/etc/istio/proxy',
      'istio-data': '/var/lib/istio/data',
      'istio-podinfo': '/etc/istio/pod',
    });
    expect(pod.metadata.labels).toMatchObject({
      'security.istio.io/tlsMode': 'istio',
      'service.istio.io/canonical-name': 'reviews',
      'service.istio.io/canonical-revision': 'v1',
    });
    expect(JSON.parse(pod.metadata.annotations!['sidecar.istio.io/status']!)).toEqual({
      initContainers: ['istio-init'],
      containers: ['istio-proxy'],
      volumes: Object.keys(volumes),
      imagePullSecrets: null,
      revision: 'default',
    });
    expect(pod.metadata.annotations).toMatchObject({
      'kubectl.kubernetes.io/default-container': 'reviews',
      'prometheus.io/port': '15020',
      'prometheus.io/path': '/stats/prometheus',
      'prometheus.io/scrape': 'true',
    });
  });

  it('takes hub, tag and proxy defaults from the values ConfigMap and ProxyConfig from mesh defaultConfig', () => {
    const pod = injectSidecar(
      appPod(),
      'shop',
      settings(
        'defaultConfig:\n  discoveryAddress: meshd.istio-system.svc:15012\n  proxyMetadata: {ISTIO_META_DNS_CAPTURE: "true"}\ntrustDomain: example.org\n',
        JSON.stringify({
          global: { hub: 'registry.example.com/istio', tag: '1.23.2', proxy: { logLevel: 'debug' }, imagePullSecrets: ['pull'] },
          unknownChartKey: { x: 1 },
        }),
      ),
    );
    const proxy = proxyOf(pod)!;
    expect(proxy.image).toBe('registry.example.com/istio/proxyv2:1.23.2');
    expect(proxy.args).toContain('--proxyLogLevel=debug');
    const env = envOf(proxy);
    expect(JSON.parse(env.PROXY_CONFIG as string)).toEqual({
      discoveryAddress: 'meshd.istio-system.svc:15012',
      proxyMetadata: { ISTIO_META_DNS_CAPTURE: 'true' },
    });
    expect(env.ISTIO_META_DNS_CAPTURE).toBe('true');
    expect(env.TRUST_DOMAIN).toBe('example.org');
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'pull' }]);
  });

  it('passes mesh defaultConfig fields through, and refuses a mistyped one naming the mesh config', () => {
    const env = envOf(proxyOf(injectSidecar(appPod(), 'shop', settings('defaultConfig:\n  someNewerField: {a: 1}\n'))));
    expect(JSON.parse(env.PROXY_CONFIG as string)).toMatchObject({ someNewerField: { a: 1 } });
    const meshCm = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio', namespace: 'istio-system' },
      data: { mesh: 'defaultConfig:\n  interceptionMode: MAGIC\n' },
    };
    expect(injectionSettingsFrom(meshCm, undefined, identity)).toEqual({
      ok: false,
      error: 'mesh config defaultConfig: interceptionMode: want one of REDIRECT, TPROXY, NONE, got "MAGIC"',
    });
  });

  it("applies istiod's per-pod annotations", () => {
    const pod = injectSidecar(
      appPod({
        annotations: {
          'sidecar.istio.io/proxyCPU': '250m',
          'sidecar.istio.io/proxyMemoryLimit': '512Mi',
          'traffic.sidecar.istio.io/excludeOutboundPorts': '3306,6379',
          'traffic.sidecar.istio.io/excludeInboundPorts': '8081',
          'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/8,169.254.169.254/32',
          'proxy.istio.io/config': '{"concurrency": 2, "holdApplicationUntilProxyStarts": true}',
        },
      }),
      'shop',
      settings(),
    );
    const proxy = proxyOf(pod)!;
    expect(proxy.resources).toEqual({ requests: { cpu: '250m' }, limits: { memory: '512Mi' } });
    expect(initOf(pod)!.args).toEqual(expect.arrayContaining(['-o', '3306,6379', '-x', '10.0.0.0/8,169.254.169.254/32']));
    const args = initOf(pod)!.args as string[];
    expect(args[args.indexOf('-d') + 1]).toBe('15090,15021,8081,15020');
    expect(proxy.args).toEqual(expect.arrayContaining(['--concurrency', '2']));
    // Holding the application: the proxy starts first and the agent waits for Envoy.
    expect(pod.spec.containers[0]!.name).toBe('istio-proxy');
    expect(proxy.lifecycle).toEqual({ postStart: { exec: { command: ['pilot-agent', 'wait'] } } });
  });

  it('skips traffic capture for interception mode NONE', () => {
    const pod = injectSidecar(appPod({ annotations: { 'sidecar.istio.io/interceptionMode': 'NONE' } }), 'shop', settings());
    expect(pod.spec.initContainers).toBeUndefined();
    expect(envOf(proxyOf(pod)).ISTIO_META_INTERCEPTION_MODE).toBe('NONE');
  });

  it('injects a native sidecar: istio-proxy as an init container with restartPolicy Always after istio-init', () => {
    const pod = appPod({ annotations: { 'sidecar.istio.io/nativeSidecar': 'true' } });
    pod.spec.initContainers = [{ name: 'migrate', image: 'migrate:1' }];
    const injected = injectSidecar(pod, 'shop', settings());
    expect(injected.spec.initContainers!.map((c) => c.name)).toEqual(['istio-init', 'istio-proxy', 'migrate']);
    expect(injected.spec.containers.map((c) => c.name)).toEqual(['reviews']);
    const proxy = proxyOf(injected)!;
    expect(proxy.restartPolicy).toBe('Always');
    expect(proxy.startupProbe).toMatchObject({ httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 1 });
    expect(JSON.parse(injected.metadata.annotations!['sidecar.istio.io/status']!)).toMatchObject({
      initContainers: ['istio-init', 'istio-proxy'],
      containers: null,
    });
  });

  it('refuses a native sidecar on an API server older than 1.29, which would drop restartPolicy', () => {
    const pod = appPod({ annotations: { 'sidecar.istio.io/nativeSidecar': 'true' } });
    expect(() => injectSidecar(pod, 'shop', { ...settings(), kubernetesVersion: '1.25' })).toThrow(
      'annotation sidecar.istio.io/nativeSidecar asks for a native sidecar, which needs Kubernetes 1.29 or later; this API server is 1.25',
    );
    expect(proxyOf(injectSidecar(pod, 'shop', { ...settings(), kubernetesVersion: '1.30' }))!.restartPolicy).toBe('Always');
    expect(() => injectSidecar(appPod(), 'shop', { ...settings(undefined, '{"global": {"nativeSidecar": true}}'), kubernetesVersion: '1.28' })).toThrow(
      /^values global.nativeSidecar asks/,
    );
    expect(parseServerVersion({ gitVersion: 'v1.25.0-k3s1', major: '1', minor: '25' })).toBe('1.25');
    expect(parseServerVersion({ major: '1', minor: '29+' })).toBe('1.29');
  });

  it('rewrites application probes through the agent, as istiod does', () => {
    const pod = injectSidecar(
      appPod({
        containers: [
          {
            name: 'web',
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/ready', port: 'http' }, timeoutSeconds: 2, periodSeconds: 5 },
            livenessProbe: { tcpSocket: { port: 8080 }, timeoutSeconds: 1 },
            startupProbe: { exec: { command: ['true'] } },
          },
        ],
      }),
      'shop',
      settings(),
    );
    const web = pod.spec.containers.find((c) => c.name === 'web')!;
    expect(web.readinessProbe).toEqual({ httpGet: { path: '/app-health/web/readyz', port: 15020, scheme: 'HTTP' }, timeoutSeconds: 2, periodSeconds: 5 });
    expect(web.livenessProbe).toEqual({ httpGet: { path: '/app-health/web/livez', port: 15020, scheme: 'HTTP' }, timeoutSeconds: 1 });
    expect(web.startupProbe).toEqual({ exec: { command: ['true'] } });
    expect(JSON.parse(envOf(proxyOf(pod)).ISTIO_KUBE_APP_PROBERS as string)).toEqual({
      '/app-health/web/readyz': { httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' }, timeoutSeconds: 2 },
      '/app-health/web/livez': { tcpSocket: { port: 8080 }, timeoutSeconds: 1 },
    });
    const kept = injectSidecar(
      appPod({
        annotations: { 'sidecar.istio.io/rewriteAppHTTPProbers': 'false' },
        containers: [{ name: 'web', readinessProbe: { httpGet: { path: '/ready', port: 8080 } } }],
      }),
      'shop',
      settings(),
    );
    expect(kept.spec.containers[0]!.readinessProbe).toEqual({ httpGet: { path: '/ready', port: 8080 } });
  });

  it.each([
    ['sidecar.istio.io/proxyCPU', 'lots', 'not a Kubernetes quantity'],
    ['traffic.sidecar.istio.io/excludeOutboundPorts', '80,abc', '"abc" is not a port number'],
    ['traffic.sidecar.istio.io/includeOutboundIPRanges', '10.0.0.0/40', '"10.0.0.0/40" is not a CIDR'],
    ['sidecar.istio.io/interceptionMode', 'MAGIC', 'want one of REDIRECT, TPROXY, NONE'],
    ['proxy.istio.io/config', '{"discoveryAdress": "x:1"}', 'unknown ProxyConfig field "discoveryAdress"'],
    ['proxy.istio.io/config', '{nope', 'not YAML or JSON'],
    ['readiness.status.sidecar.istio.io/periodSeconds', '-3', 'want an integer'],
  ])('refuses a malformed %s with an error naming it', (annotation, value, reason) => {
    const response = injectAdmission(
      {
        uid: 'u',
        operation: 'CREATE',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: 'shop',
        object: appPod({ annotations: { [annotation]: value } }),
      },
      () => ({ ok: true, settings: settings() }),
    );
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain(`injection failed: annotation ${annotation}=${JSON.stringify(value)}: `);
    expect(response.status?.message).toContain(reason);
  });

  it('refuses to inject when the values ConfigMap is malformed, naming it', () => {
    const result = injectionSettingsFrom(
      undefined,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'istio-sidecar-injector', namespace: 'istio-system' },
        data: { values: '{"global": {"hub": 7}}' },
      },
      identity,
    );
    expect(result).toEqual({ ok: false, error: 'ConfigMap istio-system/istio-sidecar-injector key values: values.global.hub: must be a string, got 7' });
    const response = injectAdmission(
      { uid: 'u', operation: 'CREATE', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', object: appPod() },
      () => result,
    );
    expect(response).toMatchObject({ allowed: false, status: { message: `injection failed: ${(result as { error: string }).error}` } });
  });

  it('answers with a JSON patch that produces the injected pod', () => {
    const pod = appPod();
    const response = injectAdmission(
      { uid: 'u', operation: 'CREATE', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', object: pod },
      () => ({ ok: true, settings: settings() }),
    );
    expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(response.patch!, 'base64').toString()) as Array<{ op: string; path: string; value: unknown }>;
    const applied = structuredClone(pod) as Pod & Record<string, unknown>;
    for (const op of ops) {
      const [, top, field] = op.path.split('/') as [string, 'metadata' | 'spec', string | undefined];
      if (field) (applied[top] as Record<string, unknown>)[field] = op.value;
      else applied[top] = op.value as never;
    }
    expect(applied).toEqual(injectSidecar(pod, 'shop', settings()));
    expect(podPatch(applied, applied)).toEqual([]);
  });
});

describe('injection selection', () => {
  it.each([
    ['a plain pod in an injected namespace', appPod(), true],
    ['a pod labelled sidecar.istio.io/inject=false', appPod({ labels: { 'sidecar.istio.io/inject': 'false' } }), false],
    ['a pod annotated sidecar.istio.io/inject: "false"', appPod({ annotations: { 'sidecar.istio.io/inject': 'false' } }), false],
    [
      'the label wins over the annotation',
      appPod({ labels: { 'sidecar.istio.io/inject': 'true' }, annotations: { 'sidecar.istio.io/inject': 'false' } }),
      true,
    ],
    ['an already injected pod', appPod({ annotations: { 'sidecar.istio.io/status': '{}' } }), false],
    ['a host network pod', { ...appPod(), spec: { ...appPod().spec, hostNetwork: true } }, false],
  ])('%s', (_name, pod, expected) => {
    expect(injectionRequired(pod, 'shop').inject).toBe(expected);
  });

  it("follows the injector's policy and never/always selectors (ConfigMap istio-sidecar-injector key config)", () => {
    const config = (text: string) => {
      const result = injectorConfigFrom({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'istio-sidecar-injector', namespace: 'istio-system' },
        data: { config: text },
      });
      if (!result.ok) throw new Error(result.error);
      return result.value;
    };
    const disabled = config('policy: disabled\nalwaysInjectSelector:\n- matchLabels: {tier: mesh}\n');
    expect(injectionRequired(appPod(), 'shop', disabled).inject).toBe(false);
    expect(injectionRequired(appPod({ labels: { 'sidecar.istio.io/inject': 'true' } }), 'shop', disabled).inject).toBe(true);
    expect(injectionRequired(appPod({ labels: { tier: 'mesh' } }), 'shop', disabled).inject).toBe(true);
    const never = config(
      'policy: enabled\nneverInjectSelector:\n- matchExpressions: [{key: job-name, operator: Exists}]\nalwaysInjectSelector:\n- matchLabels: {app: reviews}\n',
    );
    expect(injectionRequired(appPod({ labels: { 'job-name': 'x' } }), 'shop', never).inject).toBe(false);
    // An explicit choice beats both selectors.
    expect(injectionRequired(appPod({ labels: { 'job-name': 'x', 'sidecar.istio.io/inject': 'true' } }), 'shop', never).inject).toBe(true);
    expect(
      injectorConfigFrom({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'istio-sidecar-injector', namespace: 'istio-system' },
        data: { config: 'policy: sometimes\n' },
      }),
    ).toEqual({
      ok: false,
      error: 'ConfigMap istio-system/istio-sidecar-injector key config: policy: want enabled or disabled, got "sometimes"',
    });
  });

  it('admits pods that opt out even while the injector settings are broken', () => {
    const broken = () => ({ ok: false as const, error: 'ConfigMap istio-system/istio-sidecar-injector key values: invalid' });
    const request = (pod: Pod) => ({ uid: 'u', operation: 'CREATE', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'shop', object: pod });
    expect(injectAdmission(request(appPod({ labels: { 'sidecar.istio.io/inject': 'false' } })), broken)).toEqual({ uid: 'u', allowed: true });
    expect(injectAdmission(request(appPod()), broken).allowed).toBe(false);
  });

  it('never injects kube-system or istio-system, and leaves non-injected pods unpatched', () => {
    expect(injectionRequired(appPod(), 'kube-system').inject).toBe(false);
    const response = injectAdmission(
      {
        uid: 'u',
        operation: 'CREATE',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        namespace: 'shop',
        object: appPod({ labels: { 'sidecar.istio.io/inject': 'false' } }),
      },
      () => ({ ok: true, settings: settings() }),
    );
    expect(response).toEqual({ uid: 'u', allowed: true });
  });
});

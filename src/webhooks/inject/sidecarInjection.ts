// The injected pod, with istiod's facts (injection-template.yaml and
// pkg/kube/inject): the istio-init container with istio-iptables' arguments
// (or nothing for interception mode NONE), the istio-proxy container (or a
// native sidecar: an init container with restartPolicy Always), istiod's
// volumes, labels and annotations, and application probes routed through the
// agent. Pure: the same pod and settings always give the same result.
import { Annotation, InjectionError, PodAnnotations } from './annotations.js';
import type { InjectionValues, ProxyConfig } from './injectionValues.js';
import type { InjectorConfig } from './injectorConfig.js';
import type { Container, Json, Pod } from './podTypes.js';
import { rewriteAppProbes } from './probeRewrite.js';

export interface InjectionSettings {
  values: InjectionValues;
  /** Selection: policy and never/always selectors (ConfigMap istio-sidecar-injector key config). */
  injector: InjectorConfig;
  /** Mesh config defaultConfig (with istiod's discoveryAddress when unset). */
  proxyConfig: ProxyConfig;
  /** meshd's cluster id and trust domain, for what values leave empty. */
  clusterId: string;
  trustDomain: string;
  revision: string;
  /** Mesh config enablePrometheusMerge (istiod's default: true). */
  prometheusMerge: boolean;
  /** The API server's version (`1.25`) when known: native sidecars need 1.29 or later. */
  kubernetesVersion?: string | undefined;
}

/** Kubernetes runs init containers with restartPolicy Always as sidecars from 1.29 (beta, on by default). */
export function supportsNativeSidecars(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((p) => parseInt(p, 10));
  return major > 1 || (major === 1 && minor >= 29);
}

export const proxyContainerName = 'istio-proxy';
export const initContainerName = 'istio-init';
const proxyUid = 1337;

/** Where the pod's workload comes from, as istiod derives it (a ReplicaSet stands for its Deployment). */
export interface WorkloadRef {
  name: string;
  kind: string;
  apiVersion: string;
}

export function workloadOf(pod: Pod, namespace: string): WorkloadRef {
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller) ?? pod.metadata.ownerReferences?.[0];
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (owner?.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return { name: owner.name.slice(0, -hash.length - 1), kind: 'Deployment', apiVersion: 'apps/v1' };
  }
  if (owner?.kind === 'Job' && /-\d+$/.test(owner.name)) {
    // A CronJob's Jobs are named NAME-TIMESTAMP.
    return { name: owner.name.replace(/-\d+$/, ''), kind: 'CronJob', apiVersion: 'batch/v1' };
  }
  if (owner) return { name: owner.name, kind: owner.kind, apiVersion: owner.apiVersion };
  const name = pod.metadata.name || (pod.metadata.generateName ?? '').replace(/-$/, '') || `pod.${namespace}`;
  return { name, kind: 'Pod', apiVersion: 'v1' };
}

/** istiod's excludeInboundPort: the agent's status port joins the excluded inbound ports. */
function excludeInboundPort(statusPort: number, excluded: string): string {
  if (statusPort === 0) return excluded;
  const ports = excluded
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (ports.includes(String(statusPort))) return excluded;
  return [...ports, String(statusPort)].join(',');
}

function image(values: InjectionValues, name: string, override: string | undefined): string {
  const chosen = override ?? name;
  return chosen.includes('/') ? chosen : `${values.global.hub}/${chosen}:${values.global.tag}`;
}

function resourcesFor(annotations: PodAnnotations, values: InjectionValues): Json {
  const cpu = annotations.quantity(Annotation.proxyCPU);
  const memory = annotations.quantity(Annotation.proxyMemory);
  const cpuLimit = annotations.quantity(Annotation.proxyCPULimit);
  const memoryLimit = annotations.quantity(Annotation.proxyMemoryLimit);
  if (cpu === undefined && memory === undefined && cpuLimit === undefined && memoryLimit === undefined) return structuredClone(values.global.proxy.resources);
  const pick = (c: string | undefined, m: string | undefined): Json | undefined =>
    c === undefined && m === undefined ? undefined : { ...(c !== undefined ? { cpu: c } : {}), ...(m !== undefined ? { memory: m } : {}) };
  const requests = pick(cpu, memory);
  const limits = pick(cpuLimit, memoryLimit);
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}

const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

/**
 * istiod's injection templates meshd renders: `sidecar` (beside an application)
 * and `gateway` (the pod is the proxy: `proxy router`, no traffic capture, no
 * application probes, the status and metrics ports declared).
 */
export type InjectionTemplate = 'sidecar' | 'gateway';

/**
 * The pod with its sidecar. Throws InjectionError (AnnotationError for a malformed per-pod
 * override) rather than build a pod that cannot start. `workload` names the owner
 * when the pod is a template (kube-inject).
 */
export function injectSidecar(
  original: Pod,
  namespace: string,
  settings: InjectionSettings,
  workload: WorkloadRef = workloadOf(original, namespace),
  template: InjectionTemplate = 'sidecar',
): Pod {
  const router = template === 'gateway';
  const pod = structuredClone(original);
  const { values } = settings;
  const proxyValues = values.global.proxy;
  const annotations = new PodAnnotations(pod.metadata.annotations ?? {});

  const overrides = annotations.proxyConfig();
  const proxyConfig: ProxyConfig = { ...settings.proxyConfig, ...(overrides ?? {}) };
  const interceptionMode = annotations.interceptionMode(proxyConfig.interceptionMode ?? 'REDIRECT');
  const statusPort = annotations.integer(Annotation.statusPort, proxyValues.statusPort, 0, 65535);
  // A router is the pod's main container, never a native sidecar.
  const native = !router && annotations.boolean(Annotation.nativeSidecar, values.global.nativeSidecar);
  if (native && settings.kubernetesVersion && !supportsNativeSidecars(settings.kubernetesVersion)) {
    // An older API server drops restartPolicy: istio-proxy would be an init container that never ends.
    const asked = annotations.has(Annotation.nativeSidecar) ? `annotation ${Annotation.nativeSidecar}` : 'values global.nativeSidecar';
    throw new InjectionError(`${asked} asks for a native sidecar, which needs Kubernetes 1.29 or later; this API server is ${settings.kubernetesVersion}`);
  }
  const hold = !router && !native && (proxyConfig.holdApplicationUntilProxyStarts ?? proxyValues.holdApplicationUntilProxyStarts);
  const rewriteProbes = !router && annotations.boolean(Annotation.rewriteAppHTTPProbers, values.sidecarInjectorWebhook.rewriteAppHTTPProbe) && statusPort !== 0;
  const resources = resourcesFor(annotations, values);
  const proxyImage = image(values, proxyValues.image, annotations.has(Annotation.proxyImage) ? annotations.string(Annotation.proxyImage, '') : undefined);
  const pullPolicy = values.global.imagePullPolicy ? { imagePullPolicy: values.global.imagePullPolicy } : {};
  const proxyMetadataEnv = Object.entries(proxyConfig.proxyMetadata ?? {}).map(([name, value]) => ({ name, value }));
  const trustDomain = values.global.trustDomain || settings.trustDomain;
  const appContainers = pod.spec.containers.filter((c) => c.name !== proxyContainerName);

  const initContainers: Container[] = [];
  if (interceptionMode !== 'NONE' && !router) {
    const excludeInbound = excludeInboundPort(statusPort, annotations.ports(Annotation.excludeInboundPorts, proxyValues.excludeInboundPorts, false));
    const includeOutboundPorts = annotations.ports(Annotation.includeOutboundPorts, proxyValues.includeOutboundPorts, false);
    const excludeOutboundPorts = annotations.ports(Annotation.excludeOutboundPorts, proxyValues.excludeOutboundPorts, false);
    const args = [
      'istio-iptables',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      String(proxyUid),
      '-m',
      interceptionMode,
      '-i',
      annotations.cidrs(Annotation.includeOutboundIPRanges, proxyValues.includeIPRanges),
      '-x',
      annotations.cidrs(Annotation.excludeOutboundIPRanges, proxyValues.excludeIPRanges),
      '-b',
      annotations.ports(Annotation.includeInboundPorts, proxyValues.includeInboundPorts, true),
      '-d',
      excludeInbound ? `15090,15021,${excludeInbound}` : '15090,15021',
      ...(includeOutboundPorts ? ['-q', includeOutboundPorts] : []),
      ...(excludeOutboundPorts ? ['-o', excludeOutboundPorts] : []),
      ...(annotations.has(Annotation.kubevirtInterfaces) ? ['-k', annotations.string(Annotation.kubevirtInterfaces, '')] : []),
      ...(annotations.has(Annotation.excludeInterfaces) ? ['-c', annotations.string(Annotation.excludeInterfaces, '')] : []),
      `--log_output_level=${annotations.string(Annotation.agentLogLevel, values.global.logging.level)}`,
    ];
    initContainers.push({
      name: initContainerName,
      image: image(values, values.global.proxy_init.image, annotations.has(Annotation.proxyImage) ? annotations.string(Annotation.proxyImage, '') : undefined),
      args,
      ...pullPolicy,
      ...(proxyMetadataEnv.length > 0 ? { env: proxyMetadataEnv } : {}),
      resources: structuredClone(resources),
      securityContext: {
        allowPrivilegeEscalation: proxyValues.privileged,
        privileged: proxyValues.privileged,
        capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
        readOnlyRootFilesystem: false,
        runAsGroup: 0,
        runAsNonRoot: false,
        runAsUser: 0,
      },
    });
  }

  const rewritten = rewriteProbes ? rewriteAppProbes(pod.spec.containers, statusPort) : { containers: pod.spec.containers, probers: {} };
  const podPorts = appContainers.flatMap((c) => c.ports ?? []);
  const env: Container['env'] = [
    ...(values.global.jwtPolicy ? [{ name: 'JWT_POLICY', value: values.global.jwtPolicy }] : []),
    { name: 'PILOT_CERT_PROVIDER', value: values.global.pilotCertProvider },
    {
      name: 'CA_ADDR',
      value: values.global.caAddress || `istiod${settings.revision === 'default' ? '' : `-${settings.revision}`}.${values.global.istioNamespace}.svc:15012`,
    },
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('INSTANCE_IP', 'status.podIP'),
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldEnv('HOST_IP', 'status.hostIP'),
    { name: 'PROXY_CONFIG', value: JSON.stringify(proxyConfig) },
    { name: 'ISTIO_META_POD_PORTS', value: JSON.stringify(podPorts) },
    { name: 'ISTIO_META_APP_CONTAINERS', value: appContainers.map((c) => c.name).join(',') },
    { name: 'ISTIO_META_CLUSTER_ID', value: values.global.multiCluster.clusterName || settings.clusterId },
    { name: 'ISTIO_META_INTERCEPTION_MODE', value: interceptionMode },
    ...(values.global.network ? [{ name: 'ISTIO_META_NETWORK', value: values.global.network }] : []),
    { name: 'ISTIO_META_WORKLOAD_NAME', value: workload.name },
    { name: 'ISTIO_META_OWNER', value: `kubernetes://apis/${workload.apiVersion}/namespaces/${namespace}/${workload.kind.toLowerCase()}s/${workload.name}` },
    { name: 'ISTIO_META_MESH_ID', value: values.global.meshID || trustDomain },
    { name: 'TRUST_DOMAIN', value: trustDomain },
    ...(Object.keys(rewritten.probers).length > 0 ? [{ name: 'ISTIO_KUBE_APP_PROBERS', value: JSON.stringify(rewritten.probers) }] : []),
    ...proxyMetadataEnv,
  ];
  const readinessProbe =
    statusPort === 0
      ? {}
      : {
          readinessProbe: {
            httpGet: { path: '/healthz/ready', port: 15021 },
            initialDelaySeconds: annotations.integer(Annotation.readinessInitialDelaySeconds, proxyValues.readinessInitialDelaySeconds),
            periodSeconds: annotations.integer(Annotation.readinessPeriodSeconds, proxyValues.readinessPeriodSeconds, 1),
            timeoutSeconds: 3,
            failureThreshold: annotations.integer(Annotation.readinessFailureThreshold, proxyValues.readinessFailureThreshold, 1),
          },
        };
  const userMounts = Object.entries(annotations.jsonMap(Annotation.userVolumeMount)).map(([name, mount]) => ({ name, ...mount }));
  const userVolumes = Object.entries(annotations.jsonMap(Annotation.userVolume)).map(([name, volume]) => ({ name, ...volume }));
  const tproxy = interceptionMode === 'TPROXY';
  const proxy: Container = {
    name: proxyContainerName,
    image: proxyImage,
    ports: [
      ...(router && statusPort !== 0
        ? [
            { containerPort: statusPort, protocol: 'TCP', name: 'metrics' },
            { containerPort: 15021, protocol: 'TCP', name: 'status-port' },
          ]
        : []),
      { containerPort: 15090, protocol: 'TCP', name: 'http-envoy-prom' },
    ],
    args: [
      'proxy',
      router ? 'router' : 'sidecar',
      '--domain',
      `$(POD_NAMESPACE).svc.${proxyValues.clusterDomain}`,
      `--proxyLogLevel=${annotations.string(Annotation.logLevel, proxyValues.logLevel)}`,
      `--proxyComponentLogLevel=${annotations.string(Annotation.componentLogLevel, proxyValues.componentLogLevel)}`,
      `--log_output_level=${annotations.string(Annotation.agentLogLevel, values.global.logging.level)}`,
      ...(proxyConfig.concurrency ? ['--concurrency', String(proxyConfig.concurrency)] : []),
    ],
    ...(hold ? { lifecycle: { postStart: { exec: { command: ['pilot-agent', 'wait'] } } } } : {}),
    env,
    ...pullPolicy,
    ...readinessProbe,
    ...(native && statusPort !== 0
      ? {
          startupProbe: {
            httpGet: { path: '/healthz/ready', port: 15021 },
            initialDelaySeconds: 0,
            periodSeconds: 1,
            timeoutSeconds: 3,
            failureThreshold: 600,
          },
        }
      : {}),
    securityContext: {
      allowPrivilegeEscalation: proxyValues.privileged,
      capabilities: { ...(tproxy ? { add: ['NET_ADMIN'] } : {}), drop: ['ALL'] },
      privileged: proxyValues.privileged,
      readOnlyRootFilesystem: true,
      runAsGroup: proxyUid,
      runAsNonRoot: !tproxy,
      runAsUser: tproxy ? 0 : proxyUid,
    },
    resources,
    volumeMounts: [
      { name: 'workload-socket', mountPath: '/var/run/secrets/workload-spiffe-uds' },
      { name: 'credential-socket', mountPath: '/var/run/secrets/credential-uds' },
      { name: 'workload-certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' },
      ...(values.global.pilotCertProvider === 'istiod' ? [{ name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' }] : []),
      { name: 'istio-data', mountPath: '/var/lib/istio/data' },
      { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
      ...(values.global.jwtPolicy === 'third-party-jwt' ? [{ name: 'istio-token', mountPath: '/var/run/secrets/tokens' }] : []),
      { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
      ...userMounts,
    ],
    ...(native ? { restartPolicy: 'Always' } : {}),
  };

  const volumes: Json[] = [
    { name: 'workload-socket', emptyDir: {} },
    { name: 'credential-socket', emptyDir: {} },
    { name: 'workload-certs', emptyDir: {} },
    { name: 'istio-envoy', emptyDir: { medium: 'Memory' } },
    { name: 'istio-data', emptyDir: {} },
    {
      name: 'istio-podinfo',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    ...(values.global.jwtPolicy === 'third-party-jwt'
      ? [
          {
            name: 'istio-token',
            projected: { sources: [{ serviceAccountToken: { path: 'istio-token', expirationSeconds: 43200, audience: values.global.sds.token.aud } }] },
          },
        ]
      : []),
    ...(values.global.pilotCertProvider === 'istiod' ? [{ name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } }] : []),
    ...userVolumes,
  ];

  // istio-init runs first so the other init containers already have the redirect;
  // a native sidecar follows it, so they also have the proxy.
  const existingInit = pod.spec.initContainers ?? [];
  const appContainersAfter = rewritten.containers;
  pod.spec.initContainers = [...initContainers, ...(native ? [proxy] : []), ...existingInit];
  pod.spec.containers = native ? appContainersAfter : hold ? [proxy, ...appContainersAfter] : [...appContainersAfter, proxy];
  pod.spec.volumes = [...(pod.spec.volumes ?? []), ...volumes];
  if (values.global.imagePullSecrets.length > 0) {
    const existing = new Set((pod.spec.imagePullSecrets ?? []).map((s) => s.name));
    pod.spec.imagePullSecrets = [
      ...(pod.spec.imagePullSecrets ?? []),
      ...values.global.imagePullSecrets.filter((n) => !existing.has(n)).map((name) => ({ name })),
    ];
  }
  if (pod.spec.initContainers.length === 0) delete pod.spec.initContainers;

  const labels = { ...(pod.metadata.labels ?? {}) };
  labels['security.istio.io/tlsMode'] ??= 'istio';
  labels['service.istio.io/canonical-name'] ??= labels['app.kubernetes.io/name'] ?? labels.app ?? workload.name;
  labels['service.istio.io/canonical-revision'] ??= labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest';
  pod.metadata.labels = labels;

  const injectedInitContainers = [...initContainers.map((c) => c.name), ...(native ? [proxyContainerName] : [])];
  const injectedContainers = native ? [] : [proxyContainerName];
  const injectedVolumes = volumes.map((v) => String(v.name));
  const podAnnotations = { ...(pod.metadata.annotations ?? {}) };
  const firstApp = appContainers[0]?.name;
  if (firstApp) {
    podAnnotations['kubectl.kubernetes.io/default-logs-container'] ??= firstApp;
    podAnnotations['kubectl.kubernetes.io/default-container'] ??= firstApp;
  }
  if (settings.prometheusMerge && statusPort !== 0 && podAnnotations['prometheus.io/scrape'] !== 'false') {
    // The application's own scrape settings move to the agent, which merges both.
    const app = Object.fromEntries(
      ['scrape', 'path', 'port'].flatMap((k) => (podAnnotations[`prometheus.io/${k}`] !== undefined ? [[k, podAnnotations[`prometheus.io/${k}`]]] : [])),
    );
    if (Object.keys(app).length > 0) env.push({ name: 'ISTIO_PROMETHEUS_ANNOTATIONS', value: JSON.stringify(app) });
    podAnnotations['prometheus.io/port'] = String(statusPort);
    podAnnotations['prometheus.io/path'] = '/stats/prometheus';
    podAnnotations['prometheus.io/scrape'] = 'true';
  }
  podAnnotations[Annotation.status] = JSON.stringify({
    initContainers: injectedInitContainers.length > 0 ? injectedInitContainers : null,
    containers: injectedContainers.length > 0 ? injectedContainers : null,
    volumes: injectedVolumes,
    imagePullSecrets: values.global.imagePullSecrets.length > 0 ? values.global.imagePullSecrets : null,
    revision: settings.revision,
  });
  pod.metadata.annotations = podAnnotations;
  return pod;
}

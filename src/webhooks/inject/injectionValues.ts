// What the injected sidecar is built from, as istiod takes it: Helm-style
// values (ConfigMap istio-sidecar-injector, key `values`, JSON or YAML) over
// istiod's chart defaults, and the ProxyConfig of mesh config `defaultConfig`.
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../../model/kube.js';
import { readMeshConfigDocument } from '../../model/meshConfig.js';

export interface ResourceList {
  cpu?: string;
  memory?: string;
}

export interface InjectionValues {
  global: {
    hub: string;
    tag: string;
    imagePullPolicy: string;
    istioNamespace: string;
    jwtPolicy: string;
    pilotCertProvider: string;
    caAddress: string;
    meshID: string;
    network: string;
    trustDomain: string;
    /** Inject istio-proxy as a native sidecar (init container, restartPolicy Always; Kubernetes 1.29+). */
    nativeSidecar: boolean;
    imagePullSecrets: string[];
    sds: { token: { aud: string } };
    multiCluster: { clusterName: string };
    logging: { level: string };
    proxy: {
      image: string;
      clusterDomain: string;
      logLevel: string;
      componentLogLevel: string;
      statusPort: number;
      includeIPRanges: string;
      excludeIPRanges: string;
      includeInboundPorts: string;
      excludeInboundPorts: string;
      includeOutboundPorts: string;
      excludeOutboundPorts: string;
      readinessInitialDelaySeconds: number;
      readinessPeriodSeconds: number;
      readinessFailureThreshold: number;
      privileged: boolean;
      holdApplicationUntilProxyStarts: boolean;
      resources: { requests?: ResourceList; limits?: ResourceList };
    };
    proxy_init: { image: string };
  };
  sidecarInjectorWebhook: { rewriteAppHTTPProbe: boolean };
}

/** istiod's chart defaults (manifests/charts/istio-control/istio-discovery/values.yaml). */
export function defaultInjectionValues(): InjectionValues {
  return {
    global: {
      hub: 'docker.io/istio',
      tag: '1.24.0',
      imagePullPolicy: '',
      istioNamespace: 'istio-system',
      jwtPolicy: 'third-party-jwt',
      pilotCertProvider: 'istiod',
      caAddress: '',
      meshID: '',
      network: '',
      trustDomain: '',
      nativeSidecar: false,
      imagePullSecrets: [],
      sds: { token: { aud: 'istio-ca' } },
      multiCluster: { clusterName: '' },
      logging: { level: 'default:info' },
      proxy: {
        image: 'proxyv2',
        clusterDomain: 'cluster.local',
        logLevel: 'warning',
        componentLogLevel: 'misc:error',
        statusPort: 15020,
        includeIPRanges: '*',
        excludeIPRanges: '',
        includeInboundPorts: '*',
        excludeInboundPorts: '',
        includeOutboundPorts: '',
        excludeOutboundPorts: '',
        readinessInitialDelaySeconds: 0,
        readinessPeriodSeconds: 15,
        readinessFailureThreshold: 4,
        privileged: false,
        holdApplicationUntilProxyStarts: false,
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2000m', memory: '1024Mi' } },
      },
      proxy_init: { image: 'proxyv2' },
    },
    sidecarInjectorWebhook: { rewriteAppHTTPProbe: true },
  };
}

export const injectorConfigMapName = 'istio-sidecar-injector';
export const injectorValuesKey = 'values';

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `override` laid over `base`, field by field. Fields `base` does not have are
 * ignored (istio's values carry far more than injection reads); a field whose
 * type differs from the default is an error naming its path.
 */
function overlay(base: unknown, override: unknown, path: string, problems: string[]): unknown {
  if (override === undefined || override === null) return base;
  if (isRecord(base)) {
    if (!isRecord(override)) {
      problems.push(`${path}: must be a mapping`);
      return base;
    }
    // Resources are a free-form Kubernetes ResourceRequirements: given, it replaces the default.
    if (path.endsWith('.resources')) return override;
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) {
      if (key in base) out[key] = overlay(base[key], value, `${path}.${key}`, problems);
    }
    return out;
  }
  if (Array.isArray(base)) {
    if (!Array.isArray(override) || !override.every((v) => typeof v === 'string' || isRecord(v))) {
      problems.push(`${path}: must be a list`);
      return base;
    }
    // imagePullSecrets may be names or {name} objects.
    return override.map((v) => (isRecord(v) ? (typeof v.name === 'string' ? v.name : '') : v));
  }
  if (typeof base === 'number' && typeof override === 'string' && /^\d+$/.test(override)) return Number(override);
  if (typeof override !== typeof base) {
    problems.push(`${path}: must be a ${typeof base}, got ${JSON.stringify(override)}`);
    return base;
  }
  return override;
}

/** Values from the istio-sidecar-injector ConfigMap over the defaults. */
export function injectionValuesFrom(configMap: KubeObject | undefined): Parsed<InjectionValues> {
  const defaults = defaultInjectionValues();
  const text = isRecord(configMap?.data) ? configMap.data[injectorValuesKey] : undefined;
  if (text === undefined || text === '') return { ok: true, value: defaults };
  const where = `ConfigMap ${configMap?.metadata.namespace}/${injectorConfigMapName} key ${injectorValuesKey}`;
  let parsed: unknown;
  try {
    parsed = typeof text === 'string' ? parseYaml(text) : undefined;
  } catch (err) {
    return { ok: false, error: `${where}: invalid JSON/YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (parsed === null || parsed === undefined) return { ok: true, value: defaults };
  if (!isRecord(parsed)) return { ok: false, error: `${where}: must be a mapping of Helm values` };
  const problems: string[] = [];
  const value = overlay(defaults, parsed, 'values', problems) as InjectionValues;
  return problems.length > 0 ? { ok: false, error: `${where}: ${problems.join('; ')}` } : { ok: true, value };
}

/** ProxyConfig as pilot-agent reads it from PROXY_CONFIG (camelCase JSON of istio.mesh.v1alpha1.ProxyConfig). */
export type ProxyConfig = Record<string, unknown> & {
  discoveryAddress?: string;
  interceptionMode?: string;
  holdApplicationUntilProxyStarts?: boolean;
  proxyMetadata?: Record<string, string>;
  concurrency?: number;
};

/** ProxyConfig's fields (istio/api mesh/v1alpha1/proxy.proto): anything else would stop pilot-agent at start. */
export const proxyConfigFields = new Set([
  'configPath',
  'binaryPath',
  'serviceCluster',
  'drainDuration',
  'parentShutdownDuration',
  'discoveryAddress',
  'discoveryRefreshDelay',
  'zipkinAddress',
  'statsdUdpAddress',
  'envoyMetricsServiceAddress',
  'proxyAdminPort',
  'availabilityZone',
  'controlPlaneAuthPolicy',
  'customConfigFile',
  'statNameLength',
  'concurrency',
  'proxyBootstrapTemplatePath',
  'interceptionMode',
  'tracing',
  'sds',
  'envoyAccessLogService',
  'envoyMetricsService',
  'proxyMetadata',
  'runtimeValues',
  'statusPort',
  'extraStatTags',
  'gatewayTopology',
  'terminationDrainDuration',
  'meshId',
  'readinessProbe',
  'proxyStatsMatcher',
  'holdApplicationUntilProxyStarts',
  'caCertificatesPem',
  'image',
  'privateKeyProvider',
  'proxyHeaders',
  'fileFlushInterval',
  'fileFlushMinSizeKb',
  'tracingServiceName',
  'statsCompression',
]);

export const interceptionModes = ['REDIRECT', 'TPROXY', 'NONE'] as const;

/**
 * Problems with a ProxyConfig document, each naming the field. `strict` also
 * refuses fields ProxyConfig does not have (a pod annotation, as istiod parses
 * it); the mesh config's defaultConfig was already accepted by its owner.
 */
export function proxyConfigProblems(config: Record<string, unknown>, strict = true): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (!proxyConfigFields.has(key)) {
      if (strict) problems.push(`unknown ProxyConfig field ${JSON.stringify(key)}`);
      continue;
    }
    if (key === 'discoveryAddress' && (typeof value !== 'string' || !/^[^\s:]+:\d+$/.test(value)))
      problems.push(`discoveryAddress: want HOST:PORT, got ${JSON.stringify(value)}`);
    else if (key === 'interceptionMode' && !(interceptionModes as readonly unknown[]).includes(value))
      problems.push(`interceptionMode: want one of ${interceptionModes.join(', ')}, got ${JSON.stringify(value)}`);
    else if (key === 'holdApplicationUntilProxyStarts' && typeof value !== 'boolean') problems.push(`holdApplicationUntilProxyStarts: must be true or false`);
    else if (key === 'concurrency' && !(Number.isInteger(value) && (value as number) >= 0)) problems.push(`concurrency: must be a non-negative integer`);
    else if (key === 'proxyMetadata' && !(isRecord(value) && Object.values(value).every((v) => typeof v === 'string')))
      problems.push('proxyMetadata: must map names to strings');
  }
  return problems;
}

/** Mesh config `defaultConfig` (ConfigMap istio, key mesh), istiod's discoveryAddress when unset. */
export function meshProxyConfig(meshConfigMap: KubeObject | undefined, istioNamespace: string): Parsed<ProxyConfig> {
  const base: ProxyConfig = { discoveryAddress: `istiod.${istioNamespace}.svc:15012` };
  if (!meshConfigMap) return { ok: true, value: base };
  const document = readMeshConfigDocument(meshConfigMap);
  if (!document.ok) return { ok: false, error: `mesh config: ${document.error}` };
  const defaults = document.value.defaultConfig;
  if (defaults === undefined || defaults === null) return { ok: true, value: base };
  if (!isRecord(defaults)) return { ok: false, error: 'mesh config defaultConfig: must be a mapping (ProxyConfig)' };
  const problems = proxyConfigProblems(defaults, false);
  if (problems.length > 0) return { ok: false, error: `mesh config defaultConfig: ${problems.join('; ')}` };
  return { ok: true, value: { ...base, ...defaults } };
}

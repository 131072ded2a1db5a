// istiod's mesh configuration: ConfigMap `istio` in the system namespace,
// key `mesh`, a YAML MeshConfig. The model reads the fields generation needs;
// sources read their own (discoverySelectors) from the same document.
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from './kube.js';
import type { OutboundTrafficPolicyMode } from './istio.js';
import { arr, checkSchema, map, obj, oneOf, type Schema } from './validation/schema.js';

export const meshConfigMapName = 'istio';
export const meshConfigKey = 'mesh';

/** One named entry of `extensionProviders`: exactly one provider field set (zipkin, opentelemetry, envoyFileAccessLog, ...). */
export interface ExtensionProvider {
  readonly name: string;
  readonly [provider: string]: unknown;
}

export interface DefaultProviders {
  readonly tracing: readonly string[];
  readonly metrics: readonly string[];
  readonly accessLogging: readonly string[];
}

/** The MeshConfig fields meshd translates, with istiod's defaults filled in. */
export interface MeshConfig {
  readonly outboundTrafficPolicy: { readonly mode: OutboundTrafficPolicyMode };
  /** istiod's built-in providers (prometheus, stackdriver, envoy) with the configured ones merged in by name. */
  readonly extensionProviders: readonly ExtensionProvider[];
  readonly defaultProviders: DefaultProviders;
  readonly enableTracing: boolean;
  /** Legacy access logging for every proxy when no Telemetry (or default provider) configures it; '' is off. */
  readonly accessLogFile: string;
  readonly accessLogEncoding: 'TEXT' | 'JSON';
  readonly accessLogFormat: string;
  /** Leaves out the listener-level access logs (connections no filter chain matched). */
  readonly disableEnvoyListenerLog: boolean;
}

/** istiod's DefaultMeshConfig extension providers. */
const builtinExtensionProviders: readonly ExtensionProvider[] = [
  { name: 'prometheus', prometheus: {} },
  { name: 'stackdriver', stackdriver: {} },
  { name: 'envoy', envoyFileAccessLog: { path: '/dev/stdout' } },
];

export const defaultMeshConfig: MeshConfig = {
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
  extensionProviders: builtinExtensionProviders,
  defaultProviders: { tracing: [], metrics: [], accessLogging: [] },
  enableTracing: true,
  accessLogFile: '',
  accessLogEncoding: 'TEXT',
  accessLogFormat: '',
  disableEnvoyListenerLog: false,
};

/** The MeshConfig fields that only telemetry reads, as a comparable key (changes.ts). */
export function telemetryMeshKey(mesh: MeshConfig): string {
  const { outboundTrafficPolicy: _policy, ...telemetry } = mesh;
  return JSON.stringify(telemetry);
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The `mesh` document as a mapping; a missing key or an empty document is an empty mapping (all defaults). */
export function readMeshConfigDocument(configMap: KubeObject): Parsed<Record<string, unknown>> {
  const data = configMap.data;
  const text = data && typeof data === 'object' ? (data as Record<string, unknown>)[meshConfigKey] : undefined;
  if (text === undefined || text === null || text === '') return { ok: true, value: {} };
  if (typeof text !== 'string') return { ok: false, error: `data.${meshConfigKey}: must be a string holding YAML` };
  let mesh: unknown;
  try {
    mesh = parseYaml(text);
  } catch (error) {
    return { ok: false, error: `data.${meshConfigKey}: invalid YAML: ${(error as Error).message.split('\n')[0]}` };
  }
  if (mesh === null || mesh === undefined) return { ok: true, value: {} };
  if (typeof mesh !== 'object' || Array.isArray(mesh)) return { ok: false, error: `data.${meshConfigKey}: must be a YAML mapping (MeshConfig)` };
  return { ok: true, value: mesh as Record<string, unknown> };
}

const outboundTrafficPolicySchema = obj({ mode: oneOf('REGISTRY_ONLY', 'ALLOW_ANY') });
const header = obj({ name: 'string', value: 'string', envName: 'string' });
const clusterRef = { service: 'string', port: 'integer' } as const;
const grpcLog: Record<string, Schema> = { ...clusterRef, logName: 'string', filterStateObjectsToLog: arr('string') };
/** The providers meshd translates are checked field by field; the others are accepted as istiod stores them. */
const providerSchemas: Readonly<Record<string, Schema>> = {
  zipkin: obj({
    ...clusterRef,
    maxTagLength: 'integer',
    enable64bitTraceId: 'boolean',
    path: 'string',
    traceContextOption: oneOf('USE_B3', 'USE_B3_WITH_W3C_PROPAGATION'),
    timeout: 'duration',
    headers: arr(header),
  }),
  datadog: obj({ ...clusterRef, maxTagLength: 'integer' }),
  skywalking: obj({ ...clusterRef, accessToken: 'string' }),
  opentelemetry: obj({
    ...clusterRef,
    maxTagLength: 'integer',
    http: obj({ path: 'string', timeout: 'duration', headers: arr(header) }),
    grpc: obj({ timeout: 'duration', initialMetadata: arr(header) }),
    resourceDetectors: 'any',
    dynatraceSampler: 'any',
  }),
  envoyFileAccessLog: obj({ path: 'string', logFormat: obj({ text: 'string', labels: map('any') }), omitEmptyValues: 'boolean' }),
  envoyOtelAls: obj({ ...clusterRef, logName: 'string', logFormat: obj({ text: 'string', labels: map('any') }) }),
  envoyHttpAls: obj({
    ...grpcLog,
    additionalRequestHeadersToLog: arr('string'),
    additionalResponseHeadersToLog: arr('string'),
    additionalResponseTrailersToLog: arr('string'),
  }),
  envoyTcpAls: obj(grpcLog),
  envoyExtAuthzHttp: 'any',
  envoyExtAuthzGrpc: 'any',
  prometheus: 'any',
  stackdriver: 'any',
  lightstep: 'any',
  opencensus: 'any',
  sds: 'any',
};
const defaultProvidersSchema = obj({ tracing: arr('string'), metrics: arr('string'), accessLogging: arr('string') });

function readExtensionProviders(value: unknown, problems: string[]): ExtensionProvider[] {
  const merged = [...builtinExtensionProviders];
  if (value === undefined || value === null) return merged;
  if (!Array.isArray(value)) {
    problems.push('extensionProviders: must be a list');
    return merged;
  }
  value.forEach((entry: unknown, i) => {
    const path = `extensionProviders[${i}]`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`${path}: must be an object`);
      return;
    }
    const { name, ...rest } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') problems.push(`${path}.name: required`);
    const kinds = Object.keys(rest);
    for (const kind of kinds) {
      const schema = providerSchemas[kind];
      if (!schema) problems.push(`${path}.${kind}: unknown provider type`);
      else checkSchema(rest[kind], schema, `${path}.${kind}`, problems);
    }
    if (kinds.length !== 1) problems.push(`${path}: exactly one provider type must be set, got ${kinds.length}`);
    if (typeof name !== 'string') return;
    // istiod's ApplyMeshConfig: a provider named like a built-in one replaces its settings.
    const provider = entry as ExtensionProvider;
    const at = merged.findIndex((p) => p.name === name);
    if (at >= 0) merged[at] = provider;
    else merged.push(provider);
  });
  const names = new Set<string>();
  for (const { name } of merged) {
    if (names.has(name)) problems.push(`extensionProviders: duplicate provider name ${JSON.stringify(name)}`);
    names.add(name);
  }
  return merged;
}

function readTelemetryFields(document: Record<string, unknown>, problems: string[]): Omit<MeshConfig, 'outboundTrafficPolicy'> {
  checkSchema(document.defaultProviders, defaultProvidersSchema, 'defaultProviders', problems);
  checkSchema(document.enableTracing, 'boolean', 'enableTracing', problems);
  checkSchema(document.accessLogFile, 'string', 'accessLogFile', problems);
  checkSchema(document.accessLogEncoding, oneOf('TEXT', 'JSON'), 'accessLogEncoding', problems);
  checkSchema(document.accessLogFormat, 'string', 'accessLogFormat', problems);
  checkSchema(document.disableEnvoyListenerLog, 'boolean', 'disableEnvoyListenerLog', problems);
  const defaults = (document.defaultProviders ?? {}) as Partial<Record<keyof DefaultProviders, string[]>>;
  return {
    extensionProviders: readExtensionProviders(document.extensionProviders, problems),
    defaultProviders: { tracing: defaults.tracing ?? [], metrics: defaults.metrics ?? [], accessLogging: defaults.accessLogging ?? [] },
    enableTracing: (document.enableTracing as boolean | undefined) ?? defaultMeshConfig.enableTracing,
    accessLogFile: (document.accessLogFile as string | undefined) ?? '',
    accessLogEncoding: (document.accessLogEncoding as 'TEXT' | 'JSON' | undefined) ?? 'TEXT',
    accessLogFormat: (document.accessLogFormat as string | undefined) ?? '',
    disableEnvoyListenerLog: (document.disableEnvoyListenerLog as boolean | undefined) ?? false,
  };
}

export function parseMeshConfig(configMap: KubeObject): Parsed<MeshConfig> {
  const document = readMeshConfigDocument(configMap);
  if (!document.ok) return document;
  const policy = document.value.outboundTrafficPolicy as { mode?: OutboundTrafficPolicyMode } | undefined;
  const problems: string[] = [];
  checkSchema(policy, outboundTrafficPolicySchema, 'outboundTrafficPolicy', problems);
  const telemetry = readTelemetryFields(document.value, problems);
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  // MeshConfig fields replace the defaults whole (istiod's ApplyMeshConfig): a policy without mode is the proto's zero value.
  const outboundTrafficPolicy = policy ? { mode: policy.mode ?? 'REGISTRY_ONLY' } : defaultMeshConfig.outboundTrafficPolicy;
  return { ok: true, value: { outboundTrafficPolicy, ...telemetry } };
}

/** Validation of ConfigMaps: the mesh configuration must parse; every other ConfigMap is accepted as is. */
export function meshConfigMapProblems(configMap: KubeObject): string[] {
  if (configMap.metadata.name !== meshConfigMapName) return [];
  const parsed = parseMeshConfig(configMap);
  return parsed.ok ? [] : [parsed.error];
}

/**
 * The mesh configuration in force: the ConfigMap in `systemNamespace`, or istiod's defaults without one.
 * `snapshot` is a ModelSnapshot, typed by shape: kinds.ts imports this module, so it cannot import meshModel.ts.
 */
export function meshConfigOf(snapshot: ReadonlyMap<string, ReadonlyMap<string, { readonly object: KubeObject }>>, systemNamespace: string): MeshConfig {
  const stored = snapshot.get('ConfigMap')?.get(`${systemNamespace}/${meshConfigMapName}`);
  if (!stored) return defaultMeshConfig;
  const parsed = parseMeshConfig(stored.object);
  // Invalid versions never reach the model; defaults are only a guard.
  return parsed.ok ? parsed.value : defaultMeshConfig;
}

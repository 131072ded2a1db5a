// Which Telemetry applies to a proxy and what it merges to, as istiod's
// Telemetries does: the root namespace's namespace-wide Telemetry, then the
// proxy namespace's, then every one of its namespace selecting the workload
// (selector for sidecars, targetRefs naming the Gateway for gateway
// proxies), each later one overriding. Tracing yields one spec per mode
// (CLIENT: outbound, SERVER: inbound); access logging a provider list per
// mode, or undefined when neither Telemetry nor a default provider
// configures it (then the mesh config's accessLogFile applies); metrics the
// per-provider overrides of each mode (istiod's mergeMetrics).
import type { ExtensionProvider, MeshConfig } from '../model/meshConfig.js';
import type { Proxy } from '../model/proxy.js';
import type {
  MetricsOverride,
  ProviderRef,
  TelemetryAccessLogging,
  TelemetryCustomTag,
  TelemetryMetrics,
  TelemetrySpec,
  TelemetryTracing,
  WorkloadMode,
} from '../model/telemetry.js';
import { labelsMatch } from './hosts.js';
import type { ConfigEntry, PushContext } from './pushContext.js';

export type TelemetryMode = 'CLIENT' | 'SERVER';

export interface TracingSpec {
  /** Undefined (and `disabled`) when no provider is named or the name is not in extensionProviders. */
  readonly provider?: ExtensionProvider;
  readonly disabled: boolean;
  readonly randomSamplingPercentage?: number;
  readonly customTags?: Readonly<Record<string, TelemetryCustomTag>>;
  readonly useRequestIdForTraceSampling: boolean;
  readonly enableIstioTags: boolean;
}

export interface LoggingSpec {
  readonly provider: ExtensionProvider;
  readonly disabled: boolean;
  /** CEL filter expression. */
  readonly filter?: string;
}

export interface TagOverrideSpec {
  readonly name: string;
  readonly remove: boolean;
  /** A CEL expression (UPSERT); '' when removed. */
  readonly value: string;
}

export interface MetricOverrideSpec {
  /** An IstioMetric name (REQUEST_COUNT, ...) or a custom metric's name. */
  readonly name: string;
  readonly disabled: boolean;
  /** Sorted by name. */
  readonly tags: readonly TagOverrideSpec[];
}

export interface MetricsModeSpec {
  /** ALL_METRICS disabled for this mode: the provider adds no filter there. */
  readonly disabled: boolean;
  /** Sorted by metric name. */
  readonly overrides: readonly MetricOverrideSpec[];
}

export interface MetricsSpec {
  readonly provider: ExtensionProvider;
  readonly modes: Readonly<Record<TelemetryMode, MetricsModeSpec>>;
  /** The last `reportingInterval` naming this provider (a duration string). */
  readonly reportingInterval?: string;
}

export interface ProxyTelemetry {
  /** Telemetry objects that apply, root namespace first (namespace/name). */
  readonly applied: readonly string[];
  readonly tracing?: Readonly<Record<TelemetryMode, TracingSpec>>;
  readonly accessLogging?: Readonly<Record<TelemetryMode, readonly LoggingSpec[]>>;
  /** Metrics providers in scope, sorted by name; undefined when none. */
  readonly metrics?: readonly MetricsSpec[];
}

type TelemetryEntry = ConfigEntry<TelemetrySpec>;

const isNamespaceWide = (t: TelemetryEntry): boolean =>
  Object.keys(t.spec.selector?.matchLabels ?? {}).length === 0 && !t.spec.targetRef && (t.spec.targetRefs?.length ?? 0) === 0;

/** Gateway API gateways label their deployment with the Gateway's name; Telemetry targetRefs attach to them. */
const gatewayNameLabel = 'gateway.networking.k8s.io/gateway-name';

function selects(t: TelemetryEntry, proxy: Pick<Proxy, 'type' | 'labels'>): boolean {
  const matchLabels = t.spec.selector?.matchLabels ?? {};
  if (Object.keys(matchLabels).length > 0) return labelsMatch(matchLabels, proxy.labels);
  const refs = [...(t.spec.targetRef ? [t.spec.targetRef] : []), ...(t.spec.targetRefs ?? [])];
  // Sidecars ignore targetRefs policies (istiod attaches them to gateways and waypoints only).
  const gateway = proxy.type === 'router' ? proxy.labels[gatewayNameLabel] : undefined;
  return gateway !== undefined && refs.some((r) => r.kind === 'Gateway' && r.name === gateway && (r.namespace === undefined || r.namespace === t.namespace));
}

/** The Telemetry objects that apply to a proxy, in merge order (later overrides). */
export function applicableTelemetries(
  telemetries: readonly TelemetryEntry[],
  rootNamespace: string,
  proxy: Pick<Proxy, 'type' | 'namespace' | 'labels'>,
): TelemetryEntry[] {
  const applied: TelemetryEntry[] = [];
  const root = telemetries.find((t) => t.namespace === rootNamespace && isNamespaceWide(t));
  if (root) applied.push(root);
  if (proxy.namespace !== rootNamespace) {
    const namespaceWide = telemetries.find((t) => t.namespace === proxy.namespace && isNamespaceWide(t));
    if (namespaceWide) applied.push(namespaceWide);
  }
  for (const t of telemetries) if (t.namespace === proxy.namespace && !isNamespaceWide(t) && selects(t, proxy)) applied.push(t);
  return applied;
}

/** The extension provider of that name (istiod compares names case-insensitively). */
export function findProvider(mesh: MeshConfig, name: string): ExtensionProvider | undefined {
  const lower = name.toLowerCase();
  return mesh.extensionProviders.find((p) => p.name.toLowerCase() === lower);
}

const providerNames = (refs: readonly ProviderRef[] | undefined): string[] => (refs ?? []).map((r) => r.name);

export function mergeTracing(tracing: readonly TelemetryTracing[], mesh: MeshConfig): Record<TelemetryMode, TracingSpec> | undefined {
  const defaults = mesh.defaultProviders.tracing;
  if (tracing.length === 0 && defaults.length === 0) return undefined;
  type Mutable = { -readonly [K in keyof TracingSpec]: TracingSpec[K] };
  const initial = (): Mutable => ({
    disabled: false,
    useRequestIdForTraceSampling: true,
    enableIstioTags: true,
    ...(defaults.length > 0 ? { provider: findProvider(mesh, defaults[0]!) } : {}),
  });
  const specs: Record<TelemetryMode, Mutable> = { CLIENT: initial(), SERVER: initial() };
  for (const t of tracing) {
    const targets = modes(t.match?.mode).map((m) => specs[m]);
    const names = providerNames(t.providers);
    // One provider per mode: istiod takes the first named.
    if (names.length > 0) for (const s of targets) s.provider = findProvider(mesh, names[0]!);
    for (const s of targets) {
      if (t.disableSpanReporting !== undefined) s.disabled = t.disableSpanReporting;
      if (t.customTags !== undefined) s.customTags = t.customTags;
      if (t.randomSamplingPercentage !== undefined) s.randomSamplingPercentage = t.randomSamplingPercentage;
      if (t.useRequestIdForTraceSampling !== undefined) s.useRequestIdForTraceSampling = t.useRequestIdForTraceSampling;
      if (t.enableIstioTags !== undefined) s.enableIstioTags = t.enableIstioTags;
    }
  }
  for (const s of Object.values(specs)) if (!s.provider) s.disabled = true;
  return specs;
}

function modes(mode: WorkloadMode | undefined): TelemetryMode[] {
  return mode === 'CLIENT' ? ['CLIENT'] : mode === 'SERVER' ? ['SERVER'] : ['CLIENT', 'SERVER'];
}

const matchesMode = (logging: TelemetryAccessLogging, mode: TelemetryMode): boolean => modes(logging.match?.mode).includes(mode);

/**
 * Access-log providers of one mode, by istiod's mergeLogs: the last level
 * naming providers decides which are in scope; entries without providers
 * inherit the previous entry's; `disabled` turns a provider off.
 */
export function mergeAccessLogging(levels: readonly (readonly TelemetryAccessLogging[])[], mesh: MeshConfig, mode: TelemetryMode): LoggingSpec[] {
  const defaults = mesh.defaultProviders.accessLogging;
  const merged = new Map<string, { disabled: boolean; filter?: string }>();
  if (levels.length === 0) {
    for (const name of defaults) merged.set(name, { disabled: false });
  } else {
    let inScope: readonly string[] = defaults;
    const filters = new Map<string, string | undefined>();
    for (const level of levels) {
      const names = new Set<string>();
      for (const logging of level) {
        if (!matchesMode(logging, mode)) continue;
        for (const name of providerNames(logging.providers)) {
          names.add(name);
          filters.set(name, logging.filter?.expression);
        }
      }
      if (names.size > 0) inScope = [...names];
    }
    let parent: readonly string[] = defaults;
    for (const level of levels) {
      for (const logging of level) {
        const named = providerNames(logging.providers);
        const names = named.length > 0 ? named : parent;
        parent = names;
        for (const name of names) {
          if (!inScope.includes(name) || !matchesMode(logging, mode)) continue;
          if (logging.disabled) merged.set(name, { disabled: true });
          else {
            const filter = filters.get(name);
            merged.set(name, filter !== undefined ? { disabled: false, filter } : { disabled: false });
          }
        }
      }
    }
  }
  const specs: LoggingSpec[] = [];
  for (const [name, { disabled, filter }] of merged) {
    const provider = findProvider(mesh, name);
    if (provider) specs.push({ provider, disabled, ...(filter !== undefined ? { filter } : {}) });
  }
  return specs.sort((a, b) => (a.provider.name < b.provider.name ? -1 : a.provider.name > b.provider.name ? 1 : 0));
}

/** Istio's standard metrics (MetricSelector.IstioMetric without ALL_METRICS), sorted. */
export const istioMetrics: readonly string[] = [
  'GRPC_REQUEST_MESSAGES',
  'GRPC_RESPONSE_MESSAGES',
  'REQUEST_COUNT',
  'REQUEST_DURATION',
  'REQUEST_SIZE',
  'RESPONSE_SIZE',
  'TCP_CLOSED_CONNECTIONS',
  'TCP_OPENED_CONNECTIONS',
  'TCP_RECEIVED_BYTES',
  'TCP_SENT_BYTES',
];

/** An override without a metric (or with ALL_METRICS) selects all of them; istiod's isAllMetrics. */
const selectsAllMetrics = (o: MetricsOverride): boolean =>
  o.match?.customMetric === undefined && (o.match?.metric === undefined || o.match.metric === 'ALL_METRICS');

function matchedMetrics(o: MetricsOverride): readonly string[] {
  if (o.match?.customMetric !== undefined) return [o.match.customMetric];
  return o.match?.metric === undefined || o.match.metric === 'ALL_METRICS' ? istioMetrics : [o.match.metric];
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Metrics providers and their overrides per mode, by istiod's mergeMetrics:
 * the last entry naming providers decides which are in scope (default
 * providers otherwise); entries without providers apply to the previous
 * entry's; overrides merge metric by metric, later ones winning per field and
 * per tag; disabling ALL_METRICS (or an override without a metric) drops the
 * provider's filter for the matched modes until a later override of that mode.
 */
export function mergeMetrics(metrics: readonly TelemetryMetrics[], mesh: MeshConfig): MetricsSpec[] {
  type Override = { disabled?: boolean; tags: Map<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }> };
  const defaults = mesh.defaultProviders.metrics;
  const providers = new Map<string, Record<TelemetryMode, Map<string, Override>>>();
  const fresh = (): Record<TelemetryMode, Map<string, Override>> => ({ CLIENT: new Map(), SERVER: new Map() });
  if (metrics.length === 0) for (const name of defaults) providers.set(name, fresh());
  let inScope: readonly string[] = defaults;
  for (const m of metrics) if (providerNames(m.providers).length > 0) inScope = providerNames(m.providers);
  let parent: readonly string[] = defaults;
  const disabledAll = new Set<string>();
  const intervals = new Map<string, string>();
  for (const m of metrics) {
    const named = providerNames(m.providers);
    const names = named.length > 0 ? named : parent;
    parent = names;
    for (const provider of names) {
      if (!inScope.includes(provider)) continue;
      if (m.reportingInterval !== undefined) intervals.set(provider, m.reportingInterval);
      let byMode = providers.get(provider);
      if (!byMode) providers.set(provider, (byMode = fresh()));
      for (const o of m.overrides ?? []) {
        const targets = modes(o.match?.mode);
        if (selectsAllMetrics(o) && o.disabled === true) {
          for (const mode of targets) disabledAll.add(`${provider}/${mode}`);
          continue;
        }
        for (const mode of targets) {
          disabledAll.delete(`${provider}/${mode}`);
          for (const metric of matchedMetrics(o)) {
            const override: Override = byMode[mode].get(metric) ?? { tags: new Map() };
            if (o.disabled !== undefined) override.disabled = o.disabled;
            for (const [tag, value] of Object.entries(o.tagOverrides ?? {})) override.tags.set(tag, value);
            byMode[mode].set(metric, override);
          }
        }
      }
    }
  }
  const specs: MetricsSpec[] = [];
  for (const [name, byMode] of providers) {
    const provider = findProvider(mesh, name);
    if (!provider) continue;
    const side = (mode: TelemetryMode): MetricsModeSpec => {
      if (disabledAll.has(`${name}/${mode}`)) return { disabled: true, overrides: [] };
      const overrides = [...byMode[mode]].map(([metric, o]) => ({
        name: metric,
        disabled: o.disabled ?? false,
        tags: [...o.tags]
          .map(([tag, t]) => (t.operation === 'REMOVE' ? { name: tag, remove: true, value: '' } : { name: tag, remove: false, value: t.value ?? '' }))
          .sort(byName),
      }));
      return { disabled: false, overrides: overrides.sort(byName) };
    };
    const interval = intervals.get(name);
    specs.push({ provider, modes: { CLIENT: side('CLIENT'), SERVER: side('SERVER') }, ...(interval !== undefined ? { reportingInterval: interval } : {}) });
  }
  return specs.sort((a, b) => byName(a.provider, b.provider));
}

/** The merged Telemetry of one proxy; an empty `applied` with no tracing or access logging means none applies. */
export function proxyTelemetry(context: PushContext, proxy: Pick<Proxy, 'type' | 'namespace' | 'labels'>): ProxyTelemetry {
  const mesh = context.meshConfig;
  const applied = applicableTelemetries(context.telemetries, context.options.rootNamespace, proxy);
  const tracing = mergeTracing(
    applied.flatMap((t) => t.spec.tracing ?? []),
    mesh,
  );
  const levels = applied.map((t) => t.spec.accessLogging ?? []).filter((l) => l.length > 0);
  const logged = levels.length > 0 || mesh.defaultProviders.accessLogging.length > 0;
  const metrics = mergeMetrics(
    applied.flatMap((t) => t.spec.metrics ?? []),
    mesh,
  );
  return {
    applied: applied.map((t) => `${t.namespace}/${t.name}`),
    ...(metrics.length > 0 ? { metrics } : {}),
    ...(tracing ? { tracing } : {}),
    ...(logged ? { accessLogging: { CLIENT: mergeAccessLogging(levels, mesh, 'CLIENT'), SERVER: mergeAccessLogging(levels, mesh, 'SERVER') } } : {}),
  };
}

export type ClusterLookup = { ok: true; hostname: string; cluster: string } | { ok: false; error: string };

/**
 * The outbound cluster of a provider's `service` (`HOST` or `NAMESPACE/HOST`)
 * and port, as istiod's LookupCluster: the service must be in the registry
 * (in that namespace, when one is given).
 */
export function lookupCluster(context: PushContext, service: unknown, port: unknown): ClusterLookup {
  if (typeof service !== 'string' || service === '') return { ok: false, error: 'service must not be empty' };
  if (typeof port !== 'number' || port <= 0) return { ok: false, error: 'port must be a positive number' };
  const slash = service.indexOf('/');
  const namespace = slash >= 0 ? service.slice(0, slash) : undefined;
  // meshd's registry holds one service per hostname, so a bare host is never ambiguous.
  const found = context.service(slash >= 0 ? service.slice(slash + 1) : service);
  if (!found || (namespace !== undefined && found.namespace !== namespace))
    return { ok: false, error: `could not find service ${service} in the service registry` };
  return { ok: true, hostname: found.hostname, cluster: `outbound|${port}||${found.hostname}` };
}

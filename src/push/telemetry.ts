// Which Telemetry applies to a proxy and what it merges to, as istiod's
// Telemetries does: the root namespace's namespace-wide Telemetry, then the
// proxy namespace's, then every one of its namespace selecting the workload
// (selector for sidecars, targetRefs naming the Gateway for gateway
// proxies), each later one overriding. Tracing yields one spec per mode
// (CLIENT: outbound, SERVER: inbound); access logging a provider list per
// mode, or undefined when neither Telemetry nor a default provider
// configures it (then the mesh config's accessLogFile applies).
import type { ExtensionProvider, MeshConfig } from '../model/meshConfig.js';
import type { Proxy } from '../model/proxy.js';
import type { ProviderRef, TelemetryAccessLogging, TelemetryCustomTag, TelemetrySpec, TelemetryTracing, WorkloadMode } from '../model/telemetry.js';
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

export interface ProxyTelemetry {
  /** Telemetry objects that apply, root namespace first (namespace/name). */
  readonly applied: readonly string[];
  readonly tracing?: Readonly<Record<TelemetryMode, TracingSpec>>;
  readonly accessLogging?: Readonly<Record<TelemetryMode, readonly LoggingSpec[]>>;
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

/** The merged Telemetry of one proxy; an empty `applied` with no tracing or access logging means none applies. */
export function proxyTelemetry(context: PushContext, proxy: Pick<Proxy, 'type' | 'namespace' | 'labels'>): ProxyTelemetry {
  const mesh = context.meshConfig;
  const applied = applicableTelemetries(context.telemetries, context.options.rootNamespace, proxy);
  const tracing = mergeTracing(applied.flatMap((t) => t.spec.tracing ?? []), mesh);
  const levels = applied.map((t) => t.spec.accessLogging ?? []).filter((l) => l.length > 0);
  const logged = levels.length > 0 || mesh.defaultProviders.accessLogging.length > 0;
  return {
    applied: applied.map((t) => `${t.namespace}/${t.name}`),
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
  if (!found || (namespace !== undefined && found.namespace !== namespace)) return { ok: false, error: `could not find service ${service} in the service registry` };
  return { ok: true, hostname: found.hostname, cluster: `outbound|${port}||${found.hostname}` };
}

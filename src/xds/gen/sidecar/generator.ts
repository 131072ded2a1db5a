// The Envoy sidecar generator: CDS, EDS, LDS and RDS for one proxy, read from
// the push context pinned to the push request. Results are cached per configuration scope (and
// per inbound port set) in the push context, so proxies that share a scope
// share the very same arrays; encoding is once per distinct content, so
// scopes share the bytes of what they have in common (see ../cache.ts).
import type { Proxy } from '../../../model/proxy.js';
import type { ProxyScope, PushContext, ServiceTarget } from '../../../push/pushContext.js';
import { TypeUrl, encodeResource, type XdsResource } from '../../resource.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from '../../server/types.js';
import { encodeShared, memo } from '../cache.js';
import { perNameSet } from '../perNameSet.js';
import { memoBuilt, type CacheEntry } from '../../../push/contextCache.js';
import {
  edsClusterNamesEntry,
  inboundClustersEntry,
  inboundListenersEntry,
  jwksClustersEntry,
  meshSecurityPoliciesEntry,
  outboundListenersEntry,
  proxyViewsEntry,
  routeConfigurationEntry,
  routeConfigurationKey,
  routeNamesEntry,
  routeSourceLabelsEntry,
  scopeClustersEntry,
  scopeEndpointsEntry,
  scopeRoutesEntry,
  scopeServiceEndpointsEntry,
  sidecarClustersEntry,
  sidecarListenersEntry,
  wellKnownClustersEntry,
  workloadSecurityEntry,
} from '../cacheKeys.js';
import { inboundClusters, outboundClusters, serviceClusters, serviceClustersEntryFor, wellKnownClusters } from './clusters.js';
import { planClusterLoadAssignment, planLoadAssignment, proxyEndpointsKey, type EdsCluster, type LoadAssignmentPlan } from './endpoints.js';
import { absentLoadAssignment, namedLoadAssignments } from './namedEndpoints.js';
import { outboundClusterName } from '../common/names.js';
import { inboundListeners, outboundListeners, virtualOutboundListener } from './listeners.js';
import { proxyHcmTelemetry, withListenerTelemetry, type ProxyHcmTelemetry } from '../common/telemetry.js';
import { buildNamedRouteConfiguration, routeNames, scopeUsesSourceLabels } from './routes.js';
import type { Json } from '../common/json.js';
import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from '../../../proto/envoyTypes.generated.js';
import { contentVersion } from '../../resource.js';
import type { Logger } from 'pino';
import { proxyEnvoyFilters, type EnvoyFilterPatch, type ProxyEnvoyFilters } from '../../../push/envoyFilters.js';
import { patchClusters } from '../common/envoyFilterClusters.js';
import { patchListeners } from '../common/envoyFilterListeners.js';
import { encodePatched, envoyFilterKey, hasPatches, listenerApplyTo, reportUnmatched, routeApplyTo } from '../common/envoyFilterOutput.js';
import { patchRouteConfiguration } from '../common/envoyFilterRoutes.js';
import { jwksCluster, meshSecurityPolicies, workloadSecurity, type WorkloadSecurity } from '../../../security/index.js';

/** Encodes built (typed) or EnvoyFilter-patched (untyped) resources. */
const encodeAll = (context: PushContext, typeUrl: string, resources: readonly Json[]): XdsResource[] =>
  resources.map((r) => encodeShared(context, typeUrl, r.name as string, r));

function inboundKey(targets: readonly ServiceTarget[], proxy: Proxy): string {
  const ports = targets.map((t) => `${t.targetPort}:${t.port.protocol}:${t.service.hostname}:${t.port.port}`).join(',');
  // Sidecar ingress and inbound connection pools shape the output too, and ingress chain names and endpoints use the proxy's IPs.
  const custom = targets.filter((t) => t.sidecarIngress || t.connectionPool);
  if (custom.length === 0) return ports;
  return `${ports}|${JSON.stringify(custom.map((t) => [t.targetPort, t.sidecarIngress, t.connectionPool]))}|${proxy.ipAddresses.join(',')}`;
}

/**
 * The workload's inbound security (mTLS modes, jwt_authn/RBAC filters), with
 * a key equal for workloads whose security is the same, so they share the
 * inbound listener. Computed once per namespace and label set per context.
 */
export function proxySecurity(context: PushContext, proxy: Proxy): { key: string; security: WorkloadSecurity } {
  const policies = memo(context, meshSecurityPoliciesEntry, () => meshSecurityPolicies(context.snapshot, context.options.rootNamespace));
  const labels = JSON.stringify(Object.entries(proxy.labels).sort());
  return memo(context, workloadSecurityEntry(proxy.namespace, labels), () => {
    const security = workloadSecurity(policies, { namespace: proxy.namespace, labels: proxy.labels });
    const json = JSON.stringify(security, (_k, v: unknown) => (v instanceof Map ? [...v] : v));
    return { security, key: contentVersion(Buffer.from(json)) };
  });
}

/** A scope's outbound clusters, built and encoded once per service port and DestinationRule for all scopes. */
export function encodedOutboundClusters(context: PushContext, scope: ProxyScope): XdsResource[] {
  const clusters: XdsResource[] = [];
  for (const service of scope.services) {
    for (const port of service.ports) {
      clusters.push(
        ...memo(context, serviceClustersEntryFor(context, scope, service, port), () =>
          encodeAll(context, TypeUrl.Cluster, serviceClusters(context, scope, service, port)),
        ),
      );
    }
  }
  return clusters;
}

/** Clusters for remote JWKS hosts the mesh has no cluster for (one per host and port). */
function jwksClusters(security: WorkloadSecurity, existing: ReadonlySet<string>): Cluster[] {
  const byName = new Map<string, Cluster>();
  for (const uri of security.jwksUris) {
    const cluster = jwksCluster(uri);
    if (!existing.has(cluster.name as string)) byName.set(cluster.name as string, cluster);
  }
  return [...byName.values()];
}

function allIn(names: ReadonlySet<string>, available: ReadonlySet<string>): boolean {
  for (const name of names) if (!available.has(name)) return false;
  return true;
}

function selectNames(resources: readonly XdsResource[], watched: WatchedResource): readonly XdsResource[] {
  if (watched.wildcard) return resources;
  return resources.filter((r) => watched.names.has(r.name));
}

/**
 * What the four types of one proxy share in one push context: its scope,
 * inbound ports, security and the cache keys derived from them. A push asks
 * for each type in turn, so this is worked out once per proxy and context.
 */
interface ProxyView {
  readonly scope: ProxyScope;
  readonly targets: readonly ServiceTarget[];
  readonly inboundPorts: string;
  readonly security: { key: string; security: WorkloadSecurity };
  /** Tracing and access logs from Telemetry; key '' when none. */
  readonly telemetry: ProxyHcmTelemetry;
  /** EnvoyFilter patches; key '' when none. */
  readonly envoyFilters: ProxyEnvoyFilters;
}

/** A sidecar's clusters are inbound (`inbound|…`) or outbound for EnvoyFilter contexts. */
const clusterContext = (cluster: Json): 'SIDECAR_INBOUND' | 'SIDECAR_OUTBOUND' =>
  String(cluster.name).startsWith('inbound|') ? 'SIDECAR_INBOUND' : 'SIDECAR_OUTBOUND';
const clusterApplyTo = ['CLUSTER'] as const;

/** Kept in the context (which a proxy must not keep alive) and weakly by proxy (which the context must not keep alive). */
const proxyViews = (context: PushContext): WeakMap<Proxy, ProxyView> => memo(context, proxyViewsEntry, () => new WeakMap<Proxy, ProxyView>());

/**
 * The proxy's scope, from its view when it has one; else without working out the rest of the
 * view, which an EDS-only push (an endpoint change, a new context each) would do for every proxy.
 */
function proxyScope(context: PushContext, proxy: Proxy): ProxyScope {
  return proxyViews(context).get(proxy)?.scope ?? context.scopeFor(proxy);
}

function proxyView(context: PushContext, proxy: Proxy): ProxyView {
  const views = proxyViews(context);
  let view = views.get(proxy);
  if (!view) {
    const targets = context.inboundTargets(proxy);
    view = {
      scope: context.scopeFor(proxy),
      targets,
      inboundPorts: inboundKey(targets, proxy),
      security: proxySecurity(context, proxy),
      telemetry: proxyHcmTelemetry(context, proxy),
      envoyFilters: proxyEnvoyFilters(context, proxy),
    };
    views.set(proxy, view);
  }
  return view;
}

/** One service's EDS clusters in a scope. The scope's list of them outlives endpoint changes (edsClusterNamesEntry). */
interface EdsClusterGroup {
  readonly hostname: string;
  readonly clusters: EdsCluster[];
}

/** The cache entry of a group's load assignments per proxy inputs key, kept with the group: not built again per context. */
const groupEntries = new WeakMap<EdsClusterGroup, Map<string, CacheEntry>>();

function groupEntry(group: EdsClusterGroup, scopeKey: string, inputs: string): CacheEntry {
  let byInputs = groupEntries.get(group);
  if (!byInputs) groupEntries.set(group, (byInputs = new Map<string, CacheEntry>()));
  let entry = byInputs.get(inputs);
  if (!entry) byInputs.set(inputs, (entry = scopeServiceEndpointsEntry(scopeKey, inputs, group.hostname)));
  return entry;
}

export class SidecarGenerator implements ResourceGenerator {
  /** `contextFor`: the push context a push request was computed from (the pinned one, or the current one). */
  constructor(
    private readonly contextFor: (request?: PushRequest) => PushContext,
    private readonly logger?: Logger,
  ) {}

  generate(proxy: Proxy, watched: WatchedResource, request?: PushRequest): readonly XdsResource[] | undefined {
    const context = this.contextFor(request);
    switch (watched.typeUrl) {
      case TypeUrl.Cluster:
        return selectNames(this.clusters(context, proxy), watched);
      case TypeUrl.Listener:
        return selectNames(this.listeners(context, proxy), watched);
      case TypeUrl.RouteConfiguration:
        return this.routes(context, proxy, watched);
      case TypeUrl.ClusterLoadAssignment:
        return this.endpoints(context, proxy, watched);
      default:
        return undefined;
    }
  }

  clusters(context: PushContext, proxy: Proxy): XdsResource[] {
    const { scope, targets, inboundPorts, security, envoyFilters } = proxyView(context, proxy);
    // A proxy with cluster patches gets its own list, keyed by its filters; the others keep sharing.
    if (hasPatches(envoyFilters, clusterApplyTo, ['SIDECAR_OUTBOUND', 'SIDECAR_INBOUND'])) {
      return memo(context, sidecarClustersEntry(scope.key, inboundPorts, security.key, envoyFilters.key), () => {
        const unpatched = this.describeClusters(context, proxy);
        const applied = new Set<EnvoyFilterPatch>();
        const patched = patchClusters(envoyFilters, unpatched, clusterContext, 'SIDECAR_OUTBOUND', applied);
        reportUnmatched(this.logger, proxy, envoyFilters, clusterApplyTo, applied);
        return encodePatched(context, TypeUrl.Cluster, patched, unpatched, envoyFilters, this.logger);
      });
    }
    // Proxies sharing scope, inbound ports and security get the very same array: no per-proxy copying.
    return memo(context, sidecarClustersEntry(scope.key, inboundPorts, security.key, ''), () => {
      const outbound = memo(context, scopeClustersEntry(scope.key), () => encodedOutboundClusters(context, scope));
      const inbound = memo(context, inboundClustersEntry(inboundPorts), () => encodeAll(context, TypeUrl.Cluster, inboundClusters(targets, proxy.ipAddresses)));
      const fixed = memo(context, wellKnownClustersEntry, () => encodeAll(context, TypeUrl.Cluster, wellKnownClusters()));
      const jwks = memo(context, jwksClustersEntry(scope.key, security.key), () =>
        encodeAll(context, TypeUrl.Cluster, jwksClusters(security.security, new Set(outbound.map((c) => c.name)))),
      );
      return [...outbound, ...inbound, ...fixed, ...jwks];
    });
  }

  listeners(context: PushContext, proxy: Proxy): XdsResource[] {
    const { scope, targets, inboundPorts, security, telemetry, envoyFilters } = proxyView(context, proxy);
    // Telemetry is per workload (selector, canonical labels): its key joins the scope's where it adds anything.
    const tel = telemetry.key ? `|tel:${telemetry.key}` : '';
    // So do EnvoyFilter patches (inbound routes are inline, so route patches reach inbound listeners).
    const efOut = envoyFilterKey(envoyFilters, listenerApplyTo, ['SIDECAR_OUTBOUND']);
    const efIn = envoyFilterKey(envoyFilters, [...listenerApplyTo, ...routeApplyTo], ['SIDECAR_INBOUND']);
    // Both are the proxy's filters key when not empty: the assembled list is keyed by either.
    return memo(context, sidecarListenersEntry(scope.key, inboundPorts, security.key, `${tel}${efOut || efIn}`), () => {
      const outbound = memo(context, outboundListenersEntry(scope.key, `${tel}${efOut}`), () =>
        this.encodeListeners(context, proxy, 'SIDECAR_OUTBOUND', efOut !== '', () =>
          withListenerTelemetry([...outboundListeners(context, scope, telemetry.outbound), virtualOutboundListener(scope)], telemetry.outbound),
        ),
      );
      const inbound = memo(context, inboundListenersEntry(inboundPorts, security.key, `${tel}${efIn}`), () =>
        this.encodeListeners(context, proxy, 'SIDECAR_INBOUND', efIn !== '', () =>
          withListenerTelemetry(inboundListeners(targets, security.security, proxy.ipAddresses, telemetry.inbound), telemetry.inbound),
        ),
      );
      return [...outbound, ...inbound];
    });
  }

  /** Encodes one side's listeners, with the proxy's EnvoyFilter patches applied when it has any. */
  private encodeListeners(
    context: PushContext,
    proxy: Proxy,
    side: 'SIDECAR_INBOUND' | 'SIDECAR_OUTBOUND',
    patch: boolean,
    build: () => Listener[],
  ): XdsResource[] {
    const unpatched = build();
    if (!patch) return encodeAll(context, TypeUrl.Listener, unpatched);
    const { envoyFilters } = proxyView(context, proxy);
    const applied = new Set<EnvoyFilterPatch>();
    const patched = patchListeners(side, envoyFilters, unpatched, applied);
    reportUnmatched(
      this.logger,
      proxy,
      envoyFilters,
      listenerApplyTo,
      applied,
      side === 'SIDECAR_OUTBOUND' ? ['SIDECAR_OUTBOUND', 'ANY'] : ['SIDECAR_INBOUND'],
    );
    return encodePatched(context, TypeUrl.Listener, patched, unpatched, envoyFilters, this.logger);
  }

  routes(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const { scope, envoyFilters } = proxyView(context, proxy);
    const dependsOnLabels = memo(context, routeSourceLabelsEntry(scope.key), () => scopeUsesSourceLabels(context, scope));
    const labelsKey = dependsOnLabels ? `|${JSON.stringify(Object.entries(proxy.labels).sort())}` : '';
    const available = memo(context, routeNamesEntry(scope.key), () => new Set(routeNames(scope)));
    const ef = envoyFilterKey(envoyFilters, routeApplyTo, ['SIDECAR_OUTBOUND']);
    const detail = `${labelsKey}${ef}`;
    // Route configurations of the scope (and source labels, and EnvoyFilter patches) by name, built on first request.
    const built = memo(context, scopeRoutesEntry(scope.key, detail), () => new Map<string, XdsResource | undefined>());
    const names = watched.wildcard ? available : watched.names;
    const select = (): XdsResource[] => {
      const out: XdsResource[] = [];
      for (const name of names) {
        if (!available.has(name)) {
          out.push(this.unknownRoute(context, scope, name, proxy.labels));
          continue;
        }
        let resource = built.get(name);
        if (resource === undefined && !built.has(name)) {
          resource = this.routeConfiguration(context, proxy, scope, name, detail, ef !== '', labelsKey !== '');
          built.set(name, resource);
        }
        if (resource) out.push(resource);
      }
      return out;
    };
    // Proxies of the scope name the same set: one array for all of them. Names no listener carries are answered per proxy.
    return allIn(names, available) ? perNameSet(built, names, select) : select();
  }

  /**
   * One route configuration, cached with the hosts whose routing it read, so a
   * VirtualService or DestinationRule change keeps the route configurations
   * of other hosts (see routeConfigurationEntry).
   */
  private routeConfiguration(
    context: PushContext,
    proxy: Proxy,
    scope: ProxyScope,
    name: string,
    detail: string,
    patch: boolean,
    forLabels: boolean,
  ): XdsResource | undefined {
    const key = routeConfigurationKey(scope.key, detail, name);
    return memoBuilt(context, key, () => {
      const reads = new Set<string>();
      const json = buildNamedRouteConfiguration(context, scope, name, proxy.labels, reads);
      return { entry: routeConfigurationEntry(key, [...reads], forLabels), value: json ? this.encodeRoute(context, proxy, patch, json) : undefined };
    });
  }

  /**
   * A name no listener of the scope carries (an EnvoyFilter-added listener's, a stale subscription) is answered,
   * as istiod answers it: a port's catch-all route configuration, else an empty one. Envoy would otherwise keep
   * the listener warming. Not cached: the names are the client's.
   */
  private unknownRoute(context: PushContext, scope: ProxyScope, name: string, labels: Readonly<Record<string, string>>): XdsResource {
    const json = buildNamedRouteConfiguration(context, scope, name, labels) ?? { name, virtualHosts: [], validateClusters: { value: false } };
    return encodeResource(TypeUrl.RouteConfiguration, name, json);
  }

  private encodeRoute(context: PushContext, proxy: Proxy, patch: boolean, json: RouteConfiguration): XdsResource {
    if (!patch) return encodeShared(context, TypeUrl.RouteConfiguration, String(json.name), json);
    const { envoyFilters } = proxyView(context, proxy);
    const applied = new Set<EnvoyFilterPatch>();
    const patched = patchRouteConfiguration('SIDECAR_OUTBOUND', envoyFilters, json, {}, applied);
    return encodePatched(context, TypeUrl.RouteConfiguration, [patched], [json], envoyFilters, this.logger)[0]!;
  }

  endpoints(context: PushContext, proxy: Proxy, watched: WatchedResource): readonly XdsResource[] {
    const scoped = this.scopeEndpoints(context, proxy);
    if (watched.wildcard) return scoped.list;
    return namedLoadAssignments(
      scoped,
      watched.names,
      (name) => this.loadAssignment(context, proxy, name) ?? (watched.incremental ? undefined : absentLoadAssignment(context, name)),
    );
  }

  /** Every load assignment of the proxy's scope, encoded once per scope (and locality or failoverPriority labels, when DestinationRules use them). */
  private scopeEndpoints(context: PushContext, proxy: Proxy): { list: XdsResource[]; byName: Map<string, XdsResource> } {
    const scope = proxyScope(context, proxy);
    const inputs = proxyEndpointsKey(context, scope, proxy);
    return memo(context, scopeEndpointsEntry(scope.key, inputs), () => {
      const list: XdsResource[] = [];
      // Per service: after an endpoint change only the changed service's clusters are planned again.
      for (const group of this.edsClusters(context, scope)) {
        const own = memo(context, groupEntry(group, scope.key, inputs), () =>
          group.clusters.map((cluster) => this.encodePlan(context, planClusterLoadAssignment(context, proxy, scope, cluster))).filter((r) => r !== undefined),
        );
        list.push(...own);
      }
      return { list, byName: new Map(list.map((r) => [r.name, r])) };
    });
  }

  private loadAssignment(context: PushContext, proxy: Proxy, name: string): XdsResource | undefined {
    return this.encodePlan(context, planLoadAssignment(context, proxy, name));
  }

  private encodePlan(context: PushContext, plan: LoadAssignmentPlan | undefined): XdsResource | undefined {
    if (!plan) return undefined;
    return memo(context, plan.entry, () => encodeShared(context, TypeUrl.ClusterLoadAssignment, plan.clusterName, plan.build()));
  }

  /**
   * Everything the proxy would receive, as unencoded JSON and without caches:
   * for tests that check field names against Envoy's protos, and for debugging.
   */
  describe(context: PushContext, proxy: Proxy): Record<'clusters' | 'listeners' | 'routes' | 'endpoints', Json[]> {
    const scope = context.scopeFor(proxy);
    const targets = context.inboundTargets(proxy);
    const envoyFilters = proxyEnvoyFilters(context, proxy);
    const applied = new Set<EnvoyFilterPatch>();
    return {
      clusters: patchClusters(envoyFilters, this.describeClusters(context, proxy), clusterContext, 'SIDECAR_OUTBOUND', applied),
      listeners: (() => {
        const telemetry = proxyHcmTelemetry(context, proxy);
        return [
          ...patchListeners(
            'SIDECAR_OUTBOUND',
            envoyFilters,
            withListenerTelemetry([...outboundListeners(context, scope, telemetry.outbound), virtualOutboundListener(scope)], telemetry.outbound),
            applied,
          ),
          ...patchListeners(
            'SIDECAR_INBOUND',
            envoyFilters,
            withListenerTelemetry(inboundListeners(targets, proxySecurity(context, proxy).security, proxy.ipAddresses, telemetry.inbound), telemetry.inbound),
            applied,
          ),
        ];
      })(),
      routes: routeNames(scope)
        .map((name) => buildNamedRouteConfiguration(context, scope, name, proxy.labels))
        .filter((rc): rc is RouteConfiguration => rc !== undefined)
        .map((rc) => patchRouteConfiguration('SIDECAR_OUTBOUND', envoyFilters, rc, {}, applied)),
      endpoints: this.edsClusters(context, scope)
        .flatMap((group) => group.clusters)
        .map((cluster) => planClusterLoadAssignment(context, proxy, scope, cluster)?.build())
        .filter((cla): cla is ClusterLoadAssignment => cla !== undefined),
    };
  }

  /** Every cluster of the proxy, unencoded and unpatched. */
  private describeClusters(context: PushContext, proxy: Proxy): Cluster[] {
    const scope = context.scopeFor(proxy);
    const outbound = outboundClusters(context, scope);
    const jwks = jwksClusters(proxySecurity(context, proxy).security, new Set(outbound.map((c) => String(c.name))));
    return [...outbound, ...inboundClusters(context.inboundTargets(proxy), proxy.ipAddresses), ...wellKnownClusters(), ...jwks];
  }

  /** The EDS clusters of the scope's CDS by service, for wildcard EDS subscriptions. */
  private edsClusters(context: PushContext, scope: ProxyScope): EdsClusterGroup[] {
    return memo(context, edsClusterNamesEntry(scope.key), () => {
      const groups: EdsClusterGroup[] = [];
      for (const service of scope.services) {
        if (service.resolution !== 'ClientSideLB') continue;
        const dr = context.destinationRuleFor(scope, service.hostname);
        const clusters: EdsCluster[] = [];
        for (const { port } of service.ports) {
          clusters.push({ name: outboundClusterName(port, '', service.hostname), service, port });
          for (const { name: subset } of dr?.spec.subsets ?? [])
            clusters.push({ name: outboundClusterName(port, subset, service.hostname), service, port, subset });
        }
        groups.push({ hostname: service.hostname, clusters });
      }
      return groups;
    });
  }
}

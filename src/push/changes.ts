// Which proxies and xDS types a set of model changes affects, as a
// PushRequest. An endpoint change is EDS for the proxies that can see the
// service; a VirtualService change is RDS (LDS too for tcp/tls routes) for
// the proxies that see its hosts; a service change is CDS+LDS+RDS.
import type { ModelChange } from '../model/meshModel.js';
import type { Proxy } from '../model/proxy.js';
import type { DestinationRuleSpec, ServiceEntrySpec, SidecarSpec, VirtualServiceSpec } from '../model/istio.js';
import { meshConfigMapName, telemetryMeshKey, type MeshConfig } from '../model/meshConfig.js';
import type { TelemetrySpec } from '../model/telemetry.js';
import type { EnvoyFilterSpec } from '../model/envoyFilter.js';
import { envoyFilterSelects } from './envoyFilters.js';

import { TypeUrl, type PushRequest } from './xdsContract.js';
import { hostMatches, labelsMatch, resolveShortName } from './hosts.js';
import { appliesToMesh, boundGateways, type PushContext } from './pushContext.js';
import { gatewaysForProxy, serverCredential, serverTls } from './gateways.js';
import { caCertSuffix, caCredential, certificateCredential, type CredentialReference } from './credentials.js';
import { loadBalancerSettings } from './destinationRules.js';
import { secretRefKey, type CacheChange, type SecretRef } from './contextCache.js';

const { Cluster: CDS, Listener: LDS, RouteConfiguration: RDS, ClusterLoadAssignment: EDS, Secret: SDS } = TypeUrl;

/** The effect of one change: types to push, and to whom (undefined: everyone). */
export interface ChangeImpact {
  readonly types: ReadonlySet<string> | 'all';
  readonly affects?: (proxy: Proxy) => boolean;
  readonly reason: string;
  /**
   * Set when the change reaches the configuration only through these
   * services' endpoints and pods (EndpointSlice and Pod changes): results of
   * other services stay valid (see reusableEntries).
   */
  readonly servicesOf?: readonly string[];
  /**
   * Set when the change reaches the configuration only through these
   * Secrets (if at all): results reading other Secrets stay valid.
   */
  readonly secretsOf?: readonly SecretRef[];
  /**
   * Set when the change reaches route configurations (RDS) only through the
   * routing (VirtualServices, DestinationRules) of hosts matching these
   * patterns: route configurations of other hosts stay valid. Its other
   * types are reached in full.
   */
  readonly routingOf?: readonly string[];
  /** With routingOf: the Gateways (`ns/name`) whose bound VirtualServices the change reaches. */
  readonly gatewaysOf?: readonly string[];
}

const none: ReadonlySet<string> = new Set();

/** True when a proxy (seen through either context) can see a host matching one of the patterns. */
function seesHosts(patterns: readonly string[], previous: PushContext, next: PushContext): (proxy: Proxy) => boolean {
  const exact = patterns.filter((p) => !p.includes('*'));
  const wildcards = patterns.filter((p) => p.includes('*'));
  const visible = (context: PushContext, proxy: Proxy): boolean => {
    const scope = context.scopeFor(proxy);
    if (exact.some((h) => scope.hostnames.has(h))) return true;
    return wildcards.length > 0 && scope.services.some((s) => wildcards.some((w) => hostMatches(w, s.hostname)));
  };
  return (proxy) => proxy.type === 'router' || visible(next, proxy) || visible(previous, proxy);
}

/** The service accounts of a service's endpoints, as a comparable key. */
function serviceAccountsOf(hostname: string, context: PushContext): string {
  const accounts = new Set<string>();
  for (const port of context.service(hostname)?.ports ?? []) for (const ep of context.endpoints(hostname, port.port)) accounts.add(ep.serviceAccount);
  return [...accounts].sort().join(',');
}

function specs<S>(change: ModelChange): S[] {
  return [change.previous?.spec, change.current?.spec].filter((s): s is S => s !== undefined && s !== null);
}

export function changeImpact(change: ModelChange, previous: PushContext, next: PushContext): ChangeImpact {
  const { domainSuffix, rootNamespace } = next.options;
  const reason = `${change.kind}/${change.namespace}/${change.name}`;
  switch (change.kind) {
    case 'EndpointSlice': {
      // A slice relabelled to another service changes the endpoints of both.
      const services = new Set([change.previous, change.current].map((o) => o?.metadata.labels?.['kubernetes.io/service-name']).filter((s) => s !== undefined));
      const hostnames = [...services].map((service) => `${service}.${change.namespace}.svc.${domainSuffix}`);
      const affects = seesHosts(hostnames, previous, next);
      // Clusters pin the SPIFFE identities of a service's endpoints: a new or departed
      // service account changes CDS too (istiod makes such an endpoint update a full push).
      const types = hostnames.some((host) => serviceAccountsOf(host, previous) !== serviceAccountsOf(host, next)) ? [EDS, CDS] : [EDS];
      return { types: new Set(types), affects, reason, servicesOf: hostnames };
    }
    case 'Pod': {
      // Pod labels decide subset membership of its endpoints (EDS), and its
      // service account the identities clusters pin (CDS): that concerns the
      // proxies that see a service it backs. Its own proxy may serve other
      // services: inbound clusters and listeners, and a proxyless server's
      // listeners. Unchanged resources are not resent.
      const workload = `${change.namespace}/${change.name}`;
      const backed = [...new Set([...previous.servicesOfWorkload(workload), ...next.servicesOfWorkload(workload)])];
      const sees = seesHosts(backed, previous, next);
      const own = (p: Proxy): boolean => p.namespace === change.namespace && p.podName === change.name;
      return { types: new Set([EDS, CDS, LDS]), affects: (p) => own(p) || sees(p), reason, servicesOf: backed };
    }
    case 'Service': {
      const hostname = `${change.name}.${change.namespace}.svc.${domainSuffix}`;
      const sees = seesHosts([hostname], previous, next);
      // The namespace's own workloads may gain or lose inbound ports; a telemetry provider's
      // collector service decides whether every proxy's tracing and access logs can point at it.
      if (namesProviderService(previous.meshConfig, hostname) || namesProviderService(next.meshConfig, hostname))
        return { types: new Set([CDS, LDS, RDS]), reason };
      return { types: new Set([CDS, LDS, RDS]), affects: (p) => p.namespace === change.namespace || sees(p), reason };
    }
    case 'ServiceEntry': {
      const hosts = specs<ServiceEntrySpec>(change).flatMap((s) => s.hosts ?? []);
      return { types: new Set([CDS, EDS, LDS, RDS]), affects: seesHosts(hosts, previous, next), reason };
    }
    case 'VirtualService': {
      const vsSpecs = specs<VirtualServiceSpec>(change);
      // A delegate has no hosts of its own: its routes live on the hosts of the roots naming it.
      const roots = [
        ...previous.virtualServicesDelegatingTo(change.namespace, change.name),
        ...next.virtualServicesDelegatingTo(change.namespace, change.name),
      ];
      const hosts = [
        ...vsSpecs.flatMap((s) => (s.hosts ?? []).map((h) => resolveShortName(h, change.namespace, domainSuffix))),
        ...roots.flatMap((root) => root.hosts),
      ];
      const l4 = vsSpecs.some((s) => (s.tcp?.length ?? 0) > 0 || (s.tls?.length ?? 0) > 0);
      const mesh = vsSpecs.some((s) => appliesToMesh(s.gateways));
      const sees = seesHosts(hosts, previous, next);
      const affects = mesh ? sees : (p: Proxy) => p.type === 'router';
      // Route configurations read it through its hosts, a router's through its Gateways (a delegate's: its roots').
      const gateways = [
        ...vsSpecs.flatMap((s) => boundGateways(s.gateways, change.namespace)),
        ...roots.flatMap((root) => boundGateways(root.spec.gateways, root.namespace)),
      ];
      return { types: new Set(l4 ? [RDS, LDS] : [RDS]), affects, reason, routingOf: hosts, gatewaysOf: gateways };
    }
    case 'DestinationRule': {
      const drSpecs = specs<DestinationRuleSpec>(change);
      const hosts = drSpecs.map((s) => resolveShortName(s.host, change.namespace, domainSuffix));
      // Consistent hashing lives on routes, so a DestinationRule can touch RDS too.
      const hashing = drSpecs.some(usesConsistentHash);
      const sees = seesHosts(hosts, previous, next);
      // A rule with a workloadSelector only ever applies to workloads of its own namespace.
      const selectorOnly = drSpecs.every((s) => s.workloadSelector);
      const affects = selectorOnly ? (p: Proxy) => p.namespace === change.namespace && sees(p) : sees;
      return { types: new Set(hashing ? [CDS, EDS, RDS] : [CDS, EDS]), affects, reason, routingOf: hosts };
    }
    case 'Sidecar': {
      const global = change.namespace === rootNamespace && specs<SidecarSpec>(change).some((s) => !s.workloadSelector);
      return { types: 'all', ...(global ? {} : { affects: (p: Proxy) => p.namespace === change.namespace }), reason };
    }
    case 'ConfigMap':
      return change.namespace === rootNamespace && change.name === meshConfigMapName
        ? meshConfigImpact(previous, next, reason)
        : { types: none, affects: () => false, reason };
    case 'Telemetry': {
      // Tracing and access logs live on the HTTP connection managers (LDS).
      const telemetrySpecs = specs<TelemetrySpec>(change);
      const targetsGateways = (s: TelemetrySpec): boolean => s.targetRef !== undefined || (s.targetRefs?.length ?? 0) > 0;
      const namespaceWide = telemetrySpecs.some((s) => Object.keys(s.selector?.matchLabels ?? {}).length === 0 && !targetsGateways(s));
      if (change.namespace === rootNamespace && namespaceWide) return { types: new Set([LDS]), reason };
      const selected = (p: Proxy): boolean =>
        namespaceWide || telemetrySpecs.some((s) => (targetsGateways(s) ? p.type === 'router' : labelsMatch(s.selector?.matchLabels ?? {}, p.labels)));
      return { types: new Set([LDS]), affects: (p) => p.namespace === change.namespace && selected(p), reason };
    }
    case 'EnvoyFilter': {
      // Patches reach any type; only the proxies the old or new version selects (root namespace: any namespace).
      const entries = specs<EnvoyFilterSpec>(change).map((spec) => ({ namespace: change.namespace, spec }));
      const selected = (p: Proxy): boolean => entries.some((e) => envoyFilterSelects(e, rootNamespace, p));
      return { types: new Set([CDS, EDS, LDS, RDS]), affects: selected, reason };
    }
    case 'Gateway':
      // Gateways shape the listeners, routes and credentials of the routers they select.
      return { types: new Set([LDS, RDS, SDS]), affects: (p) => p.type === 'router', reason };
    case 'GatewayClass':
    case 'KubernetesGateway':
    case 'HTTPRoute':
    case 'GRPCRoute':
    case 'ReferenceGrant':
      // Translated into Istio Gateways and VirtualServices bound to them: routers only.
      return { types: new Set([LDS, RDS, SDS]), affects: (p) => p.type === 'router', reason };
    case 'Namespace':
      // Namespace labels decide which routes a listener's allowedRoutes Selector admits.
      if (previous.gatewayApi.gateways.length > 0 || next.gatewayApi.gateways.length > 0)
        return { types: new Set([LDS, RDS]), affects: (p) => p.type === 'router', reason };
      return { types: none, affects: () => false, reason };
    case 'Secret':
      return secretImpact(change, previous, next, reason);
    case 'PeerAuthentication':
    case 'AuthorizationPolicy':
    case 'RequestAuthentication':
      // Translated by their own generators; until they narrow it, push everything.
      return { types: 'all', reason };
    default:
      // Namespaces, ServiceAccounts: nothing in CDS/EDS/LDS/RDS reads them.
      return { types: none, affects: () => false, reason };
  }
}

/**
 * A Secret reaches only the routers whose Gateways' credentials read it
 * (`NAME`, or `NAME-cacert` for the CA): credentialName in the router's own
 * namespace, or a Gateway API certificateRef allowed into the Secret's
 * namespace. SDS for the new bytes, and LDS only when the credential's
 * validity changed (its servers' chains appear or disappear with it). Only
 * results reading the Secret are dropped. Any other Secret changes nothing.
 */
function secretImpact(change: ModelChange, previous: PushContext, next: PushContext, reason: string): ChangeImpact {
  const credential = change.name.endsWith(caCertSuffix) ? change.name.slice(0, -caCertSuffix.length) : change.name;
  const names = new Set([change.name, credential]);
  const reads = (ref: CredentialReference | undefined): boolean =>
    ref !== undefined && !ref.problem && ref.namespace === change.namespace && names.has(ref.name);
  const uses = (context: PushContext, proxy: Proxy): boolean =>
    gatewaysForProxy(context, proxy).some((g) => (g.spec.servers ?? []).some((s) => reads(serverCredential(g, serverTls(s), proxy.namespace))));
  // Whether any server could read it, for a router of the Secret's namespace (plain names) or by its namespace (Gateway API).
  const named = (context: PushContext): boolean =>
    context.gateways.some((g) => (g.spec.servers ?? []).some((s) => reads(serverCredential(g, serverTls(s), change.namespace))));
  const secretsOf = [...names].map((name) => ({ namespace: change.namespace, name }));
  // Nothing served reads it, but a result parsed from it earlier must not outlive it (see parsedCredentialEntry).
  if (!named(previous) && !named(next)) return { types: none, affects: () => false, reason, secretsOf };
  const validity = (context: PushContext): string =>
    [...names].map((n) => `${certificateCredential(context, change.namespace, n).ok}/${caCredential(context, change.namespace, n).ok}`).join(',');
  const chainsChange = validity(previous) !== validity(next);
  return {
    types: new Set(chainsChange ? [SDS, LDS] : [SDS]),
    affects: (proxy) => proxy.type === 'router' && (uses(next, proxy) || uses(previous, proxy)),
    reason,
    secretsOf,
  };
}

/**
 * The mesh config: its outboundTrafficPolicy decides the catch-all of
 * virtualOutbound (LDS) and of every route configuration (RDS), for the
 * proxies whose Sidecar does not set its own.
 */
function meshConfigImpact(previous: PushContext, next: PushContext, reason: string): ChangeImpact {
  // Extension providers, default providers and legacy access logging reach every HTTP connection manager.
  if (telemetryMeshKey(previous.meshConfig) !== telemetryMeshKey(next.meshConfig)) {
    const policyChanged = previous.meshConfig.outboundTrafficPolicy.mode !== next.meshConfig.outboundTrafficPolicy.mode;
    return { types: new Set(policyChanged ? [LDS, RDS] : [LDS]), reason };
  }
  if (previous.meshConfig.outboundTrafficPolicy.mode === next.meshConfig.outboundTrafficPolicy.mode) return { types: none, affects: () => false, reason };
  const policyChanged = (proxy: Proxy): boolean => previous.scopeFor(proxy).outboundTrafficPolicy !== next.scopeFor(proxy).outboundTrafficPolicy;
  return { types: new Set([LDS, RDS]), affects: (proxy) => proxy.type === 'sidecar' && policyChanged(proxy), reason };
}

/** Merges the impacts of a debounced batch into one push request, or undefined when nothing needs pushing. */
export function pushRequestFor(impacts: readonly ChangeImpact[], version: string, startedAt: number): PushRequest | undefined {
  const relevant = impacts.filter((i) => i.types === 'all' || i.types.size > 0);
  if (relevant.length === 0) return undefined;
  const all = relevant.some((i) => i.types === 'all');
  const types = all ? undefined : new Set(relevant.flatMap((i) => [...(i.types as ReadonlySet<string>)]));
  const everyone = relevant.some((i) => !i.affects);
  const predicates = relevant.map((i) => i.affects!).filter(Boolean);
  const request: PushRequest = {
    version,
    ...(types ? { types } : {}),
    ...(everyone ? {} : { affects: (proxy: Proxy) => predicates.some((p) => p(proxy)) }),
    reason: [...new Set(relevant.map((i) => i.reason))],
    startedAt,
  };
  return request;
}

/** Whether a DestinationRule hashes consistently anywhere: its traffic policy, port-level settings, or a subset's. */
export function usesConsistentHash(spec: DestinationRuleSpec): boolean {
  return loadBalancerSettings(spec).some((lb) => lb.consistentHash !== undefined && lb.consistentHash !== null);
}

/**
 * What a debounced batch invalidates in the push context's cache: per xDS
 * type, everywhere or only through some services' endpoints and pods, some
 * Secrets and (RDS) the routing of some hosts; 'all' when a change reaches
 * every type.
 */
export function cacheChangeOf(impacts: readonly ChangeImpact[]): CacheChange {
  type Objects = { services: Set<string>; secrets: Set<string>; routing: Set<string>; gateways: Set<string> };
  const empty = (): Objects => ({ services: new Set(), secrets: new Set(), routing: new Set(), gateways: new Set() });
  const types = new Map<string, 'all' | Objects>();
  const objects = empty();
  const add = (to: Objects, impact: ChangeImpact, type?: string): void => {
    for (const service of impact.servicesOf ?? []) to.services.add(service);
    for (const secret of impact.secretsOf ?? []) to.secrets.add(secretRefKey(secret));
    if (type !== undefined && type !== RDS) return;
    for (const host of impact.routingOf ?? []) to.routing.add(host);
    for (const gateway of impact.gatewaysOf ?? []) to.gateways.add(gateway);
  };
  for (const impact of impacts) {
    if (impact.types === 'all') return 'all';
    add(objects, impact);
    for (const type of impact.types) {
      const sofar = types.get(type);
      if (sofar === 'all') continue;
      const narrowed = impact.servicesOf !== undefined || impact.secretsOf !== undefined || (type === RDS && impact.routingOf !== undefined);
      if (!narrowed) {
        types.set(type, 'all');
        continue;
      }
      const merged = sofar ?? empty();
      add(merged, impact, type);
      types.set(type, merged);
    }
  }
  return { types, objects };
}

/** True when an extension provider of the mesh config sends to this service (`HOST` or `NAMESPACE/HOST`). */
function namesProviderService(mesh: MeshConfig, hostname: string): boolean {
  return mesh.extensionProviders.some((provider) =>
    Object.values(provider).some((settings) => {
      const service = settings && typeof settings === 'object' ? (settings as { service?: unknown }).service : undefined;
      return typeof service === 'string' && (service === hostname || service.endsWith(`/${hostname}`));
    }),
  );
}

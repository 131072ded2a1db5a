// The immutable snapshot every generation reads: services, endpoints and
// Istio configuration indexed the way generators look them up. Built once per
// debounced change; never mutated afterwards except for its encode cache,
// which only memoises pure results.
import { translateGatewayApi, type GatewayApiTranslation } from './gatewayApi/translate.js';
import type { DestinationRuleSpec, GatewaySpec, OutboundTrafficPolicyMode, SidecarSpec, VirtualServiceSpec } from '../model/istio.js';
import type { KindName } from '../model/kinds.js';
import { meshConfigOf, type MeshConfig } from '../model/meshConfig.js';
import type { ModelSnapshot } from '../model/meshModel.js';
import type { Proxy } from '../model/proxy.js';
import type { TelemetrySpec } from '../model/telemetry.js';
import type { EnvoyFilterSpec } from '../model/envoyFilter.js';
import { DestinationRuleIndex, destinationRuleKey, type DestinationRuleViewer, type EffectiveDestinationRule } from './destinationRules.js';
import { hostMatches, isExportedTo, labelsMatch, resolveShortName } from './hosts.js';
import { buildServiceIndex, updateServiceIndex, type MeshEndpoint, type MeshService, type MeshServicePort, type ServiceIndex } from './services.js';
import { egressListenerScopes, outboundTrafficPolicyMode, unionOfServices, type EgressListenerScope } from './sidecarEgress.js';
import { sidecarIngressTargets, withInboundConnectionPool } from './sidecarIngress.js';
import type { ConfigEntry } from './configEntry.js';
import type { ServiceTarget } from './serviceTarget.js';
import type { CachedResult } from './contextCache.js';
import { mergeVirtualServiceDelegates } from './virtualServiceDelegates.js';
import { parseVirtualServiceDurations } from './routeDurations.js';

export type { ConfigEntry } from './configEntry.js';
export type { ServiceTarget } from './serviceTarget.js';

export interface PushContextOptions {
  /** DNS suffix of Kubernetes services (`svc.<suffix>`). */
  domainSuffix: string;
  /** Namespace whose Sidecar and DestinationRules apply mesh-wide; it also holds the mesh config (ConfigMap `istio`). */
  rootNamespace: string;
  trustDomain: string;
  clusterId: string;
  /** A gateway workload only uses Gateways of its own namespace (istiod's PILOT_SCOPE_GATEWAY_TO_NAMESPACE); default false. */
  scopeGatewayToNamespace?: boolean;
}

export const defaultPushContextOptions: PushContextOptions = {
  domainSuffix: 'cluster.local',
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
};

/** What a sidecar can see: services chosen by its Sidecar egress listeners and exportTo. */
export interface ProxyScope {
  /** Proxies with equal keys receive identical outbound configuration. */
  readonly key: string;
  readonly namespace: string;
  readonly sidecar?: ConfigEntry<SidecarSpec>;
  /** The Sidecar's egress listeners in order (one catch-all without a Sidecar). */
  readonly egressListeners: readonly EgressListenerScope[];
  /** Union of the listeners' services: what clusters are built for. */
  readonly services: readonly MeshService[];
  readonly hostnames: ReadonlySet<string>;
  readonly outboundTrafficPolicy: OutboundTrafficPolicyMode;
  /** Selector DestinationRules of the namespace picking the scope's workloads (part of `key`). */
  readonly selectedDestinationRules?: readonly ConfigEntry<DestinationRuleSpec>[];
}

function byAgeThenName(a: ConfigEntry<unknown>, b: ConfigEntry<unknown>): number {
  const ta = a.object.metadata.creationTimestamp ?? '';
  const tb = b.object.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.namespace}/${a.name}`;
  const kb = `${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function entries<Spec>(
  snapshot: ModelSnapshot,
  kind: 'VirtualService' | 'DestinationRule' | 'Sidecar' | 'Telemetry' | 'Gateway' | 'EnvoyFilter',
  hostsOf: (spec: Spec, ns: string) => string[],
): ConfigEntry<Spec>[] {
  const list: ConfigEntry<Spec>[] = [];
  for (const { object } of snapshot.get(kind)?.values() ?? []) {
    const namespace = object.metadata.namespace!;
    const spec = object.spec as Spec;
    list.push({ kind, namespace, name: object.metadata.name, spec, object, hosts: hostsOf(spec, namespace) });
  }
  return list.sort(byAgeThenName);
}

let nextContextId = 0;

/** True when every kind's store is the very same map in both snapshots (the model shares unchanged stores). */
const sameStores = (a: ModelSnapshot, b: ModelSnapshot, kinds: readonly KindName[]): boolean => kinds.every((k) => a.get(k) === b.get(k));

const sameOptions = (a: PushContextOptions, b: PushContextOptions): boolean =>
  a.domainSuffix === b.domainSuffix &&
  a.rootNamespace === b.rootNamespace &&
  a.trustDomain === b.trustDomain &&
  a.clusterId === b.clusterId &&
  Boolean(a.scopeGatewayToNamespace) === Boolean(b.scopeGatewayToNamespace);

/** VirtualServices as routing reads them: delegates merged, by host and by Gateway. */
interface VirtualServiceIndex {
  readonly entries: readonly ConfigEntry<VirtualServiceSpec>[];
  readonly meshByHost: Map<string, ConfigEntry<VirtualServiceSpec>[]>;
  readonly wildcardMesh: ConfigEntry<VirtualServiceSpec>[];
  readonly byGateway: Map<string, ConfigEntry<VirtualServiceSpec>[]>;
  readonly rootsByDelegate: ReadonlyMap<string, readonly ConfigEntry<VirtualServiceSpec>[]>;
}

function indexVirtualServices(snapshot: ModelSnapshot, domainSuffix: string, generated: GatewayApiTranslation['virtualServices']): VirtualServiceIndex {
  const vsHosts = (spec: VirtualServiceSpec, ns: string): string[] => (spec.hosts ?? []).map((h) => resolveShortName(h, ns, domainSuffix));
  // Kubernetes Gateway API routes join as the VirtualServices istiod would generate for them.
  const entriesOf = [
    ...entries<VirtualServiceSpec>(snapshot, 'VirtualService', vsHosts),
    ...generated.map((e) => ({ ...e, hosts: vsHosts(e.spec, e.namespace), generated: true as const })),
  ].sort(byAgeThenName);
  const index: VirtualServiceIndex = { entries: entriesOf, meshByHost: new Map(), wildcardMesh: [], byGateway: new Map(), rootsByDelegate: new Map() };
  // Routing reads roots with their delegates' routes merged in; `virtualServices` keeps the objects as written.
  const merged = mergeVirtualServiceDelegates(entriesOf, domainSuffix);
  for (const vs of merged.virtualServices) {
    parseVirtualServiceDurations(vs.spec);
    for (const gateway of boundGateways(vs.spec.gateways, vs.namespace)) pushTo(index.byGateway, gateway, vs);
    if (!appliesToMesh(vs.spec.gateways)) continue;
    for (const host of vs.hosts) {
      if (host.includes('*')) {
        if (!index.wildcardMesh.includes(vs)) index.wildcardMesh.push(vs);
        continue;
      }
      pushTo(index.meshByHost, host, vs);
    }
  }
  return { ...index, rootsByDelegate: merged.rootsByDelegate };
}

/** Which stores each part of a context derives from: a part is taken over from the previous context while they are the same. */
/** The Gateway API's own kinds; with Gateways or routes present, the translation also reads Secrets, Services and Namespaces. */
const gatewayApiKinds = ['GatewayClass', 'KubernetesGateway', 'HTTPRoute', 'GRPCRoute', 'ReferenceGrant'] as const;
const gatewayApiReads = ['Secret', 'Service', 'Namespace'] as const;
const hasGatewayApiObjects = (snapshot: ModelSnapshot): boolean =>
  (['KubernetesGateway', 'HTTPRoute', 'GRPCRoute'] as const).some((k) => (snapshot.get(k)?.size ?? 0) > 0);

/** True when the previous translation still holds: a mesh without Gateway API objects ignores Secret, Service and Namespace changes. */
const sameGatewayApiInputs = (a: ModelSnapshot, b: ModelSnapshot): boolean =>
  sameStores(a, b, gatewayApiKinds) && (!hasGatewayApiObjects(b) || sameStores(a, b, gatewayApiReads));

const inputsOf = {
  virtualServices: ['VirtualService'],
  destinationRules: ['DestinationRule'],
  sidecars: ['Sidecar'],
  telemetries: ['Telemetry'],
  gateways: ['Gateway'],
  envoyFilters: ['EnvoyFilter'],
  meshConfig: ['ConfigMap'],
  /** Scopes read services, Sidecars, selector DestinationRules and the mesh config's outbound policy. */
  scopes: ['Service', 'ServiceEntry', 'Sidecar', 'DestinationRule', 'ConfigMap'],
  destinationRuleLookups: ['DestinationRule', 'Service', 'ServiceEntry'],
} as const satisfies Record<string, readonly KindName[]>;

/** Parts of a context taken over from the previous one, by name (tests count reuse with it). */
export type ReusedPart = keyof typeof inputsOf | 'services' | 'endpoints' | 'gatewayApi';

export class PushContext {
  readonly id = ++nextContextId;
  readonly serviceIndex: ServiceIndex;
  readonly virtualServices: readonly ConfigEntry<VirtualServiceSpec>[];
  readonly destinationRules: readonly ConfigEntry<DestinationRuleSpec>[];
  readonly sidecars: readonly ConfigEntry<SidecarSpec>[];
  /** Telemetry objects, oldest first (see telemetry.ts). */
  readonly telemetries: readonly ConfigEntry<TelemetrySpec>[];
  /** Istio Gateways, oldest first (istiod's merge order). */
  readonly gateways: readonly ConfigEntry<GatewaySpec>[];
  /** EnvoyFilters, oldest first (envoyFilters.ts orders them per proxy). */
  readonly envoyFilters: readonly ConfigEntry<EnvoyFilterSpec>[];
  readonly meshConfig: MeshConfig;
  /** The Gateway API's translation (its generated objects are in `gateways` and `virtualServices`) and the status it calls for. */
  readonly gatewayApi: GatewayApiTranslation;
  /** Memoised derived results with the entries declaring their dependencies (contextCache.ts, xds/gen/cacheKeys.ts). */
  readonly cache: Map<string, CachedResult>;
  /** Routing VirtualServices (delegates merged) by host and by the Gateway (`ns/name`) they bind to. */
  private readonly routing: VirtualServiceIndex;
  private readonly destinationRuleIndex: DestinationRuleIndex;
  // Memos filled on use; shared with the previous context when their inputs did not change.
  private readonly scopes: Map<string, ProxyScope>;
  private readonly destinationRuleLookups: Map<string, EffectiveDestinationRule | undefined>;
  /** What this context took over from the previous one instead of computing it. */
  readonly reused: ReadonlySet<ReusedPart>;
  private readonly targetsByWorkload = new Map<string, ServiceTarget[]>();
  private readonly inboundByWorkload = new Map<string, readonly ServiceTarget[]>();
  private namespaceServices: Map<string, MeshService[]> | undefined;
  private servicesByWorkload: Map<string, string[]> | undefined;

  /** Encoded resources by content, filled as generation uses them (see xds/gen/cache.ts). */
  readonly encodings = new Map<string, unknown>();

  constructor(
    readonly snapshot: ModelSnapshot,
    readonly options: PushContextOptions = defaultPushContextOptions,
    /** The previous context's encodings: content that did not change is not encoded again. */
    readonly previousEncodings?: ReadonlyMap<string, unknown>,
    /**
     * The previous context: what derives only from stores that did not change
     * is taken over (an endpoint change or a Pod relabel recomputes the
     * endpoints it reaches and nothing of the Istio configuration). Not kept.
     */
    previous?: PushContext,
  ) {
    const { domainSuffix } = options;
    this.cache = new Map();
    const base = previous && sameOptions(previous.options, options) ? previous : undefined;
    const reused = new Set<ReusedPart>();
    // Parts built on the Gateway API's translation are taken over only with it.
    const gatewayApiKept = base !== undefined && sameGatewayApiInputs(base.snapshot, snapshot);
    const take = <T>(part: keyof typeof inputsOf, mine: (p: PushContext) => T, build: () => T, alsoKept = true): T => {
      if (base && alsoKept && sameStores(base.snapshot, snapshot, inputsOf[part])) {
        reused.add(part);
        return mine(base);
      }
      return build();
    };
    this.serviceIndex = base ? updateServiceIndex(base.serviceIndex, snapshot, domainSuffix) : buildServiceIndex(snapshot, domainSuffix);
    if (base && this.serviceIndex.services === base.serviceIndex.services) reused.add('services');
    if (base && this.serviceIndex.endpoints === base.serviceIndex.endpoints) reused.add('endpoints');
    // Kubernetes Gateway API objects join as the Istio Gateways and VirtualServices istiod would generate.
    if (base && gatewayApiKept) reused.add('gatewayApi');
    this.gatewayApi = base && gatewayApiKept ? base.gatewayApi : translateGatewayApi(snapshot, { domainSuffix });
    this.routing = take(
      'virtualServices',
      (p) => p.routing,
      () => indexVirtualServices(snapshot, domainSuffix, this.gatewayApi.virtualServices),
      gatewayApiKept,
    );
    this.virtualServices = this.routing.entries;
    [this.destinationRules, this.destinationRuleIndex] = take(
      'destinationRules',
      (p) => [p.destinationRules, p.destinationRuleIndex] as const,
      () => {
        const rules = entries<DestinationRuleSpec>(snapshot, 'DestinationRule', (spec, ns) => [resolveShortName(spec.host, ns, domainSuffix)]);
        return [rules, new DestinationRuleIndex(rules, options.rootNamespace)] as const;
      },
    );
    this.sidecars = take(
      'sidecars',
      (p) => p.sidecars,
      () => entries<SidecarSpec>(snapshot, 'Sidecar', () => []),
    );
    this.telemetries = take(
      'telemetries',
      (p) => p.telemetries,
      () => entries<TelemetrySpec>(snapshot, 'Telemetry', () => []),
    );
    this.gateways = take(
      'gateways',
      (p) => p.gateways,
      () =>
        [...entries<GatewaySpec>(snapshot, 'Gateway', () => []), ...this.gatewayApi.gateways.map((e) => ({ ...e, hosts: [], generated: true as const }))].sort(
          byAgeThenName,
        ),
      gatewayApiKept,
    );
    this.envoyFilters = take(
      'envoyFilters',
      (p) => p.envoyFilters,
      () => entries<EnvoyFilterSpec>(snapshot, 'EnvoyFilter', () => []),
    );
    this.meshConfig = take(
      'meshConfig',
      (p) => p.meshConfig,
      () => meshConfigOf(snapshot, options.rootNamespace),
    );
    this.scopes = take(
      'scopes',
      (p) => p.scopes,
      () => new Map<string, ProxyScope>(),
    );
    this.destinationRuleLookups = take(
      'destinationRuleLookups',
      (p) => p.destinationRuleLookups,
      () => new Map<string, EffectiveDestinationRule | undefined>(),
    );
    this.reused = reused;
  }

  get services(): readonly MeshService[] {
    return this.serviceIndex.services;
  }

  service(hostname: string): MeshService | undefined {
    return this.serviceIndex.byHostname.get(hostname);
  }

  endpoints(hostname: string, port: number): readonly MeshEndpoint[] {
    return this.serviceIndex.endpoints.get(hostname)?.get(port) ?? [];
  }

  /** Hostnames of the services with an endpoint of `workload` (`namespace/pod`), indexed on first use. */
  servicesOfWorkload(workload: string): readonly string[] {
    if (!this.servicesByWorkload) {
      this.servicesByWorkload = new Map();
      for (const [hostname, byPort] of this.serviceIndex.endpoints) {
        for (const endpoints of byPort.values()) {
          for (const { workload: w } of endpoints) {
            const hosts = this.servicesByWorkload.get(w);
            if (!hosts) this.servicesByWorkload.set(w, [hostname]);
            else if (!hosts.includes(hostname)) hosts.push(hostname);
          }
        }
      }
    }
    return this.servicesByWorkload.get(workload) ?? [];
  }

  /** The VirtualService (gateway `mesh`) a sidecar in `proxyNamespace` uses for `hostname`: exact hosts before wildcards, oldest first. */
  virtualServiceFor(hostname: string, proxyNamespace: string): ConfigEntry<VirtualServiceSpec> | undefined {
    const visible = (vs: ConfigEntry<VirtualServiceSpec>): boolean => isExportedTo(vs.spec.exportTo, vs.namespace, proxyNamespace);
    const exact = this.routing.meshByHost.get(hostname)?.find(visible);
    if (exact) return exact;
    let best: ConfigEntry<VirtualServiceSpec> | undefined;
    let bestLength = -1;
    for (const vs of this.routing.wildcardMesh) {
      if (!visible(vs)) continue;
      for (const host of vs.hosts) {
        if (host.includes('*') && hostMatches(host, hostname) && host.length > bestLength) {
          best = vs;
          bestLength = host.length;
        }
      }
    }
    return best;
  }

  /** The VirtualServices bound to Gateway `namespace/name` that a gateway proxy in `proxyNamespace` may use (exportTo), oldest first. */
  virtualServicesForGateway(gateway: string, proxyNamespace: string): readonly ConfigEntry<VirtualServiceSpec>[] {
    return (this.routing.byGateway.get(gateway) ?? []).filter((vs) => isExportedTo(vs.spec.exportTo, vs.namespace, proxyNamespace));
  }

  /** Every mesh VirtualService naming `hostname` (for change impact and analysis). */
  virtualServicesNaming(hostname: string): readonly ConfigEntry<VirtualServiceSpec>[] {
    return this.routing.meshByHost.get(hostname) ?? [];
  }

  /** The root VirtualServices whose http routes delegate to `namespace/name` (as written, before merging). */
  virtualServicesDelegatingTo(namespace: string, name: string): readonly ConfigEntry<VirtualServiceSpec>[] {
    return this.routing.rootsByDelegate.get(`${namespace}/${name}`) ?? [];
  }

  /**
   * The DestinationRule for `hostname` as seen by a proxy scope (or from a
   * namespace): a selector rule picking its workloads first, then istiod's
   * namespace order; see destinationRules.ts.
   */
  destinationRuleFor(viewer: DestinationRuleViewer, hostname: string): EffectiveDestinationRule | undefined {
    // Called for every cluster and load assignment: no allocation when nothing selects the viewer.
    const selected = viewer.selectedDestinationRules;
    const selection = selected && selected.length > 0 ? selected.map(destinationRuleKey).join(',') : '';
    const key = `${viewer.namespace}|${selection}|${hostname}`;
    if (this.destinationRuleLookups.has(key)) return this.destinationRuleLookups.get(key);
    const found = this.destinationRuleIndex.lookup(viewer, hostname, this.service(hostname)?.namespace);
    this.destinationRuleLookups.set(key, found);
    return found;
  }

  /** The Sidecar that applies to a workload: a selector match in its namespace, else the namespace default, else the root namespace default. */
  sidecarFor(namespace: string, labels: Readonly<Record<string, string>>): ConfigEntry<SidecarSpec> | undefined {
    const inNamespace = this.sidecars.filter((s) => s.namespace === namespace);
    const selected = inNamespace.find((s) => s.spec.workloadSelector?.labels && labelsMatch(s.spec.workloadSelector.labels, labels));
    if (selected) return selected;
    return (
      inNamespace.find((s) => !s.spec.workloadSelector) ?? this.sidecars.find((s) => s.namespace === this.options.rootNamespace && !s.spec.workloadSelector)
    );
  }

  scopeFor(proxy: Pick<Proxy, 'namespace' | 'labels'>): ProxyScope {
    const sidecar = this.sidecarFor(proxy.namespace, proxy.labels);
    // Workloads picked by selector DestinationRules see other clusters: they get a scope of their own.
    const selected = this.destinationRuleIndex.selecting(proxy.namespace, proxy.labels);
    const drKey = selected.length > 0 ? `|dr:${selected.map(destinationRuleKey).join(',')}` : '';
    const key = `${proxy.namespace}|${sidecar ? `${sidecar.namespace}/${sidecar.name}` : '-'}${drKey}`;
    let scope = this.scopes.get(key);
    if (!scope) {
      scope = { ...this.buildScope(proxy.namespace, sidecar, key), selectedDestinationRules: selected };
      this.scopes.set(key, scope);
    }
    return scope;
  }

  private buildScope(namespace: string, sidecar: ConfigEntry<SidecarSpec> | undefined, key: string): ProxyScope {
    const visible = this.services.filter((svc) => isExportedTo(svc.exportTo, svc.namespace, namespace));
    const egressListeners = egressListenerScopes(visible, namespace, sidecar?.spec);
    const services = unionOfServices(egressListeners);
    return {
      key,
      namespace,
      ...(sidecar ? { sidecar } : {}),
      egressListeners,
      services,
      hostnames: new Set(services.map((s) => s.hostname)),
      outboundTrafficPolicy: outboundTrafficPolicyMode(sidecar?.spec, this.meshConfig),
    };
  }

  /** The workload's inbound ports: its Sidecar's ingress listeners when it has any, else the Services selecting it. */
  inboundTargets(proxy: Pick<Proxy, 'namespace' | 'labels'>): readonly ServiceTarget[] {
    const { sidecar, key: scopeKey } = this.scopeFor(proxy);
    const key = `${scopeKey}|${JSON.stringify(Object.entries(proxy.labels).sort())}`;
    let targets = this.inboundByWorkload.get(key);
    if (!targets) {
      const services = this.serviceTargets(proxy);
      targets = sidecar?.spec.ingress?.length
        ? sidecarIngressTargets(sidecar, proxy.namespace, services)
        : withInboundConnectionPool(services, sidecar?.spec.inboundConnectionPool);
      this.inboundByWorkload.set(key, targets);
    }
    return targets;
  }

  /** Kubernetes services in the proxy's namespace whose selector matches its labels: its inbound ports. */
  serviceTargets(proxy: Pick<Proxy, 'namespace' | 'labels'>): readonly ServiceTarget[] {
    const key = `${proxy.namespace}|${JSON.stringify(Object.entries(proxy.labels).sort())}`;
    let targets = this.targetsByWorkload.get(key);
    if (!targets) {
      targets = this.findServiceTargets(proxy);
      this.targetsByWorkload.set(key, targets);
    }
    return targets;
  }

  private findServiceTargets(proxy: Pick<Proxy, 'namespace' | 'labels'>): ServiceTarget[] {
    const targets: ServiceTarget[] = [];
    const seenPorts = new Set<number>();
    for (const service of this.servicesInNamespace(proxy.namespace)) {
      if (service.registry !== 'Kubernetes' || !service.selector) continue;
      if (Object.keys(service.selector).length === 0 || !labelsMatch(service.selector, proxy.labels)) continue;
      for (const port of service.ports) {
        const targetPort = port.targetPort ?? (port.targetPortName ? this.namedTargetPort(service, port) : port.port);
        if (targetPort === undefined || seenPorts.has(targetPort)) continue;
        seenPorts.add(targetPort);
        targets.push({ service, port, targetPort });
      }
    }
    return targets.sort((a, b) => a.targetPort - b.targetPort);
  }

  private servicesInNamespace(namespace: string): readonly MeshService[] {
    if (!this.namespaceServices) {
      this.namespaceServices = new Map();
      for (const service of this.services) {
        const list = this.namespaceServices.get(service.namespace);
        if (list) list.push(service);
        else this.namespaceServices.set(service.namespace, [service]);
      }
    }
    return this.namespaceServices.get(namespace) ?? [];
  }

  private namedTargetPort(service: MeshService, port: MeshServicePort): number | undefined {
    // A named targetPort resolves through the endpoints' ports.
    return this.endpoints(service.hostname, port.port)[0]?.port;
  }
}

export function appliesToMesh(gateways: readonly string[] | undefined): boolean {
  return !gateways || gateways.length === 0 || gateways.includes('mesh');
}

/** The Gateways (`ns/name`) a VirtualService's `gateways` names: a short name is in the VirtualService's namespace; `mesh` is no Gateway. */
export function boundGateways(gateways: readonly string[] | undefined, vsNamespace: string): string[] {
  return (gateways ?? []).filter((g) => g !== 'mesh').map((g) => (g.includes('/') ? g : `${vsNamespace}/${g}`));
}

function pushTo<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

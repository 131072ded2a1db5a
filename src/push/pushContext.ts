// The immutable snapshot every generation reads: services, endpoints and
// Istio configuration indexed the way generators look them up. Built once per
// debounced change; never mutated afterwards except for its encode cache,
// which only memoises pure results.
import type { KubeObject } from '../model/kube.js';
import type { DestinationRuleSpec, SidecarSpec, VirtualServiceSpec } from '../model/istio.js';
import type { ModelSnapshot } from '../model/meshModel.js';
import type { Proxy } from '../model/proxy.js';
import { hostMatches, isExportedTo, labelsMatch, resolveShortName } from './hosts.js';
import { buildServiceIndex, type MeshEndpoint, type MeshService, type MeshServicePort, type ServiceIndex } from './services.js';

export interface PushContextOptions {
  /** DNS suffix of Kubernetes services (`svc.<suffix>`). */
  domainSuffix: string;
  /** Namespace whose Sidecar and DestinationRules apply mesh-wide. */
  rootNamespace: string;
  trustDomain: string;
  clusterId: string;
}

export const defaultPushContextOptions: PushContextOptions = {
  domainSuffix: 'cluster.local',
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  clusterId: 'Kubernetes',
};

/** One Istio config object with its hosts already resolved to FQDNs. */
export interface ConfigEntry<Spec> {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly spec: Spec;
  readonly object: KubeObject;
  /** Hosts resolved against the object's namespace (VirtualService hosts, DestinationRule host). */
  readonly hosts: readonly string[];
}

/** What a sidecar can see: services chosen by its Sidecar egress hosts and exportTo. */
export interface ProxyScope {
  /** Proxies with equal keys receive identical outbound configuration. */
  readonly key: string;
  readonly namespace: string;
  readonly sidecar?: ConfigEntry<SidecarSpec>;
  readonly services: readonly MeshService[];
  readonly hostnames: ReadonlySet<string>;
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
}

/** A service port the proxy's own workload serves (its inbound side). */
export interface ServiceTarget {
  readonly service: MeshService;
  readonly port: MeshServicePort;
  /** Port the workload listens on. */
  readonly targetPort: number;
}

function byAgeThenName(a: ConfigEntry<unknown>, b: ConfigEntry<unknown>): number {
  const ta = a.object.metadata.creationTimestamp ?? '';
  const tb = b.object.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.namespace}/${a.name}`;
  const kb = `${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function entries<Spec>(snapshot: ModelSnapshot, kind: 'VirtualService' | 'DestinationRule' | 'Sidecar', hostsOf: (spec: Spec, ns: string) => string[]): ConfigEntry<Spec>[] {
  const list: ConfigEntry<Spec>[] = [];
  for (const { object } of snapshot.get(kind)?.values() ?? []) {
    const namespace = object.metadata.namespace!;
    const spec = object.spec as Spec;
    list.push({ kind, namespace, name: object.metadata.name, spec, object, hosts: hostsOf(spec, namespace) });
  }
  return list.sort(byAgeThenName);
}

let nextContextId = 0;

export class PushContext {
  readonly id = ++nextContextId;
  readonly serviceIndex: ServiceIndex;
  readonly virtualServices: readonly ConfigEntry<VirtualServiceSpec>[];
  readonly destinationRules: readonly ConfigEntry<DestinationRuleSpec>[];
  readonly sidecars: readonly ConfigEntry<SidecarSpec>[];
  /** Memoised generation results keyed by scope; see xds/gen cache helpers. */
  readonly cache: Map<string, unknown>;
  private readonly meshVirtualServicesByHost = new Map<string, ConfigEntry<VirtualServiceSpec>[]>();
  private readonly wildcardMeshVirtualServices: ConfigEntry<VirtualServiceSpec>[] = [];
  private readonly destinationRulesByHost = new Map<string, ConfigEntry<DestinationRuleSpec>[]>();
  private readonly wildcardDestinationRules: ConfigEntry<DestinationRuleSpec>[] = [];
  private readonly scopes = new Map<string, ProxyScope>();
  private readonly destinationRuleLookups = new Map<string, ConfigEntry<DestinationRuleSpec> | undefined>();
  private readonly targetsByWorkload = new Map<string, ServiceTarget[]>();
  private namespaceServices: Map<string, MeshService[]> | undefined;

  /** Encoded resources by content, filled as generation uses them (see xds/gen/cache.ts). */
  readonly encodings = new Map<string, unknown>();

  constructor(
    readonly snapshot: ModelSnapshot,
    readonly options: PushContextOptions = defaultPushContextOptions,
    /** The previous context's encodings: content that did not change is not encoded again. */
    readonly previousEncodings?: ReadonlyMap<string, unknown>,
  ) {
    const { domainSuffix } = options;
    this.cache = new Map();
    this.serviceIndex = buildServiceIndex(snapshot, domainSuffix);
    this.virtualServices = entries<VirtualServiceSpec>(snapshot, 'VirtualService', (spec, ns) =>
      (spec.hosts ?? []).map((h) => resolveShortName(h, ns, domainSuffix)),
    );
    this.destinationRules = entries<DestinationRuleSpec>(snapshot, 'DestinationRule', (spec, ns) => [resolveShortName(spec.host, ns, domainSuffix)]);
    this.sidecars = entries<SidecarSpec>(snapshot, 'Sidecar', () => []);
    for (const vs of this.virtualServices) {
      if (!appliesToMesh(vs.spec.gateways)) continue;
      for (const host of vs.hosts) {
        if (host.includes('*')) {
          if (!this.wildcardMeshVirtualServices.includes(vs)) this.wildcardMeshVirtualServices.push(vs);
          continue;
        }
        pushTo(this.meshVirtualServicesByHost, host, vs);
      }
    }
    for (const dr of this.destinationRules) {
      const host = dr.hosts[0]!;
      if (host.includes('*')) this.wildcardDestinationRules.push(dr);
      else pushTo(this.destinationRulesByHost, host, dr);
    }
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

  /** The VirtualService (gateway `mesh`) a sidecar in `proxyNamespace` uses for `hostname`: exact hosts before wildcards, oldest first. */
  virtualServiceFor(hostname: string, proxyNamespace: string): ConfigEntry<VirtualServiceSpec> | undefined {
    const visible = (vs: ConfigEntry<VirtualServiceSpec>): boolean => isExportedTo(vs.spec.exportTo, vs.namespace, proxyNamespace);
    const exact = this.meshVirtualServicesByHost.get(hostname)?.find(visible);
    if (exact) return exact;
    let best: ConfigEntry<VirtualServiceSpec> | undefined;
    let bestLength = -1;
    for (const vs of this.wildcardMeshVirtualServices) {
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

  /** Every mesh VirtualService naming `hostname` (for change impact and analysis). */
  virtualServicesNaming(hostname: string): readonly ConfigEntry<VirtualServiceSpec>[] {
    return this.meshVirtualServicesByHost.get(hostname) ?? [];
  }

  /**
   * The DestinationRule for `hostname` as seen from `proxyNamespace`, in istiod's
   * order: the proxy's namespace, then the service's namespace, then the root
   * namespace, then any other namespace exporting it; exact hosts before wildcards.
   */
  destinationRuleFor(proxyNamespace: string, hostname: string): ConfigEntry<DestinationRuleSpec> | undefined {
    const key = `${proxyNamespace}|${hostname}`;
    if (this.destinationRuleLookups.has(key)) return this.destinationRuleLookups.get(key);
    const found = this.findDestinationRule(proxyNamespace, hostname);
    this.destinationRuleLookups.set(key, found);
    return found;
  }

  private findDestinationRule(proxyNamespace: string, hostname: string): ConfigEntry<DestinationRuleSpec> | undefined {
    const serviceNamespace = this.service(hostname)?.namespace;
    const candidates = this.destinationRulesByHost.get(hostname) ?? this.wildcardDestinationRulesFor(hostname);
    if (candidates.length === 0) return undefined;
    const visible = candidates.filter((dr) => isExportedTo(dr.spec.exportTo, dr.namespace, proxyNamespace) && !dr.spec.workloadSelector);
    const order = [proxyNamespace, serviceNamespace, this.options.rootNamespace];
    for (const ns of order) {
      const found = visible.find((dr) => dr.namespace === ns);
      if (found) return found;
    }
    return visible[0];
  }

  private wildcardDestinationRulesFor(hostname: string): ConfigEntry<DestinationRuleSpec>[] {
    const matching = this.wildcardDestinationRules.filter((dr) => hostMatches(dr.hosts[0]!, hostname));
    return matching.sort((a, b) => b.hosts[0]!.length - a.hosts[0]!.length);
  }

  /** The Sidecar that applies to a workload: a selector match in its namespace, else the namespace default, else the root namespace default. */
  sidecarFor(namespace: string, labels: Readonly<Record<string, string>>): ConfigEntry<SidecarSpec> | undefined {
    const inNamespace = this.sidecars.filter((s) => s.namespace === namespace);
    const selected = inNamespace.find((s) => s.spec.workloadSelector?.labels && labelsMatch(s.spec.workloadSelector.labels, labels));
    if (selected) return selected;
    return (
      inNamespace.find((s) => !s.spec.workloadSelector) ??
      this.sidecars.find((s) => s.namespace === this.options.rootNamespace && !s.spec.workloadSelector)
    );
  }

  scopeFor(proxy: Pick<Proxy, 'namespace' | 'labels'>): ProxyScope {
    const sidecar = this.sidecarFor(proxy.namespace, proxy.labels);
    const key = `${proxy.namespace}|${sidecar ? `${sidecar.namespace}/${sidecar.name}` : '-'}`;
    let scope = this.scopes.get(key);
    if (!scope) {
      scope = this.buildScope(proxy.namespace, sidecar, key);
      this.scopes.set(key, scope);
    }
    return scope;
  }

  private buildScope(namespace: string, sidecar: ConfigEntry<SidecarSpec> | undefined, key: string): ProxyScope {
    const egressHosts = sidecar?.spec.egress?.flatMap((e) => e.hosts) ?? ['*/*'];
    const selectors = egressHosts.map((entry) => {
      const slash = entry.indexOf('/');
      const ns = entry.slice(0, slash);
      return { namespace: ns === '.' ? namespace : ns, host: entry.slice(slash + 1) };
    });
    const services = this.services.filter(
      (svc) =>
        isExportedTo(svc.exportTo, svc.namespace, namespace) &&
        selectors.some((s) => (s.namespace === '*' || s.namespace === svc.namespace) && hostMatches(s.host, svc.hostname)),
    );
    return {
      key,
      namespace,
      ...(sidecar ? { sidecar } : {}),
      services,
      hostnames: new Set(services.map((s) => s.hostname)),
      outboundTrafficPolicy: sidecar?.spec.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY',
    };
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

function pushTo<V>(map: Map<string, V[]>, key: string, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

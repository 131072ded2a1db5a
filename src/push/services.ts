// Services and their endpoints as the generators see them, built from
// Kubernetes Services + EndpointSlices + Pods and from ServiceEntries.
import type { KubeObject } from '../model/kube.js';
import type { ServiceEntrySpec } from '../model/istio.js';
import type { ModelSnapshot, StoredObject } from '../model/meshModel.js';
import { kubePortProtocol, parseProtocol, type Protocol } from '../model/protocol.js';

export interface MeshServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** Numeric target port when known (Service targetPort number, ServiceEntry targetPort). */
  readonly targetPort?: number;
  /** Named target port of a Kubernetes Service. */
  readonly targetPortName?: string;
}

/** istiod's service resolution modes. */
export type Resolution = 'ClientSideLB' | 'DNSLB' | 'DNSRoundRobinLB' | 'Passthrough';

export interface MeshService {
  readonly hostname: string;
  readonly namespace: string;
  readonly name: string;
  /** Virtual IPs (Kubernetes clusterIP, ServiceEntry addresses); empty when none. */
  readonly addresses: readonly string[];
  readonly ports: readonly MeshServicePort[];
  readonly resolution: Resolution;
  readonly meshExternal: boolean;
  readonly registry: 'Kubernetes' | 'External';
  readonly selector?: Readonly<Record<string, string>>;
  readonly exportTo?: readonly string[];
  /** `Kind/namespace/name` of the object that defined it. */
  readonly source: string;
}

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

export interface MeshEndpoint {
  readonly address: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly locality: Locality;
  /** HEALTHY for ready endpoints, DRAINING for serving-but-terminating ones. */
  readonly health: 'HEALTHY' | 'DRAINING';
  readonly serviceAccount: string;
  readonly weight: number;
  /** `namespace/pod` or the ServiceEntry that declared it. */
  readonly workload: string;
}

const noLocality: Locality = { region: '', zone: '', subZone: '' };

/** Locality from the `istio-locality` label (`region.zone.subzone`) or the topology labels. */
export function localityFromLabels(labels: Readonly<Record<string, string>>, zoneFallback = ''): Locality {
  const istio = labels['istio-locality'];
  if (istio) {
    const [region = '', zone = '', subZone = ''] = istio.split(/[./]/);
    return { region, zone, subZone };
  }
  return {
    region: labels['topology.kubernetes.io/region'] ?? '',
    zone: labels['topology.kubernetes.io/zone'] ?? zoneFallback,
    subZone: labels['topology.istio.io/subzone'] ?? '',
  };
}

export function parseLocalityString(text: string | undefined): Locality {
  if (!text) return noLocality;
  const [region = '', zone = '', subZone = ''] = text.split('/');
  return { region, zone, subZone };
}

interface KubeServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

interface KubeServiceSpec {
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: KubeServicePort[];
  selector?: Record<string, string>;
  type?: string;
  externalName?: string;
}

function kubeService(stored: StoredObject, domainSuffix: string): MeshService {
  const { object } = stored;
  const spec = (object.spec ?? {}) as KubeServiceSpec;
  const namespace = object.metadata.namespace!;
  const headless = spec.clusterIP === 'None';
  const addresses = headless ? [] : (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter((ip) => ip && ip !== 'None');
  const exportTo = object.metadata.annotations?.['networking.istio.io/exportTo'];
  const ports: MeshServicePort[] = (spec.ports ?? [])
    .map((p): MeshServicePort => ({
      name: p.name ?? '',
      port: p.port,
      protocol: kubePortProtocol(p.name, p.appProtocol, p.protocol),
      ...(typeof p.targetPort === 'number' ? { targetPort: p.targetPort } : {}),
      ...(typeof p.targetPort === 'string' ? { targetPortName: p.targetPort } : {}),
    }))
    .filter((p) => p.protocol !== 'UDP');
  return {
    hostname: `${object.metadata.name}.${namespace}.svc.${domainSuffix}`,
    namespace,
    name: object.metadata.name,
    addresses,
    ports,
    resolution: headless ? 'Passthrough' : 'ClientSideLB',
    meshExternal: false,
    registry: 'Kubernetes',
    ...(spec.selector ? { selector: spec.selector } : {}),
    ...(exportTo ? { exportTo: exportTo.split(',').map((s) => s.trim()) } : {}),
    source: `Service/${namespace}/${object.metadata.name}`,
  };
}

const seResolution: Readonly<Record<string, Resolution>> = {
  NONE: 'Passthrough',
  STATIC: 'ClientSideLB',
  DNS: 'DNSLB',
  DNS_ROUND_ROBIN: 'DNSRoundRobinLB',
};

function serviceEntryServices(stored: StoredObject): { service: MeshService; endpoints: Map<number, MeshEndpoint[]> }[] {
  const { object } = stored;
  const spec = object.spec as ServiceEntrySpec;
  const namespace = object.metadata.namespace!;
  const ports: MeshServicePort[] = (spec.ports ?? []).map((p) => ({
    name: p.name,
    port: p.number,
    protocol: parseProtocol(p.protocol),
    ...(p.targetPort ? { targetPort: p.targetPort } : {}),
  }));
  const resolution = seResolution[spec.resolution ?? 'NONE'] ?? 'Passthrough';
  return spec.hosts.map((host) => {
    const service: MeshService = {
      hostname: host,
      namespace,
      name: object.metadata.name,
      addresses: (spec.addresses ?? []).filter((a) => !a.includes('/') || a.endsWith('/32')).map((a) => a.replace(/\/32$/, '')),
      ports,
      resolution,
      meshExternal: spec.location !== 'MESH_INTERNAL',
      registry: 'External',
      ...(spec.exportTo ? { exportTo: spec.exportTo } : {}),
      source: `ServiceEntry/${namespace}/${object.metadata.name}`,
    };
    const endpoints = new Map<number, MeshEndpoint[]>();
    for (const port of ports) {
      const list: MeshEndpoint[] = [];
      const declared = spec.endpoints ?? [];
      if (declared.length === 0 && (resolution === 'DNSLB' || resolution === 'DNSRoundRobinLB')) {
        // DNS resolution without endpoints resolves the host itself.
        list.push(serviceEntryEndpoint(host, port.targetPort ?? port.port, {}, undefined, 1, '', `ServiceEntry/${namespace}/${object.metadata.name}`));
      }
      for (const ep of declared) {
        if (!ep.address) continue;
        const epPort = ep.ports?.[port.name] ?? port.targetPort ?? port.port;
        list.push(
          serviceEntryEndpoint(
            ep.address,
            epPort,
            ep.labels ?? {},
            ep.locality,
            ep.weight ?? 1,
            ep.serviceAccount ?? '',
            `ServiceEntry/${namespace}/${object.metadata.name}`,
          ),
        );
      }
      endpoints.set(port.port, list);
    }
    return { service, endpoints };
  });
}

function serviceEntryEndpoint(
  address: string,
  port: number,
  labels: Record<string, string>,
  locality: string | undefined,
  weight: number,
  serviceAccount: string,
  workload: string,
): MeshEndpoint {
  return { address, port, labels, locality: parseLocalityString(locality), health: 'HEALTHY', serviceAccount, weight, workload };
}

interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  zone?: string;
  nodeName?: string;
  targetRef?: { kind?: string; name?: string; namespace?: string };
}

/** istiod's health for an EndpointSlice endpoint: ready → healthy; serving while terminating → draining; else dropped. */
function endpointHealth(conditions: SliceEndpoint['conditions']): MeshEndpoint['health'] | undefined {
  const ready = conditions?.ready ?? true; // absent means ready (EndpointSlice API semantics)
  if (ready && !conditions?.terminating) return 'HEALTHY';
  if ((conditions?.serving ?? ready) && conditions?.terminating) return 'DRAINING';
  return undefined;
}

export interface ServiceIndex {
  readonly services: readonly MeshService[];
  readonly byHostname: ReadonlyMap<string, MeshService>;
  /** hostname → service port → endpoints. */
  readonly endpoints: ReadonlyMap<string, ReadonlyMap<number, readonly MeshEndpoint[]>>;
  /** Pods by IP, for endpoint labels and proxy lookup. */
  readonly podsByIp: ReadonlyMap<string, KubeObject>;
  /** What an update needs to rebuild only the endpoints a change reaches (see updateServiceIndex). */
  readonly sources: ServiceIndexSources;
}

/** The stores an index was built from and the lookups that tie endpoints to slices and pods. */
interface ServiceIndexSources {
  readonly services: ReadonlyMap<string, StoredObject> | undefined;
  readonly serviceEntries: ReadonlyMap<string, StoredObject> | undefined;
  readonly slices: ReadonlyMap<string, StoredObject> | undefined;
  readonly pods: ReadonlyMap<string, StoredObject> | undefined;
  readonly domainSuffix: string;
  /** Kubernetes services by `namespace/name`. */
  readonly kubeServices: ReadonlyMap<string, MeshService>;
  /** EndpointSlices by the hostname of their service. */
  readonly slicesByHost: ReadonlyMap<string, readonly KubeObject[]>;
  /** Hostnames whose endpoints read a pod, by the pod's `namespace/name` (targetRef) or by IP. */
  readonly hostsByPodRef: ReadonlyMap<string, readonly string[]>;
  /** The other way round: the pod references each service's endpoints read. */
  readonly podRefsByHost: ReadonlyMap<string, readonly string[]>;
}

/** How many services' endpoints the last index build computed (tests and benchmarks count reuse with it). */
export const serviceIndexStats = { endpointsBuilt: 0 };

function indexPodsByIp(pods: ReadonlyMap<string, StoredObject>): Map<string, KubeObject> {
  const podsByIp = new Map<string, KubeObject>();
  for (const { object } of pods.values()) {
    const ip = (object.status as { podIP?: string } | undefined)?.podIP;
    if (ip) podsByIp.set(ip, object);
  }
  return podsByIp;
}

/** Records that `host`'s endpoints read `refs`; copies the lists it changes (an update's maps share them with the previous index). */
function addPodRefs(
  hostsByPodRef: Map<string, readonly string[]>,
  podRefsByHost: Map<string, readonly string[]>,
  host: string,
  refs: ReadonlySet<string>,
): void {
  podRefsByHost.set(host, [...refs]);
  for (const ref of refs) hostsByPodRef.set(ref, [...(hostsByPodRef.get(ref) ?? []), host]);
}

/** The endpoints of one Kubernetes service from its slices, with which pods (targetRef `namespace/name`, or IP) they read. */
function kubeEndpoints(
  service: MeshService,
  slices: readonly KubeObject[],
  pods: ReadonlyMap<string, StoredObject>,
  podsByIp: ReadonlyMap<string, KubeObject>,
): { byPort: Map<number, MeshEndpoint[]>; podRefs: Set<string> } {
  serviceIndexStats.endpointsBuilt++;
  const podRefs = new Set<string>();
  const byPort = new Map<number, MeshEndpoint[]>(service.ports.map((p) => [p.port, []]));
  for (const object of slices) {
    const namespace = object.metadata.namespace!;
    const slicePorts = (object.ports as { name?: string; port?: number }[] | undefined) ?? [];
    for (const ep of (object.endpoints as SliceEndpoint[] | undefined) ?? []) {
      const health = endpointHealth(ep.conditions);
      if (!health) continue;
      for (const address of ep.addresses ?? []) {
        const byRef = ep.targetRef?.kind === 'Pod' && ep.targetRef.name ? `${ep.targetRef.namespace ?? namespace}/${ep.targetRef.name}` : undefined;
        podRefs.add(byRef ?? address);
        const pod = byRef ? pods.get(byRef)?.object : podsByIp.get(address);
        const labels = pod?.metadata.labels ?? {};
        const serviceAccount = (pod?.spec as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? '';
        for (const servicePort of service.ports) {
          const slicePort = slicePorts.find((p) => (p.name ?? '') === servicePort.name);
          if (!slicePort?.port) continue;
          byPort.get(servicePort.port)!.push({
            address,
            port: slicePort.port,
            labels,
            locality: localityFromLabels(labels, ep.zone ?? ''),
            health,
            serviceAccount,
            weight: 1,
            workload: pod ? `${pod.metadata.namespace}/${pod.metadata.name}` : address,
          });
        }
      }
    }
  }
  for (const list of byPort.values()) list.sort(byAddressThenPort);
  return { byPort, podRefs };
}

const byAddressThenPort = (a: MeshEndpoint, b: MeshEndpoint): number => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port);

function slicesByHostOf(slices: ReadonlyMap<string, StoredObject>, kubeServices: ReadonlyMap<string, MeshService>): Map<string, KubeObject[]> {
  const out = new Map<string, KubeObject[]>();
  for (const { object } of slices.values()) {
    const service = kubeServices.get(`${object.metadata.namespace}/${object.metadata.labels?.['kubernetes.io/service-name']}`);
    if (!service) continue;
    const list = out.get(service.hostname);
    if (list) list.push(object);
    else out.set(service.hostname, [object]);
  }
  return out;
}

const noObjects: ReadonlyMap<string, StoredObject> = new Map();

export function buildServiceIndex(snapshot: ModelSnapshot, domainSuffix: string): ServiceIndex {
  serviceIndexStats.endpointsBuilt = 0;
  const byHostname = new Map<string, MeshService>();
  const endpoints = new Map<string, ReadonlyMap<number, MeshEndpoint[]>>();
  const pods = snapshot.get('Pod') ?? noObjects;
  const podsByIp = indexPodsByIp(pods);
  const kubeServices = new Map<string, MeshService>();
  for (const stored of snapshot.get('Service')?.values() ?? []) {
    const spec = stored.object.spec as KubeServiceSpec;
    if (spec.type === 'ExternalName') continue;
    const service = kubeService(stored, domainSuffix);
    kubeServices.set(`${service.namespace}/${service.name}`, service);
    byHostname.set(service.hostname, service);
  }
  const slicesByHost = slicesByHostOf(snapshot.get('EndpointSlice') ?? noObjects, kubeServices);
  const hostsByPodRef = new Map<string, readonly string[]>();
  const podRefsByHost = new Map<string, readonly string[]>();
  for (const service of kubeServices.values()) {
    const { byPort, podRefs } = kubeEndpoints(service, slicesByHost.get(service.hostname) ?? [], pods, podsByIp);
    endpoints.set(service.hostname, byPort);
    addPodRefs(hostsByPodRef, podRefsByHost, service.hostname, podRefs);
  }
  for (const stored of snapshot.get('ServiceEntry')?.values() ?? []) {
    for (const { service, endpoints: eps } of serviceEntryServices(stored)) {
      // A Kubernetes Service keeps its hostname; the first ServiceEntry for a host wins after it.
      if (byHostname.has(service.hostname)) continue;
      byHostname.set(service.hostname, service);
      for (const list of eps.values()) list.sort(byAddressThenPort);
      endpoints.set(service.hostname, eps);
    }
  }
  const services = [...byHostname.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  return {
    services,
    byHostname,
    endpoints,
    podsByIp,
    sources: {
      services: snapshot.get('Service'),
      serviceEntries: snapshot.get('ServiceEntry'),
      slices: snapshot.get('EndpointSlice'),
      pods: snapshot.get('Pod'),
      domainSuffix,
      kubeServices,
      slicesByHost,
      hostsByPodRef,
      podRefsByHost,
    },
  };
}

/** Keys of the entries that differ between two stores (added, removed or replaced objects). */
function changedKeys(before: ReadonlyMap<string, StoredObject> | undefined, after: ReadonlyMap<string, StoredObject> | undefined): string[] {
  if (before === after) return [];
  const a = before ?? noObjects;
  const b = after ?? noObjects;
  const out: string[] = [];
  for (const [key, stored] of b) if (a.get(key) !== stored) out.push(key);
  for (const key of a.keys()) if (!b.has(key)) out.push(key);
  return out;
}

const podIp = (stored: StoredObject | undefined): string | undefined => (stored?.object.status as { podIP?: string } | undefined)?.podIP;

/**
 * The index of `snapshot`, reusing `previous` where the change allows: when
 * only EndpointSlices and Pods changed, the services stay as they were and
 * only the endpoints of the services whose slices changed, or whose slices
 * name a changed pod (by targetRef or IP), are computed again. Any other
 * change to Services or ServiceEntries builds the index anew.
 */
export function updateServiceIndex(previous: ServiceIndex, snapshot: ModelSnapshot, domainSuffix: string): ServiceIndex {
  const was = previous.sources;
  if (was.domainSuffix !== domainSuffix || was.services !== snapshot.get('Service') || was.serviceEntries !== snapshot.get('ServiceEntry')) {
    return buildServiceIndex(snapshot, domainSuffix);
  }
  serviceIndexStats.endpointsBuilt = 0;
  const sliceKeys = changedKeys(was.slices, snapshot.get('EndpointSlice'));
  const podKeys = changedKeys(was.pods, snapshot.get('Pod'));
  if (sliceKeys.length === 0 && podKeys.length === 0) return previous;
  const pods = snapshot.get('Pod') ?? noObjects;
  const slices = snapshot.get('EndpointSlice') ?? noObjects;
  const podsByIp = podKeys.length === 0 ? previous.podsByIp : indexPodsByIp(pods);
  const slicesByHost = sliceKeys.length === 0 ? was.slicesByHost : slicesByHostOf(slices, was.kubeServices);
  const affected = new Set<string>();
  for (const key of sliceKeys) {
    for (const stored of [was.slices?.get(key), slices.get(key)]) {
      const service = stored && was.kubeServices.get(`${stored.object.metadata.namespace}/${stored.object.metadata.labels?.['kubernetes.io/service-name']}`);
      if (service) affected.add(service.hostname);
    }
  }
  for (const key of podKeys) {
    for (const ref of [key, podIp(was.pods?.get(key)), podIp(pods.get(key))]) {
      for (const host of (ref && was.hostsByPodRef.get(ref)) || []) affected.add(host);
    }
  }
  // Shallow copies: the lists of the services not affected stay shared with the previous index.
  const hostsByPodRef = new Map(was.hostsByPodRef);
  const podRefsByHost = new Map(was.podRefsByHost);
  for (const host of affected) {
    for (const ref of was.podRefsByHost.get(host) ?? []) {
      const rest = (hostsByPodRef.get(ref) ?? []).filter((h) => h !== host);
      if (rest.length > 0) hostsByPodRef.set(ref, rest);
      else hostsByPodRef.delete(ref);
    }
  }
  const endpoints = new Map(previous.endpoints);
  for (const host of affected) {
    const { byPort, podRefs } = kubeEndpoints(previous.byHostname.get(host)!, slicesByHost.get(host) ?? [], pods, podsByIp);
    endpoints.set(host, byPort);
    addPodRefs(hostsByPodRef, podRefsByHost, host, podRefs);
  }
  return {
    services: previous.services,
    byHostname: previous.byHostname,
    endpoints,
    podsByIp,
    sources: { ...was, slices: snapshot.get('EndpointSlice'), pods: snapshot.get('Pod'), slicesByHost, hostsByPodRef, podRefsByHost },
  };
}

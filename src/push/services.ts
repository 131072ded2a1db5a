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
        list.push(serviceEntryEndpoint(ep.address, epPort, ep.labels ?? {}, ep.locality, ep.weight ?? 1, ep.serviceAccount ?? '', `ServiceEntry/${namespace}/${object.metadata.name}`));
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
}

export function buildServiceIndex(snapshot: ModelSnapshot, domainSuffix: string): ServiceIndex {
  const byHostname = new Map<string, MeshService>();
  const endpoints = new Map<string, Map<number, MeshEndpoint[]>>();
  const pods = snapshot.get('Pod') ?? new Map<string, StoredObject>();
  const podsByIp = new Map<string, KubeObject>();
  for (const { object } of pods.values()) {
    const ip = (object.status as { podIP?: string } | undefined)?.podIP;
    if (ip) podsByIp.set(ip, object);
  }
  const kubeServices = new Map<string, MeshService>();
  for (const stored of snapshot.get('Service')?.values() ?? []) {
    const spec = stored.object.spec as KubeServiceSpec;
    if (spec.type === 'ExternalName') continue;
    const service = kubeService(stored, domainSuffix);
    kubeServices.set(`${service.namespace}/${service.name}`, service);
    byHostname.set(service.hostname, service);
    endpoints.set(service.hostname, new Map(service.ports.map((p) => [p.port, []])));
  }
  for (const { object } of snapshot.get('EndpointSlice')?.values() ?? []) {
    const namespace = object.metadata.namespace!;
    const service = kubeServices.get(`${namespace}/${object.metadata.labels?.['kubernetes.io/service-name']}`);
    if (!service) continue;
    const byPort = endpoints.get(service.hostname)!;
    const slicePorts = (object.ports as { name?: string; port?: number }[] | undefined) ?? [];
    for (const ep of (object.endpoints as SliceEndpoint[] | undefined) ?? []) {
      const health = endpointHealth(ep.conditions);
      if (!health) continue;
      for (const address of ep.addresses ?? []) {
        const pod =
          ep.targetRef?.kind === 'Pod' && ep.targetRef.name
            ? pods.get(`${ep.targetRef.namespace ?? namespace}/${ep.targetRef.name}`)?.object
            : podsByIp.get(address);
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
  for (const stored of snapshot.get('ServiceEntry')?.values() ?? []) {
    for (const { service, endpoints: eps } of serviceEntryServices(stored)) {
      // A Kubernetes Service keeps its hostname; the first ServiceEntry for a host wins after it.
      if (byHostname.has(service.hostname)) continue;
      byHostname.set(service.hostname, service);
      endpoints.set(service.hostname, eps);
    }
  }
  for (const byPort of endpoints.values()) {
    for (const list of byPort.values()) list.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port));
  }
  const services = [...byHostname.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  return { services, byHostname, endpoints, podsByIp };
}

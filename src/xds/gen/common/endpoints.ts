// ClusterLoadAssignment building: endpoints grouped by locality, filtered by
// subset labels, with the priorities and weights a DestinationRule's
// localityLbSetting asks for relative to the calling proxy.
import type { LocalityLbSetting } from '../../../model/istio.js';
import { TopologyLabels } from '../../../model/topology.js';
import { labelsMatch } from '../../../push/hosts.js';
import type { Locality, MeshEndpoint } from '../../../push/services.js';
import { toStruct } from './struct.js';
import { TlsModeIstio, TransportSocketMatchFilter, endpointRunsProxy } from '../../../security/index.js';
import { sharedMessage } from '../../../proto/jsonEncoder.js';
import type { LbEndpoint, LocalityLbEndpoints, Locality as EnvoyLocality, Struct } from '../../../proto/envoyTypes.generated.js';

/** `labels` plus the topology labels of a workload at `locality` in `clusterId` (a network label already set wins). */
export function withTopologyLabels(labels: Readonly<Record<string, string>>, locality: Locality, clusterId: string, network = ''): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  if (locality.region) out[TopologyLabels.region] = locality.region;
  if (locality.zone) out[TopologyLabels.zone] = locality.zone;
  if (locality.subZone) out[TopologyLabels.subZone] = locality.subZone;
  if (clusterId) out[TopologyLabels.cluster] = clusterId;
  if (network && !out[TopologyLabels.network]) out[TopologyLabels.network] = network;
  return out;
}

/** What locality load balancing needs to know about the calling proxy and the endpoints. */
export interface LocalityLbInput {
  readonly setting: LocalityLbSetting;
  /** istiod sets priorities only with outlier detection: without ejection Envoy would never fail over. */
  readonly failoverEnabled: boolean;
  readonly proxyLocality: Locality;
  /** The proxy's labels with its topology labels (withTopologyLabels). */
  readonly proxyLabels: Readonly<Record<string, string>>;
  /** Cluster of the endpoints, for their topology.istio.io/cluster label. */
  readonly clusterId: string;
}

/** Endpoints of one locality at one priority; weight unset means the sum of the endpoints' weights. */
interface LocalityGroup {
  readonly locality: Locality;
  readonly endpoints: readonly MeshEndpoint[];
  readonly priority: number;
  readonly weight?: number;
}

const localityKey = (l: Locality): string => `${l.region}/${l.zone}/${l.subZone}`;

const tlsModeIstioMetadata = sharedMessage(toStruct({ tlsMode: TlsModeIstio }));

function lbEndpoint(ep: MeshEndpoint): LbEndpoint {
  const filterMetadata: Record<string, Struct> = { istio: toStruct({ workload: ep.workload }) };
  // Auto mTLS: the cluster's tlsMode-istio transport socket match picks endpoints that run a proxy.
  if (endpointRunsProxy(ep.labels)) filterMetadata[TransportSocketMatchFilter] = tlsModeIstioMetadata;
  return {
    endpoint: { address: { socketAddress: { address: ep.address, portValue: ep.port } } },
    healthStatus: ep.health,
    metadata: { filterMetadata },
    loadBalancingWeight: { value: ep.weight },
  };
}

function groupByLocality(endpoints: readonly MeshEndpoint[], subsetLabels: Readonly<Record<string, string>> | undefined): LocalityGroup[] {
  const groups = new Map<string, { locality: Locality; endpoints: MeshEndpoint[] }>();
  for (const ep of endpoints) {
    if (subsetLabels && !labelsMatch(subsetLabels, ep.labels)) continue;
    const key = localityKey(ep.locality);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { locality: ep.locality, endpoints: [] }));
    group.endpoints.push(ep);
  }
  return [...groups.keys()].sort().map((key) => ({ ...groups.get(key)!, priority: 0 }));
}

function groupJson(group: LocalityGroup): LocalityLbEndpoints {
  const locality: EnvoyLocality = {};
  if (group.locality.region) locality.region = group.locality.region;
  if (group.locality.zone) locality.zone = group.locality.zone;
  if (group.locality.subZone) locality.subZone = group.locality.subZone;
  const weight = group.weight ?? group.endpoints.reduce((sum, ep) => sum + ep.weight, 0);
  const out: LocalityLbEndpoints = { locality, lbEndpoints: group.endpoints.map(lbEndpoint), loadBalancingWeight: { value: weight } };
  if (group.priority > 0) out.priority = group.priority;
  return out;
}

/**
 * Endpoints grouped per locality (sorted), optionally filtered by subset
 * labels, with the proxy-relative priorities or weights of `lb` when given.
 */
export function buildLocalityLbEndpoints(
  endpoints: readonly MeshEndpoint[],
  subsetLabels?: Readonly<Record<string, string>>,
  lb?: LocalityLbInput,
): LocalityLbEndpoints[] {
  const groups = groupByLocality(endpoints, subsetLabels);
  return (lb ? applyLocalityLb(groups, lb) : groups).map(groupJson);
}

function localityMatches(pattern: string, locality: Locality): boolean {
  const parts = pattern.split('/');
  const actual = [locality.region, locality.zone, locality.subZone];
  return parts.every((p, i) => p === '*' || p === actual[i]);
}

/**
 * istiod's locality load balancing: `distribute` rewrites locality weights;
 * otherwise, with failover enabled, `failoverPriority` orders endpoints by
 * the labels they share with the proxy, and `failover` (alone, or after
 * failoverPriority when both are set) by locality.
 */
function applyLocalityLb(groups: LocalityGroup[], lb: LocalityLbInput): LocalityGroup[] {
  const { setting } = lb;
  if (setting.enabled === false) return groups;
  if (setting.distribute?.length) return distributeWeights(groups, setting.distribute, lb.proxyLocality);
  if (!lb.failoverEnabled) return groups;
  let out = groups;
  if (setting.failoverPriority?.length) {
    out = splitByFailoverPriority(out, setting.failoverPriority, lb.proxyLabels, lb.clusterId);
    // failover on top of failoverPriority refines each level by locality (istiod: level * 5 + locality level).
    if (setting.failover?.length)
      out = out.map((g) => ({ ...g, priority: g.priority * 5 + localityFailoverLevel(g.locality, lb.proxyLocality, setting.failover) }));
  } else {
    out = out.map((g) => ({ ...g, priority: localityFailoverLevel(g.locality, lb.proxyLocality, setting.failover) }));
  }
  return withoutPriorityGaps(out);
}

function distributeWeights(groups: LocalityGroup[], distribute: NonNullable<LocalityLbSetting['distribute']>, proxyLocality: Locality): LocalityGroup[] {
  const rule = distribute.find((d) => d.from && localityMatches(d.from, proxyLocality));
  if (!rule?.to) return groups;
  return groups
    .map((g) => ({ ...g, weight: Object.entries(rule.to!).reduce((w, [pattern, value]) => (localityMatches(pattern, g.locality) ? value : w), 0) }))
    .filter((g) => g.weight > 0);
}

/** Same subzone 0, same zone 1, same region 2, elsewhere 3, or 4 when a failover rule for the proxy's region names another region. */
function localityFailoverLevel(locality: Locality, proxy: Locality, failover: LocalityLbSetting['failover']): number {
  if (locality.region === proxy.region) {
    if (locality.zone !== proxy.zone) return 2;
    return locality.subZone === proxy.subZone ? 0 : 1;
  }
  const rule = failover?.find((f) => f.from === proxy.region);
  return rule && rule.to !== locality.region ? 4 : 3;
}

/**
 * failoverPriority: an endpoint matching the proxy on every listed label
 * (`label`, or `label=value` to compare with a fixed value) is priority 0;
 * one first differing on the j-th of n labels is priority n - j. Each
 * locality splits into one group per priority present.
 */
function splitByFailoverPriority(
  groups: LocalityGroup[],
  entries: readonly string[],
  proxyLabels: Readonly<Record<string, string>>,
  clusterId: string,
): LocalityGroup[] {
  // istiod leaves priorities alone for a proxy without labels.
  if (Object.keys(proxyLabels).length === 0) return groups;
  const wanted = entries.map((entry) => {
    const parts = entry.split('=');
    const label = parts[0]!;
    return { label, value: parts.length === 2 ? parts[1]! : (proxyLabels[label] ?? '') };
  });
  const out: LocalityGroup[] = [];
  for (const group of groups) {
    const byPriority = new Map<number, MeshEndpoint[]>();
    for (const ep of group.endpoints) {
      const labels = withTopologyLabels(ep.labels, ep.locality, clusterId);
      const firstMismatch = wanted.findIndex((w) => (labels[w.label] ?? '') !== w.value);
      const priority = firstMismatch < 0 ? 0 : wanted.length - firstMismatch;
      const list = byPriority.get(priority);
      if (list) list.push(ep);
      else byPriority.set(priority, [ep]);
    }
    for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
      out.push({ locality: group.locality, endpoints: byPriority.get(priority)!, priority });
    }
  }
  return out;
}

/** Envoy wants priorities 0..n without gaps: the levels in use are renumbered in order. */
function withoutPriorityGaps(groups: LocalityGroup[]): LocalityGroup[] {
  const used = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  return groups.map((g) => ({ ...g, priority: used.indexOf(g.priority) }));
}

/** What of the proxy a localityLbSetting makes load assignments depend on: its locality, and the proxy labels failoverPriority compares. */
export function localityLbProxyInputs(setting: LocalityLbSetting): { locality: boolean; labels: string[] } {
  if (setting.enabled === false) return { locality: false, labels: [] };
  const labels = setting.distribute?.length ? [] : (setting.failoverPriority ?? []).filter((e) => e.split('=').length !== 2).map((e) => e.split('=')[0]!);
  return { locality: true, labels };
}

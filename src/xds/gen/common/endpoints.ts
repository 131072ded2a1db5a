// ClusterLoadAssignment building: endpoints grouped by locality, filtered by
// subset labels, with locality-aware priorities and weights when a
// DestinationRule's localityLbSetting asks for them.
import type { LocalityLbSetting } from '../../../model/istio.js';
import { labelsMatch } from '../../../push/hosts.js';
import type { Locality, MeshEndpoint } from '../../../push/services.js';
import { toStruct } from './struct.js';
import { TlsModeIstio, TransportSocketMatchFilter, endpointRunsProxy } from '../../../security/index.js';
import type { Json } from './clusters.js';

const localityKey = (l: Locality): string => `${l.region}/${l.zone}/${l.subZone}`;

function lbEndpoint(ep: MeshEndpoint): Json {
  const filterMetadata: Json = { istio: toStruct({ workload: ep.workload }) };
  // Auto mTLS: the cluster's tlsMode-istio transport socket match picks endpoints that run a proxy.
  if (endpointRunsProxy(ep.labels)) filterMetadata[TransportSocketMatchFilter] = toStruct({ tlsMode: TlsModeIstio });
  return {
    endpoint: { address: { socketAddress: { address: ep.address, portValue: ep.port } } },
    healthStatus: ep.health,
    metadata: { filterMetadata },
    loadBalancingWeight: { value: ep.weight },
  };
}

/** Endpoints grouped per locality (sorted), optionally filtered by subset labels. */
export function buildLocalityLbEndpoints(endpoints: readonly MeshEndpoint[], subsetLabels?: Readonly<Record<string, string>>): Json[] {
  const groups = new Map<string, { locality: Locality; endpoints: MeshEndpoint[] }>();
  for (const ep of endpoints) {
    if (subsetLabels && !labelsMatch(subsetLabels, ep.labels)) continue;
    const key = localityKey(ep.locality);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { locality: ep.locality, endpoints: [] }));
    group.endpoints.push(ep);
  }
  return [...groups.keys()].sort().map((key) => {
    const group = groups.get(key)!;
    const locality: Json = {};
    if (group.locality.region) locality.region = group.locality.region;
    if (group.locality.zone) locality.zone = group.locality.zone;
    if (group.locality.subZone) locality.subZone = group.locality.subZone;
    return {
      locality,
      lbEndpoints: group.endpoints.map(lbEndpoint),
      loadBalancingWeight: { value: group.endpoints.reduce((sum, ep) => sum + ep.weight, 0) },
    };
  });
}

function localityMatches(pattern: string, locality: Locality): boolean {
  const parts = pattern.split('/');
  const actual = [locality.region, locality.zone, locality.subZone];
  return parts.every((p, i) => p === '*' || p === actual[i]);
}

/**
 * Applies localityLbSetting for a proxy at `proxyLocality`:
 * `distribute` rewrites locality weights; failover (which istiod only applies
 * with outlier detection) assigns priorities: same subzone 0, same zone 1,
 * same region 2, the failover target region 3, anything else 4.
 */
export function applyLocalityLb(groups: Json[], setting: LocalityLbSetting | undefined, proxyLocality: Locality, failoverEnabled: boolean): Json[] {
  if (!setting || setting.enabled === false) return groups;
  const distribute = setting.distribute?.find((d) => d.from && localityMatches(d.from, proxyLocality));
  if (distribute?.to) {
    return groups
      .map((g) => {
        const loc = localityOf(g);
        const weight = Object.entries(distribute.to!).reduce((w, [pattern, value]) => (localityMatches(pattern, loc) ? value : w), 0);
        return { ...g, loadBalancingWeight: { value: weight } };
      })
      .filter((g) => (g.loadBalancingWeight as { value: number }).value > 0);
  }
  if (!failoverEnabled) return groups;
  const failoverTo = setting.failover?.find((f) => f.from === proxyLocality.region)?.to;
  const levels = groups.map((g) => {
    const loc = localityOf(g);
    if (loc.region === proxyLocality.region) {
      return loc.zone === proxyLocality.zone ? (loc.subZone === proxyLocality.subZone ? 0 : 1) : 2;
    }
    return failoverTo && loc.region === failoverTo ? 3 : 4;
  });
  // Envoy wants priorities without gaps, so the levels in use are renumbered 0..n.
  const used = [...new Set(levels)].sort((a, b) => a - b);
  return groups.map((g, i) => {
    const priority = used.indexOf(levels[i]!);
    return priority === 0 ? g : { ...g, priority };
  });
}

function localityOf(group: Json): Locality {
  const l = group.locality as Partial<Locality>;
  return { region: l.region ?? '', zone: l.zone ?? '', subZone: l.subZone ?? '' };
}

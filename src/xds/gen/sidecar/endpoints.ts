// Sidecar EDS: one ClusterLoadAssignment per EDS cluster name, with subset
// label filtering and the DestinationRule's locality load balancing.
import type { DestinationRuleSpec, LocalityLbSetting } from '../../../model/istio.js';
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext, ProxyScope } from '../../../push/pushContext.js';
import type { MeshService } from '../../../push/services.js';
import { loadBalancerSettings } from '../../../push/destinationRules.js';
import type { CacheEntry } from '../../../push/contextCache.js';
import { memo } from '../cache.js';
import { endpointProxyInputsEntry, serviceEndpointsEntry } from '../cacheKeys.js';
import { buildLocalityLbEndpoints, localityLbProxyInputs, withTopologyLabels } from '../common/endpoints.js';
import { parseClusterName } from '../common/names.js';
import { subsetTrafficPolicy } from '../common/trafficPolicy.js';
import type { ClusterLoadAssignment } from '../../../proto/envoyTypes.generated.js';

export interface LoadAssignmentPlan {
  readonly clusterName: string;
  /** The cache entry: identifies the inputs, so equal plans share one encoded result (see serviceEndpointsEntry). */
  readonly entry: CacheEntry;
  build(): ClusterLoadAssignment;
}

/** The proxy's labels with istiod's topology labels: what failoverPriority compares endpoint labels with. */
export function proxyTopologyLabels(proxy: Proxy): Record<string, string> {
  const network = typeof proxy.metadata.NETWORK === 'string' ? proxy.metadata.NETWORK : '';
  return withTopologyLabels(proxy.labels, proxy.locality, proxy.clusterId, network);
}

/** The proxy's locality and label values a load assignment depends on, as a cache key suffix ('' when none). */
function proxyInputsKey(proxy: Proxy, inputs: { locality: boolean; labels: readonly string[] }): string {
  if (!inputs.locality && inputs.labels.length === 0) return '';
  const { region, zone, subZone } = proxy.locality;
  const labels = inputs.labels.length > 0 ? proxyTopologyLabels(proxy) : {};
  return `|${inputs.locality ? `${region}/${zone}/${subZone}` : ''}|${inputs.labels.map((l) => `${l}=${labels[l] ?? ''}`).join(',')}`;
}

/** An outbound EDS cluster of a scope, as its name says it. */
export interface EdsCluster {
  readonly name: string;
  readonly service: MeshService;
  readonly port: number;
  readonly subset?: string;
}

/** Plans the load assignment of `clusterName` for a proxy, or undefined when the cluster is not an outbound EDS cluster. */
export function planLoadAssignment(context: PushContext, proxy: Proxy, clusterName: string): LoadAssignmentPlan | undefined {
  const parsed = parseClusterName(clusterName);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const service = context.service(parsed.hostname);
  if (!service || service.resolution !== 'ClientSideLB') return undefined;
  const cluster = { name: clusterName, service, port: parsed.port, ...(parsed.subset ? { subset: parsed.subset } : {}) };
  return planClusterLoadAssignment(context, proxy, context.scopeFor(proxy), cluster);
}

/** Like planLoadAssignment, for a cluster already resolved (the scope's own list): no name parsing, no scope lookup. */
export function planClusterLoadAssignment(context: PushContext, proxy: Proxy, scope: ProxyScope, cluster: EdsCluster): LoadAssignmentPlan | undefined {
  const { service, name: clusterName, port } = cluster;
  const destinationRule = context.destinationRuleFor(scope, service.hostname);
  const subset = cluster.subset ? destinationRule?.spec.subsets?.find((s) => s.name === cluster.subset) : undefined;
  // A subset no DestinationRule defines has no cluster; its route fails with 503 as under istiod.
  if (cluster.subset && !subset) return undefined;
  const policy = subsetTrafficPolicy(destinationRule?.spec.trafficPolicy, subset?.trafficPolicy, port);
  const setting = policy?.loadBalancer?.localityLbSetting;
  const proxyKey = setting ? proxyInputsKey(proxy, localityLbProxyInputs(setting)) : '';
  const drKey = destinationRule ? destinationRule.from.join(',') : '-';
  return {
    clusterName,
    entry: serviceEndpointsEntry(service.hostname, clusterName, `${drKey}${proxyKey}`),
    build() {
      const lb = setting && {
        setting,
        failoverEnabled: policy?.outlierDetection !== undefined,
        proxyLocality: proxy.locality,
        proxyLabels: proxyTopologyLabels(proxy),
        clusterId: context.options.clusterId,
      };
      const endpoints = buildLocalityLbEndpoints(context.endpoints(service.hostname, port), subset ? (subset.labels ?? {}) : undefined, lb);
      return { clusterName, endpoints };
    },
  };
}

/**
 * The part of a proxy's identity the load assignments of its scope depend
 * on (locality, failoverPriority label values), so proxies that differ only
 * elsewhere share them.
 */
export function proxyEndpointsKey(context: PushContext, scope: ProxyScope, proxy: Proxy): string {
  const inputs = memo(context, endpointProxyInputsEntry(scope.key), () => {
    let locality = false;
    const labels = new Set<string>();
    for (const service of scope.services) {
      if (service.resolution !== 'ClientSideLB') continue;
      for (const setting of localityLbSettings(context.destinationRuleFor(scope, service.hostname)?.spec)) {
        const needs = localityLbProxyInputs(setting);
        locality ||= needs.locality;
        for (const label of needs.labels) labels.add(label);
      }
    }
    return { locality, labels: [...labels].sort() };
  });
  return proxyInputsKey(proxy, inputs);
}

/** Every localityLbSetting of a DestinationRule: top level, port level, subsets and their port levels. */
function localityLbSettings(spec: DestinationRuleSpec | undefined): LocalityLbSetting[] {
  return loadBalancerSettings(spec)
    .map((lb) => lb.localityLbSetting)
    .filter((s): s is LocalityLbSetting => s !== undefined);
}

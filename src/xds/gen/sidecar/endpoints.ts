// Sidecar EDS: one ClusterLoadAssignment per EDS cluster name, with subset
// label filtering and the DestinationRule's locality load balancing.
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext } from '../../../push/pushContext.js';
import { applyLocalityLb, buildLocalityLbEndpoints } from '../common/endpoints.js';
import { parseClusterName } from '../common/names.js';
import { subsetTrafficPolicy } from '../common/trafficPolicy.js';
import type { Json } from '../common/clusters.js';

export interface LoadAssignmentPlan {
  /** Identifies the inputs, so equal plans share one encoded result. */
  key: string;
  build(): Json;
}

/** Plans the load assignment of `clusterName` for a proxy, or undefined when the cluster is not an outbound EDS cluster. */
export function planLoadAssignment(context: PushContext, proxy: Proxy, clusterName: string): LoadAssignmentPlan | undefined {
  const parsed = parseClusterName(clusterName);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const service = context.service(parsed.hostname);
  if (!service || service.resolution !== 'ClientSideLB') return undefined;
  const destinationRule = context.destinationRuleFor(proxy.namespace, service.hostname);
  const subset = parsed.subset ? destinationRule?.spec.subsets?.find((s) => s.name === parsed.subset) : undefined;
  // A subset no DestinationRule defines has no cluster; its route fails with 503 as under istiod.
  if (parsed.subset && !subset) return undefined;
  const policy = subsetTrafficPolicy(destinationRule?.spec.trafficPolicy, subset?.trafficPolicy, parsed.port);
  const locality = policy?.loadBalancer?.localityLbSetting;
  const failover = policy?.outlierDetection !== undefined;
  const localityKey = locality ? `|${proxy.locality.region}/${proxy.locality.zone}/${proxy.locality.subZone}` : '';
  const drKey = destinationRule ? `${destinationRule.namespace}/${destinationRule.name}` : '-';
  return {
    key: `${clusterName}|${drKey}${localityKey}`,
    build() {
      const groups = buildLocalityLbEndpoints(context.endpoints(service.hostname, parsed.port), subset ? (subset.labels ?? {}) : undefined);
      return { clusterName, endpoints: applyLocalityLb(groups, locality, proxy.locality, failover) };
    },
  };
}

// gRPC CDS: EDS clusters for exactly the names a client asked for (gRPC
// subscribes to the clusters its routes name), the default cluster and the
// DestinationRule subsets, as istiod's gRPC generator builds them. gRPC
// clients implement round robin and ring hash only; circuit breaking here is
// max_requests (gRPC's only threshold) and outlier detection is passed on
// with istiod's field mapping.
import type { LoadBalancerSettings } from '../../../model/istio.js';
import type { Cluster } from '../../../proto/envoyTypes.generated.js';
import { applyOutlierDetection } from '../common/clusters.js';
import { adsConfigSource } from '../common/names.js';
import type { EffectiveTrafficPolicy } from '../common/trafficPolicy.js';

/**
 * gRPC's load-balancing policy for a DestinationRule setting: consistent
 * hashing becomes RING_HASH; everything else is ROUND_ROBIN, since gRPC
 * rejects (NACKs) the other Envoy policies and istiod falls back the same way.
 */
export function applyGrpcLoadBalancer(cluster: Cluster, lb: LoadBalancerSettings | undefined): void {
  const hash = lb?.consistentHash;
  if (!hash) {
    cluster.lbPolicy = 'ROUND_ROBIN';
    return;
  }
  cluster.lbPolicy = 'RING_HASH';
  const minimumRingSize = hash.ringHash?.minimumRingSize ?? hash.minimumRingSize;
  if (minimumRingSize) cluster.ringHashLbConfig = { minimumRingSize: { value: minimumRingSize } };
}

/** An EDS cluster over ADS with the merged traffic policy of its port (and subset). */
export function buildGrpcCluster(name: string, policy: EffectiveTrafficPolicy | undefined): Cluster {
  const cluster: Cluster = {
    name,
    type: 'EDS',
    edsClusterConfig: { edsConfig: adsConfigSource(), serviceName: name },
  };
  applyGrpcLoadBalancer(cluster, policy?.loadBalancer);
  const maxRequests = policy?.connectionPool?.http?.http2MaxRequests;
  if (maxRequests) cluster.circuitBreakers = { thresholds: [{ maxRequests: { value: maxRequests } }] };
  if (policy?.outlierDetection) {
    cluster.commonLbConfig = {};
    applyOutlierDetection(cluster, policy.outlierDetection);
  }
  return cluster;
}

// Topology labels istiod adds to workload and proxy labels (its
// AugmentLabels): failoverPriority may name them, and validation knows the
// locality ones.
export const TopologyLabels = {
  region: 'topology.kubernetes.io/region',
  zone: 'topology.kubernetes.io/zone',
  subZone: 'topology.istio.io/subzone',
  cluster: 'topology.istio.io/cluster',
  network: 'topology.istio.io/network',
} as const;

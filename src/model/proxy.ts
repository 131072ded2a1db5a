// A connected proxy as istiod sees it: node id and node metadata parsed the way
// istiod parses them (TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local).

export type ProxyType = 'sidecar' | 'router';

export interface ProxyLocality {
  region: string;
  zone: string;
  subZone: string;
}

export interface Proxy {
  /** The full node id as the proxy sent it. */
  id: string;
  type: ProxyType;
  ipAddresses: string[];
  /** POD part of the node id (before the first dot of the third field). */
  podName: string;
  namespace: string;
  dnsDomain: string;
  labels: Record<string, string>;
  serviceAccount: string;
  clusterId: string;
  istioVersion: string;
  /** Node metadata GENERATOR: `grpc` for proxyless gRPC workloads. */
  generator: string;
  workloadName: string;
  meshId: string;
  locality: ProxyLocality;
  /** All node metadata, as JSON values. */
  metadata: Record<string, unknown>;
  /** The node's `cluster` (istio-agent: CANONICAL-NAME.NAMESPACE): tracers' service name. */
  serviceCluster?: string;
}

export class NodeIdError extends Error {}

/**
 * The service name tracers report for a proxy: the node's `cluster`, or what
 * istio-agent puts there when it is unset or `istio-proxy` (canonical name,
 * else workload name, then `.NAMESPACE`).
 */
export function proxyServiceCluster(proxy: Pick<Proxy, 'serviceCluster' | 'labels' | 'workloadName' | 'namespace'>): string {
  if (proxy.serviceCluster && proxy.serviceCluster !== 'istio-proxy') return proxy.serviceCluster;
  const name = proxy.labels['service.istio.io/canonical-name'] || proxy.workloadName || 'istio-proxy';
  return proxy.namespace ? `${name}.${proxy.namespace}` : name;
}

/** istioctl's name for a proxy (proxy-status NAME): POD.NAMESPACE, the node id's third part. */
export function proxyDisplayName(nodeId: string): string {
  return nodeId.split('~')[2] ?? nodeId;
}

/** The subset of envoy.config.core.v3.Node that identifies a proxy (decoded to JSON). */
export interface NodeLike {
  id?: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
  locality?: { region?: string; zone?: string; subZone?: string };
}

function stringField(metadata: Record<string, unknown>, key: string): string {
  const value = metadata[key];
  return typeof value === 'string' ? value : '';
}

function labelsField(metadata: Record<string, unknown>): Record<string, string> {
  const value = metadata.LABELS;
  if (!value || typeof value !== 'object') return {};
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string') labels[k] = v;
  }
  return labels;
}

/**
 * Parses a node id and metadata as istiod does. Throws NodeIdError with the
 * reason when the id does not have the four `~`-separated parts or an
 * unknown proxy type.
 */
export function parseProxy(node: NodeLike): Proxy {
  const id = node.id ?? '';
  if (!id) throw new NodeIdError('node id is empty');
  const parts = id.split('~');
  if (parts.length !== 4) {
    throw new NodeIdError(`node id ${JSON.stringify(id)} must have 4 parts TYPE~IP~POD.NAMESPACE~DOMAIN, got ${parts.length}`);
  }
  const [type, ip, podPart, dnsDomain] = parts as [string, string, string, string];
  if (type !== 'sidecar' && type !== 'router') {
    throw new NodeIdError(`node id ${JSON.stringify(id)} has proxy type ${JSON.stringify(type)}, want sidecar or router`);
  }
  const metadata = node.metadata ?? {};
  const instanceIps = stringField(metadata, 'INSTANCE_IPS');
  const ipAddresses = instanceIps
    ? instanceIps
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : ip
      ? [ip]
      : [];
  const dot = podPart.indexOf('.');
  const podName = dot >= 0 ? podPart.slice(0, dot) : podPart;
  const namespaceFromId = dot >= 0 ? podPart.slice(dot + 1) : '';
  const namespace = stringField(metadata, 'NAMESPACE') || namespaceFromId;
  return {
    id,
    type,
    ipAddresses,
    podName,
    namespace,
    dnsDomain,
    labels: labelsField(metadata),
    serviceAccount: stringField(metadata, 'SERVICE_ACCOUNT'),
    clusterId: stringField(metadata, 'CLUSTER_ID') || 'Kubernetes',
    istioVersion: stringField(metadata, 'ISTIO_VERSION'),
    generator: stringField(metadata, 'GENERATOR'),
    workloadName: stringField(metadata, 'WORKLOAD_NAME'),
    meshId: stringField(metadata, 'MESH_ID'),
    locality: {
      region: node.locality?.region ?? '',
      zone: node.locality?.zone ?? '',
      subZone: node.locality?.subZone ?? '',
    },
    metadata,
    ...(node.cluster ? { serviceCluster: node.cluster } : {}),
  };
}

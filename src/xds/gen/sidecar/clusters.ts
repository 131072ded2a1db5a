// Sidecar CDS: outbound clusters per visible service port and DestinationRule
// subset, inbound clusters for the workload's own ports, and the
// BlackHole / Passthrough / InboundPassthrough clusters.
import { isIPv4, isIPv6 } from 'node:net';
import type { PushContext, ProxyScope, ServiceTarget } from '../../../push/pushContext.js';
import type { MeshService, MeshServicePort } from '../../../push/services.js';
import {
  buildBlackHoleCluster,
  buildInboundCluster,
  buildInboundPassthroughCluster,
  buildOutboundCluster,
  buildPassthroughCluster,
  type InboundEndpoint,
} from '../common/clusters.js';
import type { Cluster } from '../../../proto/envoyTypes.generated.js';
import type { DefaultEndpoint } from '../../../model/defaultEndpoint.js';
import { outboundClusterName } from '../common/names.js';
import { portTrafficPolicy, subsetTrafficPolicy } from '../common/trafficPolicy.js';
import { serviceIdentities } from '../../../security/index.js';
import type { CacheEntry } from '../../../push/contextCache.js';
import { serviceClustersEntry } from '../cacheKeys.js';

/**
 * The cache entry of a service port's clusters: they depend on the service, the
 * port and the DestinationRule the scope sees. Scopes (namespaces, Sidecars)
 * that see the same rule share the clusters, as istiod's cache shares them.
 */
export function serviceClustersEntryFor(context: PushContext, scope: ProxyScope, service: MeshService, port: MeshServicePort): CacheEntry {
  const destinationRule = context.destinationRuleFor(scope, service.hostname);
  return serviceClustersEntry(service.hostname, port.port, destinationRule ? destinationRule.from.join(',') : '-');
}

export function serviceClusters(context: PushContext, scope: ProxyScope, service: MeshService, port: MeshServicePort): Cluster[] {
  const destinationRule = context.destinationRuleFor(scope, service.hostname);
  const trafficPolicy = destinationRule?.spec.trafficPolicy;
  const endpoints = service.resolution === 'DNSLB' || service.resolution === 'DNSRoundRobinLB' ? context.endpoints(service.hostname, port.port) : [];
  const identities = serviceIdentities(context.endpoints(service.hostname, port.port), service.namespace, context.options.trustDomain);
  const clusters: (Cluster | undefined)[] = [
    buildOutboundCluster({
      name: outboundClusterName(port.port, '', service.hostname),
      service,
      port,
      policy: portTrafficPolicy(trafficPolicy, port.port),
      ...(destinationRule ? { destinationRule } : {}),
      endpoints,
      serviceIdentities: identities,
    }),
  ];
  for (const subset of destinationRule?.spec.subsets ?? []) {
    clusters.push(
      buildOutboundCluster({
        name: outboundClusterName(port.port, subset.name, service.hostname),
        service,
        port,
        subset: subset.name,
        subsetLabels: subset.labels ?? {},
        policy: subsetTrafficPolicy(trafficPolicy, subset.trafficPolicy, port.port),
        ...(destinationRule ? { destinationRule } : {}),
        endpoints,
        serviceIdentities: identities,
      }),
    );
  }
  return clusters.filter((c): c is Cluster => c !== undefined);
}

export function outboundClusters(context: PushContext, scope: ProxyScope): Cluster[] {
  const clusters: Cluster[] = [];
  for (const service of scope.services) {
    for (const port of service.ports) clusters.push(...serviceClusters(context, scope, service, port));
  }
  return clusters;
}

/** One inbound cluster per workload port; a Sidecar ingress port may deliver to its defaultEndpoint and carry a connection pool. */
export function inboundClusters(targets: readonly ServiceTarget[], proxyIps: readonly string[]): Cluster[] {
  return targets.map((t) => {
    const endpoint = ingressEndpoint(t.sidecarIngress?.defaultEndpoint, proxyIps);
    return buildInboundCluster(t.targetPort, t.service, t.port, {
      ...(endpoint ? { endpoint } : {}),
      ...(t.connectionPool ? { connectionPool: t.connectionPool } : {}),
    });
  });
}

/**
 * The address a defaultEndpoint names for this proxy, as istiod resolves it:
 * `0.0.0.0` (`::`) is the pod's own IPv4 (IPv6) address, loopback is taken in
 * a family the proxy has; undefined (`:PORT` or unset) keeps the original destination.
 */
function ingressEndpoint(endpoint: DefaultEndpoint | undefined, proxyIps: readonly string[]): InboundEndpoint | undefined {
  if (!endpoint) return undefined;
  if (endpoint.kind === 'pipe') return { pipe: endpoint.path };
  const ipv4 = proxyIps.find((ip) => isIPv4(ip));
  const ipv6 = proxyIps.find((ip) => isIPv6(ip));
  const { port } = endpoint;
  switch (endpoint.host) {
    case '0.0.0.0':
      return { address: ipv4 ?? '127.0.0.1', port };
    case '::':
      return { address: ipv6 ?? '::1', port };
    case '127.0.0.1':
      return { address: ipv4 || !ipv6 ? '127.0.0.1' : '::1', port };
    case '::1':
      return { address: ipv6 ? '::1' : '127.0.0.1', port };
    default:
      return undefined;
  }
}

export function wellKnownClusters(): Cluster[] {
  return [buildBlackHoleCluster(), buildPassthroughCluster(), buildInboundPassthroughCluster()];
}

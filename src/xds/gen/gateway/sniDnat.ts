// AUTO_PASSTHROUGH (east-west gateways), as istiod builds it: a filter chain
// per service port (and DestinationRule subset) the server's hosts cover,
// matching the SNI a sidecar sends in ISTIO_MUTUAL (`outbound_.PORT_.SUBSET_.HOST`)
// and Istio's mTLS ALPNs, forwarding the still-encrypted connection to an
// SNI-DNAT cluster of that name. Those clusters (for routers started with
// ROUTER_MODE=sni-dnat) are the outbound clusters without upstream TLS, and
// their endpoints only the ones that run a proxy, so nothing reaches a
// workload without mTLS.
import type { Proxy } from '../../../model/proxy.js';
import type { ProxyScope, PushContext } from '../../../push/pushContext.js';
import { hostMatches } from '../../../push/hosts.js';
import type { MergedServer } from '../../../push/gateways.js';
import { Alpn, TransportSocketMatchFilter } from '../../../security/index.js';
import { delimitedStatsPrefix, outboundNameOfSniDnat, sniDnatClusterName } from '../common/names.js';
import { tcpProxy } from '../common/listeners.js';
import type { Cluster, ClusterLoadAssignment, FilterChain } from '../../../proto/envoyTypes.generated.js';
import { serviceClusters } from '../sidecar/clusters.js';
import { planLoadAssignment, type LoadAssignmentPlan } from '../sidecar/endpoints.js';
import { sniDnatEndpointsEntry } from '../cacheKeys.js';

/** istiod's router mode for east-west gateways (node metadata ROUTER_MODE). */
export function isSniDnatRouter(proxy: Proxy): boolean {
  return proxy.metadata.ROUTER_MODE === 'sni-dnat';
}

/** Service ports (with subsets) of the scope that AUTO_PASSTHROUGH hosts cover: not mesh-external, not UDP. */
function coveredClusterNames(context: PushContext, scope: ProxyScope, hosts: readonly string[]): string[] {
  const names: string[] = [];
  for (const service of scope.services) {
    if (service.meshExternal || !hosts.some((h) => hostMatches(h, service.hostname))) continue;
    const subsets = context.destinationRuleFor(scope, service.hostname)?.spec.subsets ?? [];
    for (const port of service.ports) {
      if (port.protocol === 'UDP') continue;
      names.push(sniDnatClusterName(port.port, '', service.hostname), ...subsets.map((s) => sniDnatClusterName(port.port, s.name, service.hostname)));
    }
  }
  return names;
}

/** The AUTO_PASSTHROUGH chains of a server; an SNI already claimed on the listener is skipped. */
export function autoPassthroughChains(context: PushContext, proxy: Proxy, server: MergedServer, claimed: Set<string>): FilterChain[] {
  const hosts = (server.server.hosts ?? []).map((h) => h.slice(h.indexOf('/') + 1));
  const chains: FilterChain[] = [];
  for (const name of coveredClusterNames(context, context.scopeFor(proxy), hosts)) {
    if (claimed.has(name)) continue;
    claimed.add(name);
    chains.push({ filterChainMatch: { serverNames: [name], applicationProtocols: [...Alpn.allIstioMtls] }, filters: [tcpProxy(name, name)] });
  }
  return chains;
}

/** SNI-DNAT clusters of the scope: each outbound cluster renamed, without upstream TLS or HTTP options (the bytes pass through). */
export function sniDnatClusters(context: PushContext, scope: ProxyScope): Cluster[] {
  const out: Cluster[] = [];
  for (const service of scope.services) {
    if (service.meshExternal) continue;
    for (const port of service.ports) {
      if (port.protocol === 'UDP') continue;
      for (const cluster of serviceClusters(context, scope, service, port)) {
        const parts = String(cluster.name).split('|');
        const name = sniDnatClusterName(port.port, parts[2] ?? '', service.hostname);
        const { transportSocket: _t, transportSocketMatches: _m, typedExtensionProtocolOptions: _o, ...rest } = cluster;
        const renamed: Cluster = { ...rest, name };
        if (rest.edsClusterConfig) renamed.edsClusterConfig = { ...rest.edsClusterConfig, serviceName: name };
        if (rest.altStatName) renamed.altStatName = delimitedStatsPrefix(name);
        out.push(renamed);
      }
    }
  }
  return out;
}

/** The load assignment of an SNI-DNAT cluster: its outbound cluster's, keeping only endpoints that run a proxy. */
export function planSniDnatLoadAssignment(context: PushContext, proxy: Proxy, name: string): LoadAssignmentPlan | undefined {
  const outbound = outboundNameOfSniDnat(name);
  const plan = outbound ? planLoadAssignment(context, proxy, outbound) : undefined;
  if (!plan) return undefined;
  return {
    clusterName: name,
    entry: sniDnatEndpointsEntry(plan.entry),
    build(): ClusterLoadAssignment {
      const built = plan.build();
      const endpoints = (built.endpoints ?? [])
        .map((locality) => {
          const lbEndpoints = (locality.lbEndpoints ?? []).filter((ep) => ep.metadata?.filterMetadata?.[TransportSocketMatchFilter] !== undefined);
          const weight = lbEndpoints.reduce((sum, ep) => sum + (ep.loadBalancingWeight?.value ?? 1), 0);
          return { ...locality, lbEndpoints, loadBalancingWeight: { value: weight } };
        })
        .filter((locality) => locality.lbEndpoints.length > 0);
      return { clusterName: name, endpoints };
    },
  };
}

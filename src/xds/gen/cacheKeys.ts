// The cache entries of generation results: one builder per kind of result,
// each declaring what the result depends on (see push/contextCache.ts), so
// that which results a change leaves valid follows from the declarations.
// A key holds every input that is not a declared dependency (the scope, a
// proxy's inbound ports, the EnvoyFilter and Telemetry keys); its text is an
// identity only, never parsed.
import type { CacheEntry, SecretRef } from '../../push/contextCache.js';
import { MeshSecurityPoliciesCacheKey } from '../../security/index.js';
import { TypeUrl } from '../resource.js';

const clusterTypes: readonly string[] = [TypeUrl.Cluster];
const listenerTypes: readonly string[] = [TypeUrl.Listener];
const routeTypes: readonly string[] = [TypeUrl.RouteConfiguration];
const secretTypes: readonly string[] = [TypeUrl.Secret];
/** Load assignments are named after clusters, so a cluster change reaches them too. */
const endpointTypes: readonly string[] = [TypeUrl.ClusterLoadAssignment, TypeUrl.Cluster];

const entry = (
  kind: string,
  key: string,
  types: CacheEntry['types'],
  more: Pick<CacheEntry, 'endpoints' | 'secrets' | 'routing' | 'gateways'> = {},
): CacheEntry => ({
  kind,
  key,
  types,
  ...more,
});

// ---------------------------------------------------------------- one push context only

/** The mesh's security policies (shared by the sidecar and gRPC generators). */
export const meshSecurityPoliciesEntry: CacheEntry = entry('mesh-security-policies', MeshSecurityPoliciesCacheKey, 'context');

/** A workload's inbound security, by namespace and labels (JSON of the sorted entries). */
export function workloadSecurityEntry(namespace: string, labels: string): CacheEntry {
  return entry('workload-security', `security|${namespace}|${labels}`, 'context');
}

/** The per-proxy views of the sidecar generator: held weakly by proxy, for one context. */
export const proxyViewsEntry: CacheEntry = entry('proxy-views', 'proxy-views', 'context');

/** The Gateways merged for a router, by namespace and labels (JSON of the sorted entries). */
export function mergedGatewayEntry(namespace: string, labels: string): CacheEntry {
  return entry('merged-gateway', `gateway-merged|${namespace}|${labels}`, 'context');
}

// ---------------------------------------------------------------- CDS

/**
 * The clusters of one service port as a scope sees them: the service, the
 * port and the DestinationRule (`from`, '-' for none), and the identities of
 * the service's endpoints, so scopes that see the same rule share them.
 */
export function serviceClustersEntry(hostname: string, port: number, destinationRule: string): CacheEntry {
  return entry('service-clusters', `cds-svc|${hostname}|${port}|${destinationRule}`, clusterTypes, { endpoints: [hostname] });
}

/** A scope's outbound clusters: the service clusters of everything it sees. */
export function scopeClustersEntry(scope: string): CacheEntry {
  return entry('scope-clusters', `cds|${scope}`, clusterTypes, { endpoints: 'all' });
}

/** A sidecar's assembled clusters; `envoyFilters`: the key of its cluster patches, '' for none. */
export function sidecarClustersEntry(scope: string, inboundPorts: string, security: string, envoyFilters: string): CacheEntry {
  const patched = envoyFilters ? `|ef:${envoyFilters}` : '';
  return entry('sidecar-clusters', `cds-all|${scope}|${inboundPorts}|${security}${patched}`, clusterTypes, { endpoints: 'all' });
}

/** The inbound clusters of a set of inbound ports: they read the proxy's own ports and addresses (in the key), not endpoints. */
export function inboundClustersEntry(inboundPorts: string): CacheEntry {
  return entry('inbound-clusters', `cds-in|${inboundPorts}`, clusterTypes);
}

/** BlackHole, Passthrough and InboundPassthrough: constant. */
export const wellKnownClustersEntry: CacheEntry = entry('well-known-clusters', 'cds|well-known', clusterTypes);

/** The clusters of remote JWKS hosts the scope has no cluster for. */
export function jwksClustersEntry(scope: string, security: string): CacheEntry {
  return entry('jwks-clusters', `cds-jwks|${scope}|${security}`, clusterTypes);
}

/** A router's assembled clusters; `envoyFilters`: its filters' key as envoyFilterKey writes it, '' for none. */
export function gatewayClustersEntry(scope: string, sniDnat: boolean, envoyFilters: string): CacheEntry {
  return entry('gateway-clusters', `cds-gw|${scope}|${sniDnat}${envoyFilters}`, clusterTypes, { endpoints: 'all' });
}

/** The SNI-DNAT clusters of an sni-dnat router's scope. */
export function sniDnatClustersEntry(scope: string): CacheEntry {
  return entry('sni-dnat-clusters', `cds-gw-sni|${scope}`, clusterTypes, { endpoints: 'all' });
}

/** A router's BlackHole and Passthrough clusters: constant. */
export const gatewayWellKnownClustersEntry: CacheEntry = entry('gateway-well-known-clusters', 'cds-gw|well-known', clusterTypes);

// ---------------------------------------------------------------- EDS

/** The load assignment of one cluster of a service; `detail`: the DestinationRule and the proxy inputs it reads. */
export function serviceEndpointsEntry(hostname: string, clusterName: string, detail: string): CacheEntry {
  return entry('service-endpoints', `eds-svc|${hostname}|${clusterName}|${detail}`, endpointTypes, { endpoints: [hostname] });
}

/** The load assignment of an SNI-DNAT cluster: its outbound cluster's, filtered. */
export function sniDnatEndpointsEntry(outbound: CacheEntry): CacheEntry {
  return { ...outbound, kind: 'sni-dnat-endpoints', key: `${outbound.key}|sni-dnat` };
}

/** Every load assignment of a scope; `proxyInputs`: the proxy's locality and label values they read. */
export function scopeEndpointsEntry(scope: string, proxyInputs: string): CacheEntry {
  return entry('scope-endpoints', `eds|scope|${scope}${proxyInputs}`, endpointTypes, { endpoints: 'all' });
}

/** The load assignments of one service's clusters in a scope (`proxyInputs` as above): kept when only other services' endpoints change. */
export function scopeServiceEndpointsEntry(scope: string, proxyInputs: string, hostname: string): CacheEntry {
  return entry('scope-service-endpoints', `eds|scope-svc|${scope}${proxyInputs}|${hostname}`, endpointTypes, { endpoints: [hostname] });
}

/** The EDS cluster names of a scope: they derive from services and DestinationRules, not endpoints. */
export function edsClusterNamesEntry(scope: string): CacheEntry {
  return entry('eds-cluster-names', `eds-names|${scope}`, endpointTypes);
}

/** Which proxy inputs (locality, failoverPriority labels) a scope's load assignments read: from DestinationRules. */
export function endpointProxyInputsEntry(scope: string): CacheEntry {
  return entry('endpoint-proxy-inputs', `eds-proxy-inputs|${scope}`, endpointTypes);
}

/** The service instances of a proxyless gRPC workload: its Pod and the endpoints at its addresses. */
export function grpcServiceInstancesEntry(namespace: string, podName: string, addresses: readonly string[]): CacheEntry {
  return entry('grpc-service-instances', `eds|grpc-instances|${namespace}/${podName}|${addresses.join(',')}`, endpointTypes, { endpoints: 'all' });
}

// ---------------------------------------------------------------- LDS (listeners read no endpoints but through keys)

/** A sidecar's assembled listeners; `detail`: its Telemetry and EnvoyFilter keys. */
export function sidecarListenersEntry(scope: string, inboundPorts: string, security: string, detail: string): CacheEntry {
  return entry('sidecar-listeners', `lds-all|${scope}|${inboundPorts}|${security}${detail}`, listenerTypes);
}

/** A scope's outbound listeners; `detail`: the Telemetry and EnvoyFilter keys. */
export function outboundListenersEntry(scope: string, detail: string): CacheEntry {
  return entry('outbound-listeners', `lds|${scope}${detail}`, listenerTypes);
}

/** The inbound listeners of a set of inbound ports and security; `detail`: the Telemetry and EnvoyFilter keys. */
export function inboundListenersEntry(inboundPorts: string, security: string, detail: string): CacheEntry {
  return entry('inbound-listeners', `lds-in|${inboundPorts}|${security}${detail}`, listenerTypes);
}

/**
 * A router's listeners: they read the Secrets of its servers' credentials
 * (a chain exists only while its credential is valid), so a change of
 * another Secret leaves them.
 */
export function gatewayListenersEntry(namespace: string, credentials: readonly SecretRef[], detail: string): CacheEntry {
  const names = credentials.map((c) => `${c.namespace}/${c.name}`).join(',');
  return entry('gateway-listeners', `lds-gw|${namespace}|${names}|${detail}`, listenerTypes, { secrets: credentials });
}

// ---------------------------------------------------------------- RDS

/** Whether a scope's routes depend on the proxy's labels (sourceLabels matches): it reads the VirtualService of every host. */
export function routeSourceLabelsEntry(scope: string): CacheEntry {
  return entry('route-source-labels', `rds-labels|${scope}`, routeTypes, { routing: 'all' });
}

/** The route configuration names of a scope: from its listeners' service ports, not from routing. */
export function routeNamesEntry(scope: string): CacheEntry {
  return entry('route-names', `rds-names|${scope}`, routeTypes);
}

/** A scope's route configurations by name as proxies of one context look them up; `detail`: the proxy labels (when read) and EnvoyFilter key. */
export function scopeRoutesEntry(scope: string, detail: string): CacheEntry {
  return entry('scope-routes', `rds|${scope}${detail}`, 'context');
}

/** The key of one route configuration of a scope (see routeConfigurationEntry); `detail` as scopeRoutesEntry's. */
export function routeConfigurationKey(scope: string, detail: string, name: string): string {
  return `rds-name|${scope}${detail}|${name}`;
}

/**
 * One route configuration of a scope, reading the routing of `hosts`: its virtual hosts' and their routes' destinations.
 * One built for a workload's labels (sourceLabels matches) lives one context, as istiod does not cache those:
 * carried over, every label set that ever asked would stay.
 */
export function routeConfigurationEntry(key: string, hosts: readonly string[], forLabels: boolean): CacheEntry {
  return entry('route-configuration', key, forLabels ? 'context' : routeTypes, { routing: hosts });
}

/** The key of one route configuration of a router (see gatewayRoutesEntry). */
export function gatewayRoutesKey(namespace: string, labels: string, merged: string, name: string, envoyFilters: string): string {
  return `rds-gw|${namespace}|${labels}|${merged}|${name}${envoyFilters}`;
}

/** One route configuration of a router: it reads the VirtualServices bound to `gateways`, and the DestinationRules of `hosts` (its destinations). */
export function gatewayRoutesEntry(key: string, gateways: readonly string[], hosts: readonly string[]): CacheEntry {
  return entry('gateway-routes', key, routeTypes, { routing: hosts, gateways });
}

// ---------------------------------------------------------------- SDS

/** The SDS resource `resourceName` of a router, read from `secret`. */
export function gatewaySecretEntry(secret: SecretRef, resourceName: string): CacheEntry {
  return entry('gateway-secret', `sds-gw|${secret.namespace}/${secret.name}|${resourceName}`, secretTypes, { secrets: [secret] });
}

// ---------------------------------------------------------------- proxyless gRPC (rebuilt in every context)

export function grpcClientListenerEntry(scope: string, requestedHost: string, hostname: string, port: number): CacheEntry {
  return entry('grpc-client-listener', `grpc-lds|${scope}|${requestedHost}|${hostname}|${port}`, 'context');
}

export function grpcServerListenerEntry(name: string, hostname: string, port: number, security: string): CacheEntry {
  return entry('grpc-server-listener', `grpc-lds-in|${name}|${hostname}|${port}|${security}`, 'context');
}

/** `labels`: the proxy labels when the scope's routes read them, else ''. */
export function grpcRouteEntry(scope: string, name: string, labels: string): CacheEntry {
  return entry('grpc-route', `grpc-rds|${scope}|${name}${labels}`, 'context');
}

export function grpcClusterEntry(scope: string, name: string): CacheEntry {
  return entry('grpc-cluster', `grpc-cds|${scope}|${name}`, 'context');
}

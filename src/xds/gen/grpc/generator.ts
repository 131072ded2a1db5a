// The proxyless gRPC generator (node metadata GENERATOR=grpc), following
// istiod's grpcgen: gRPC clients subscribe to named resources only, so each
// type answers exactly the names asked for. Every resource is encoded once
// per push context and shared by all proxies of the same scope; endpoints
// share their bytes with sidecars.
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext, ProxyScope } from '../../../push/pushContext.js';
import type { MeshService } from '../../../push/services.js';
import { TypeUrl, type XdsResource } from '../../resource.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from '../../server/types.js';
import { encodeShared, memo } from '../cache.js';
import {
  grpcClientListenerEntry,
  grpcClusterEntry,
  grpcRouteEntry,
  grpcServerListenerEntry,
  meshSecurityPoliciesEntry,
  routeSourceLabelsEntry,
} from '../cacheKeys.js';
import type { Cluster, Listener, RouteConfiguration } from '../../../proto/envoyTypes.generated.js';
import { outboundClusterName, parseClusterName } from '../common/names.js';
import { portTrafficPolicy, subsetTrafficPolicy } from '../common/trafficPolicy.js';
import { planLoadAssignment } from '../sidecar/endpoints.js';
import { absentLoadAssignment } from '../sidecar/namedEndpoints.js';
import { scopeUsesSourceLabels } from '../sidecar/routes.js';
import { buildGrpcCluster } from './clusters.js';
import { buildClientListener, buildServerListener } from './listeners.js';
import { ServerListenerNamePrefix, classifyListenerNames, splitHostPort } from './names.js';
import { buildGrpcRouteConfiguration } from './routes.js';
import { serviceInstancesOf } from './serviceInstances.js';
import { contentVersion } from '../../resource.js';
import type { EffectiveTrafficPolicy } from '../common/trafficPolicy.js';
import {
  meshSecurityPolicies,
  proxylessClusterTransportSocket,
  proxylessServerSecurity,
  serviceIdentities,
  type MeshSecurityPolicies,
} from '../../../security/index.js';

/** The mesh's security policies, once per push context (shared with the sidecar generator). */
function securityPolicies(context: PushContext): MeshSecurityPolicies {
  return memo(context, meshSecurityPoliciesEntry, () => meshSecurityPolicies(context.snapshot, context.options.rootNamespace));
}

// Encoded as the sidecar generator encodes: one copy per distinct content, kept across push contexts.
const encode = (context: PushContext, typeUrl: string, resource: Cluster | Listener | RouteConfiguration): XdsResource =>
  encodeShared(context, typeUrl, resource.name as string, resource);

export class GrpcGenerator implements ResourceGenerator {
  /** `contextFor`: the push context a push request was computed from (the pinned one, or the current one). */
  constructor(private readonly contextFor: (request?: PushRequest) => PushContext) {}

  generate(proxy: Proxy, watched: WatchedResource, request?: PushRequest): readonly XdsResource[] | undefined {
    const context = this.contextFor(request);
    switch (watched.typeUrl) {
      case TypeUrl.Listener:
        return grpcListeners(context, proxy, watched);
      case TypeUrl.RouteConfiguration:
        return grpcRoutes(context, proxy, watched);
      case TypeUrl.Cluster:
        return grpcClusters(context, proxy, watched);
      case TypeUrl.ClusterLoadAssignment:
        return grpcEndpoints(context, proxy, watched);
      default:
        return undefined;
    }
  }
}

/** The service `hostname` names if this proxy can see it. */
function visibleService(context: PushContext, scope: ProxyScope, hostname: string): MeshService | undefined {
  return scope.hostnames.has(hostname) ? context.service(hostname) : undefined;
}

/** Default cluster names of every service port in scope: what a wildcard subscription means. */
function defaultClusterNames(scope: ProxyScope): string[] {
  return scope.services.flatMap((s) => s.ports.map((p) => outboundClusterName(p.port, '', s.hostname)));
}

export function grpcListeners(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
  const scope = context.scopeFor(proxy);
  const out: XdsResource[] = [];
  const client = (requestedHost: string, service: MeshService, port: MeshService['ports'][number]): XdsResource =>
    memo(context, grpcClientListenerEntry(scope.key, requestedHost, service.hostname, port.port), () =>
      encode(context, TypeUrl.Listener, buildClientListener(requestedHost, service, port)),
    );
  if (watched.wildcard && watched.names.size === 0) {
    // istiod: no names means every service in scope, by FQDN.
    for (const service of scope.services) for (const port of service.ports) out.push(client(service.hostname, service, port));
    return out;
  }
  const names = classifyListenerNames(watched.names, proxy);
  for (const request of names.outbound) {
    const service = request.candidates.map((h) => visibleService(context, scope, h)).find((s) => s !== undefined);
    if (!service) continue;
    for (const port of service.ports) {
      if (request.port === undefined || request.port === port.port) out.push(client(request.requestedHost, service, port));
    }
  }
  for (const name of names.inbound) {
    const { host, port } = splitHostPort(name.slice(ServerListenerNamePrefix.length));
    const instance = port === undefined ? undefined : serviceInstancesOf(context, proxy).find((i) => i.endpointPort === port);
    if (!instance || !host) continue;
    const security = proxylessServerSecurity(securityPolicies(context), { namespace: proxy.namespace, labels: proxy.labels }, instance.endpointPort);
    const securityKey = contentVersion(Buffer.from(JSON.stringify(security)));
    out.push(
      memo(context, grpcServerListenerEntry(name, instance.service.hostname, instance.port.port, securityKey), () =>
        encode(context, TypeUrl.Listener, buildServerListener(name, host, instance, security)),
      ),
    );
  }
  return out;
}

export function grpcRoutes(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
  const scope = context.scopeFor(proxy);
  const dependsOnLabels = memo(context, routeSourceLabelsEntry(scope.key), () => scopeUsesSourceLabels(context, scope));
  const labelsKey = dependsOnLabels ? `|${JSON.stringify(Object.entries(proxy.labels).sort())}` : '';
  const names = watched.names.size > 0 ? [...watched.names] : defaultClusterNames(scope);
  const out: XdsResource[] = [];
  for (const name of names) {
    const parsed = parseClusterName(name);
    if (!parsed || parsed.direction !== 'outbound' || parsed.subset !== '') continue;
    const service = visibleService(context, scope, parsed.hostname);
    if (!service?.ports.some((p) => p.port === parsed.port)) continue;
    out.push(
      memo(context, grpcRouteEntry(scope.key, name, labelsKey), () =>
        encode(context, TypeUrl.RouteConfiguration, buildGrpcRouteConfiguration(context, scope, name, service, parsed.port, proxy.labels)),
      ),
    );
  }
  return out;
}

export function grpcClusters(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
  const scope = context.scopeFor(proxy);
  const names = watched.names.size > 0 ? [...watched.names] : allClusterNames(context, scope);
  const out: XdsResource[] = [];
  for (const name of names) {
    const cluster = memo(context, grpcClusterEntry(scope.key, name), () => {
      const json = grpcClusterJson(context, scope, name);
      return json ? encode(context, TypeUrl.Cluster, json) : undefined;
    });
    if (cluster) out.push(cluster);
  }
  return out;
}

function allClusterNames(context: PushContext, scope: ProxyScope): string[] {
  const names: string[] = [];
  for (const service of scope.services) {
    const subsets = context.destinationRuleFor(scope, service.hostname)?.spec.subsets ?? [];
    for (const port of service.ports) {
      names.push(outboundClusterName(port.port, '', service.hostname));
      for (const subset of subsets) names.push(outboundClusterName(port.port, subset.name, service.hostname));
    }
  }
  return names;
}

/**
 * The cluster a name asks for, or undefined when it cannot exist: not an
 * outbound name, or a subset no DestinationRule defines (the client then
 * fails that route with UNAVAILABLE, gRPC's face of Envoy's 503). A default
 * cluster for an unknown service is still served, as istiod does.
 */
function grpcClusterJson(context: PushContext, scope: ProxyScope, name: string): Cluster | undefined {
  const parsed = parseClusterName(name);
  if (!parsed || parsed.direction !== 'outbound') return undefined;
  const service = visibleService(context, scope, parsed.hostname);
  const port = service?.ports.find((p) => p.port === parsed.port);
  if (!service || !port) return parsed.subset === '' ? buildGrpcCluster(name, undefined) : undefined;
  const trafficPolicy = context.destinationRuleFor(scope, service.hostname)?.spec;
  let policy: EffectiveTrafficPolicy | undefined;
  if (parsed.subset === '') policy = portTrafficPolicy(trafficPolicy?.trafficPolicy, port.port);
  else {
    const subset = trafficPolicy?.subsets?.find((s) => s.name === parsed.subset);
    if (!subset) return undefined;
    policy = subsetTrafficPolicy(trafficPolicy?.trafficPolicy, subset.trafficPolicy, port.port);
  }
  const cluster = buildGrpcCluster(name, policy);
  // xDS credentials: mTLS only with DestinationRule ISTIO_MUTUAL, pinned to the service's identities.
  const identities = serviceIdentities(context.endpoints(service.hostname, port.port), service.namespace, context.options.trustDomain);
  const transportSocket = proxylessClusterTransportSocket(policy?.tls, identities);
  if (transportSocket) cluster.transportSocket = transportSocket;
  return cluster;
}

export function grpcEndpoints(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
  const names = watched.names.size > 0 ? [...watched.names] : allClusterNames(context, context.scopeFor(proxy));
  const out: XdsResource[] = [];
  for (const name of names) {
    const plan = planLoadAssignment(context, proxy, name);
    if (!plan) {
      const absent = watched.incremental ? undefined : absentLoadAssignment(context, name);
      if (absent) out.push(absent);
      continue;
    }
    // Same key as the sidecar generator: one encoding serves both kinds of proxies.
    out.push(memo(context, plan.entry, () => encodeShared(context, TypeUrl.ClusterLoadAssignment, plan.clusterName, plan.build())));
  }
  return out;
}

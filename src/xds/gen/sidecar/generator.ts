// The Envoy sidecar generator: CDS, EDS, LDS and RDS for one proxy, read from
// the current push context. Results are cached per configuration scope (and
// per inbound port set) in the push context, so proxies that share a scope
// share the encoded bytes.
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext, ServiceTarget } from '../../../push/pushContext.js';
import { TypeUrl, encodeResource, type XdsResource } from '../../resource.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from '../../server/types.js';
import { endpointCachePrefix, memo } from '../cache.js';
import { inboundClusters, outboundClusters, wellKnownClusters } from './clusters.js';
import { planLoadAssignment } from './endpoints.js';
import { outboundListeners, virtualInboundListener, virtualOutboundListener } from './listeners.js';
import { buildRouteConfiguration, httpRoutePorts, scopeUsesSourceLabels } from './routes.js';
import type { Json } from '../common/clusters.js';

const encodeAll = (typeUrl: string, resources: Json[]): XdsResource[] => resources.map((r) => encodeResource(typeUrl, r.name as string, r));

function inboundKey(targets: readonly ServiceTarget[]): string {
  return targets.map((t) => `${t.targetPort}:${t.port.protocol}:${t.service.hostname}:${t.port.port}`).join(',');
}

function selectNames(resources: readonly XdsResource[], watched: WatchedResource): readonly XdsResource[] {
  if (watched.wildcard) return resources;
  return resources.filter((r) => watched.names.has(r.name));
}

export class SidecarGenerator implements ResourceGenerator {
  constructor(private readonly currentContext: () => PushContext) {}

  generate(proxy: Proxy, watched: WatchedResource, _request?: PushRequest): readonly XdsResource[] | undefined {
    const context = this.currentContext();
    switch (watched.typeUrl) {
      case TypeUrl.Cluster:
        return selectNames(this.clusters(context, proxy), watched);
      case TypeUrl.Listener:
        return selectNames(this.listeners(context, proxy), watched);
      case TypeUrl.RouteConfiguration:
        return this.routes(context, proxy, watched);
      case TypeUrl.ClusterLoadAssignment:
        return this.endpoints(context, proxy, watched);
      default:
        return undefined;
    }
  }

  clusters(context: PushContext, proxy: Proxy): XdsResource[] {
    const scope = context.scopeFor(proxy);
    const targets = context.serviceTargets(proxy);
    const outbound = memo(context, `cds|${scope.key}`, () => encodeAll(TypeUrl.Cluster, outboundClusters(context, scope)));
    const inbound = memo(context, `cds-in|${inboundKey(targets)}`, () => encodeAll(TypeUrl.Cluster, inboundClusters(targets)));
    const fixed = memo(context, 'cds|well-known', () => encodeAll(TypeUrl.Cluster, wellKnownClusters()));
    return [...outbound, ...inbound, ...fixed];
  }

  listeners(context: PushContext, proxy: Proxy): XdsResource[] {
    const scope = context.scopeFor(proxy);
    const targets = context.serviceTargets(proxy);
    const outbound = memo(context, `lds|${scope.key}`, () =>
      encodeAll(TypeUrl.Listener, [...outboundListeners(context, scope), virtualOutboundListener(scope)]),
    );
    const inbound = memo(context, `lds-in|${inboundKey(targets)}`, () => encodeAll(TypeUrl.Listener, [virtualInboundListener(targets)]));
    return [...outbound, ...inbound];
  }

  routes(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const scope = context.scopeFor(proxy);
    const dependsOnLabels = memo(context, `rds-labels|${scope.key}`, () => scopeUsesSourceLabels(context, scope));
    const labelsKey = dependsOnLabels ? `|${JSON.stringify(Object.entries(proxy.labels).sort())}` : '';
    const available = memo(context, `rds-ports|${scope.key}`, () => httpRoutePorts(scope));
    const names = watched.wildcard ? available.map(String) : [...watched.names];
    const out: XdsResource[] = [];
    for (const name of names) {
      const port = Number(name);
      if (!Number.isInteger(port) || !available.includes(port)) continue;
      out.push(
        memo(context, `rds|${scope.key}|${name}${labelsKey}`, () =>
          encodeResource(TypeUrl.RouteConfiguration, name, buildRouteConfiguration(context, scope, port, proxy.labels)),
        ),
      );
    }
    return out;
  }

  endpoints(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const names = watched.wildcard ? this.edsClusterNames(context, proxy) : [...watched.names];
    const out: XdsResource[] = [];
    for (const name of names) {
      const plan = planLoadAssignment(context, proxy, name);
      if (!plan) continue;
      out.push(memo(context, `${endpointCachePrefix}${plan.key}`, () => encodeResource(TypeUrl.ClusterLoadAssignment, name, plan.build())));
    }
    return out;
  }

  /**
   * Everything the proxy would receive, as unencoded JSON and without caches:
   * for tests that check field names against Envoy's protos, and for debugging.
   */
  describe(context: PushContext, proxy: Proxy): Record<'clusters' | 'listeners' | 'routes' | 'endpoints', Json[]> {
    const scope = context.scopeFor(proxy);
    const targets = context.serviceTargets(proxy);
    return {
      clusters: [...outboundClusters(context, scope), ...inboundClusters(targets), ...wellKnownClusters()],
      listeners: [...outboundListeners(context, scope), virtualOutboundListener(scope), virtualInboundListener(targets)],
      routes: httpRoutePorts(scope).map((port) => buildRouteConfiguration(context, scope, port, proxy.labels)),
      endpoints: this.edsClusterNames(context, proxy)
        .map((name) => planLoadAssignment(context, proxy, name)?.build())
        .filter((cla): cla is Json => cla !== undefined),
    };
  }

  /** EDS cluster names of the proxy's CDS, for wildcard EDS subscriptions. */
  private edsClusterNames(context: PushContext, proxy: Proxy): string[] {
    const scope = context.scopeFor(proxy);
    return memo(context, `eds-names|${scope.key}`, () => {
      const names: string[] = [];
      for (const service of scope.services) {
        if (service.resolution !== 'ClientSideLB') continue;
        const dr = context.destinationRuleFor(scope.namespace, service.hostname);
        for (const port of service.ports) {
          names.push(`outbound|${port.port}||${service.hostname}`);
          for (const subset of dr?.spec.subsets ?? []) names.push(`outbound|${port.port}|${subset.name}|${service.hostname}`);
        }
      }
      return names;
    });
  }
}

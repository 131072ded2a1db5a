// The router (ingress/egress gateway) generator: LDS and RDS from the Istio
// Gateways selecting the proxy and the VirtualServices bound to them, CDS and
// EDS for every service the gateway can route to (the sidecar builders, with
// DestinationRules applied as for sidecars), and SDS for credentialName
// certificates. Results are cached in the push context by what they depend
// on, so gateway replicas share them.
import type { Logger } from 'pino';
import type { Proxy } from '../../../model/proxy.js';
import type { PushContext } from '../../../push/pushContext.js';
import { mergeGateways, type MergedGateway } from '../../../push/gateways.js';
import { TypeUrl, type XdsResource } from '../../resource.js';
import type { PushRequest, ResourceGenerator, WatchedResource } from '../../server/types.js';
import { encodeShared, memo } from '../cache.js';
import { buildBlackHoleCluster, buildPassthroughCluster, type Json } from '../common/clusters.js';
import { SidecarGenerator, encodedOutboundClusters } from '../sidecar/generator.js';
import { outboundClusters } from '../sidecar/clusters.js';
import { gatewayListeners } from './listeners.js';
import { buildGatewayRouteConfiguration } from './routes.js';
import { buildCredentialSecret, referencedCredentialNames } from './secrets.js';
import { parseCredentialName, secretObject } from './credentials.js';
import { isSniDnatRouter, planSniDnatLoadAssignment, sniDnatClusters } from './sniDnat.js';

const labelsKey = (proxy: Proxy): string => JSON.stringify(Object.entries(proxy.labels).sort());

export class GatewayGenerator implements ResourceGenerator {
  private readonly sidecar: SidecarGenerator;

  constructor(
    /** The push context a push request was computed from (the pinned one, or the current one). */
    private readonly contextFor: (request?: PushRequest) => PushContext,
    private readonly logger?: Logger,
  ) {
    this.sidecar = new SidecarGenerator(contextFor);
  }

  generate(proxy: Proxy, watched: WatchedResource, request?: PushRequest): readonly XdsResource[] | undefined {
    const context = this.contextFor(request);
    switch (watched.typeUrl) {
      case TypeUrl.Cluster:
        return this.clusters(context, proxy);
      case TypeUrl.Listener:
        return this.listeners(context, proxy);
      case TypeUrl.RouteConfiguration:
        return this.routes(context, proxy, watched);
      case TypeUrl.ClusterLoadAssignment:
        return this.endpoints(context, proxy, watched);
      case TypeUrl.Secret:
        return this.secrets(context, proxy, watched);
      default:
        return undefined;
    }
  }

  merged(context: PushContext, proxy: Proxy): MergedGateway {
    return memo(context, `gateway-merged|${proxy.namespace}|${labelsKey(proxy)}`, () => {
      const merged = mergeGateways(context, proxy);
      for (const conflict of merged.conflicts) this.logger?.warn({ proxy: proxy.id }, conflict);
      return merged;
    });
  }

  clusters(context: PushContext, proxy: Proxy): XdsResource[] {
    const scope = context.scopeFor(proxy);
    const sniDnat = isSniDnatRouter(proxy);
    return memo(context, `cds-gw|${scope.key}|${sniDnat}`, () => [
      ...memo(context, `cds|${scope.key}`, () => encodedOutboundClusters(context, scope)),
      ...(sniDnat ? memo(context, `cds-gw-sni|${scope.key}`, () => sniDnatClusters(context, scope).map((c) => encodeShared(context, TypeUrl.Cluster, String(c.name), c))) : []),
      ...memo(context, 'cds-gw|well-known', () => [buildBlackHoleCluster(), buildPassthroughCluster()].map((c) => encodeShared(context, TypeUrl.Cluster, String(c.name), c))),
    ]);
  }

  /** EDS as for sidecars, plus the SNI-DNAT clusters of an sni-dnat router (only endpoints that run a proxy). */
  endpoints(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const standard = this.sidecar.endpoints(context, proxy, watched);
    if (!isSniDnatRouter(proxy)) return standard;
    const names = watched.wildcard ? this.clusters(context, proxy).map((c) => c.name) : [...watched.names];
    const out = [...standard];
    for (const name of names) {
      const plan = planSniDnatLoadAssignment(context, proxy, name);
      if (plan) out.push(memo(context, plan.key, () => encodeShared(context, TypeUrl.ClusterLoadAssignment, name, plan.build())));
    }
    return out;
  }

  listeners(context: PushContext, proxy: Proxy): XdsResource[] {
    const merged = this.merged(context, proxy);
    return memo(context, `lds-gw|${proxy.namespace}|${merged.key}`, () => {
      const { listeners, dropped } = gatewayListeners(context, proxy, merged);
      for (const { server, reason } of dropped) {
        this.logger?.warn(
          { proxy: proxy.id, gateway: server.gatewayKey, port: server.server.port.number },
          `Gateway ${server.gatewayKey} server on port ${server.server.port.number} (${server.server.port.name}) is not served by gateways in namespace ${proxy.namespace}: ${reason}; its other servers keep serving`,
        );
      }
      return listeners.map((l) => encodeShared(context, TypeUrl.Listener, String(l.name), l));
    });
  }

  routes(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const merged = this.merged(context, proxy);
    const names = watched.wildcard ? [...merged.serversByRouteName.keys()] : [...watched.names];
    const out: XdsResource[] = [];
    for (const name of names) {
      // Only names the gateway has are cached: a proxy asking for arbitrary names must not grow the cache.
      if (!merged.serversByRouteName.has(name)) continue;
      const resource = memo(context, `rds-gw|${proxy.namespace}|${labelsKey(proxy)}|${merged.key}|${name}`, () => {
        const json = buildGatewayRouteConfiguration(context, proxy, merged, name);
        return json ? encodeShared(context, TypeUrl.RouteConfiguration, name, json) : undefined;
      });
      if (resource) out.push(resource);
    }
    return out;
  }

  secrets(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const names = watched.wildcard ? referencedCredentialNames(this.merged(context, proxy)) : [...watched.names];
    const out: XdsResource[] = [];
    for (const name of names) {
      // As for routes: only names of Secrets that exist in the proxy's namespace are cached.
      const parsed = parseCredentialName(name, proxy.namespace);
      if (!parsed || !secretObject(context, proxy.namespace, parsed.name)) continue;
      const resource = memo(context, `sds-gw|${proxy.namespace}|${name}`, () => {
        const json = buildCredentialSecret(context, proxy, name);
        return json ? encodeShared(context, TypeUrl.Secret, name, json) : undefined;
      });
      if (resource) out.push(resource);
    }
    return out;
  }

  /** Everything the router would receive, unencoded and without caches (tests, debugging). */
  describe(context: PushContext, proxy: Proxy): Record<'clusters' | 'listeners' | 'routes' | 'secrets', Json[]> {
    const merged = mergeGateways(context, proxy);
    const scope = context.scopeFor(proxy);
    return {
      clusters: [...outboundClusters(context, scope), ...(isSniDnatRouter(proxy) ? sniDnatClusters(context, scope) : []), buildBlackHoleCluster(), buildPassthroughCluster()],
      listeners: gatewayListeners(context, proxy, merged).listeners,
      routes: [...merged.serversByRouteName.keys()].map((n) => buildGatewayRouteConfiguration(context, proxy, merged, n)).filter((r): r is Json => r !== undefined),
      secrets: referencedCredentialNames(merged).map((n) => buildCredentialSecret(context, proxy, n)).filter((s): s is Json => s !== undefined),
    };
  }
}

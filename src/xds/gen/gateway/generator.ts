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
import { memoBuilt } from '../../../push/contextCache.js';
import {
  gatewayClustersEntry,
  gatewayListenersEntry,
  gatewayRoutesEntry,
  gatewayRoutesKey,
  gatewaySecretEntry,
  gatewayWellKnownClustersEntry,
  mergedGatewayEntry,
  scopeClustersEntry,
  sniDnatClustersEntry,
} from '../cacheKeys.js';
import { buildBlackHoleCluster, buildPassthroughCluster } from '../common/clusters.js';
import type { Json } from '../common/json.js';
import type { Cluster, RouteConfiguration } from '../../../proto/envoyTypes.generated.js';
import { SidecarGenerator, encodedOutboundClusters } from '../sidecar/generator.js';
import { outboundClusters } from '../sidecar/clusters.js';
import { withAbsentLoadAssignments } from '../sidecar/namedEndpoints.js';
import { gatewayListeners } from './listeners.js';
import { buildGatewayRouteConfiguration } from './routes.js';
import { authorizedSecrets, buildCredentialSecret, credentialSecrets, describeSecrets, referencedCredentialNames } from './secrets.js';
import { secretObject } from '../../../push/credentials.js';
import { proxyHcmTelemetry } from '../common/telemetry.js';
import { proxyEnvoyFilters, type EnvoyFilterPatch } from '../../../push/envoyFilters.js';
import { patchClusters } from '../common/envoyFilterClusters.js';
import { patchListeners } from '../common/envoyFilterListeners.js';
import { encodePatched, envoyFilterKey, listenerApplyTo, reportUnmatched, routeApplyTo } from '../common/envoyFilterOutput.js';
import { patchRouteConfiguration } from '../common/envoyFilterRoutes.js';
import { isSniDnatRouter, planSniDnatLoadAssignment, sniDnatClusters } from './sniDnat.js';

const labelsKey = (proxy: Proxy): string => JSON.stringify(Object.entries(proxy.labels).sort());
const clusterApplyTo = ['CLUSTER'] as const;

/** The Gateway server ports bound to each listener port (istiod's GatewayPortMap), for route configuration matches. */
function servicePorts(merged: MergedGateway): Map<number, number[]> {
  const ports = new Map<number, number[]>();
  for (const plan of merged.listeners) {
    for (const { server } of plan.servers) {
      const list = ports.get(plan.port) ?? [];
      if (!list.includes(server.port.number)) list.push(server.port.number);
      ports.set(plan.port, list);
    }
  }
  return ports;
}

export class GatewayGenerator implements ResourceGenerator {
  private readonly sidecar: SidecarGenerator;

  constructor(
    /** The push context a push request was computed from (the pinned one, or the current one). */
    private readonly contextFor: (request?: PushRequest) => PushContext,
    private readonly logger?: Logger,
  ) {
    this.sidecar = new SidecarGenerator(contextFor, logger);
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
    return memo(context, mergedGatewayEntry(proxy.namespace, labelsKey(proxy)), () => {
      const merged = mergeGateways(context, proxy);
      for (const conflict of merged.conflicts) this.logger?.warn({ proxy: proxy.id }, conflict);
      return merged;
    });
  }

  clusters(context: PushContext, proxy: Proxy): XdsResource[] {
    const scope = context.scopeFor(proxy);
    const sniDnat = isSniDnatRouter(proxy);
    const envoyFilters = proxyEnvoyFilters(context, proxy);
    const ef = envoyFilterKey(envoyFilters, clusterApplyTo, ['GATEWAY']);
    if (ef) {
      // Patched clusters are the gateway's own, keyed by its filters; gateways without cluster patches keep sharing.
      return memo(context, gatewayClustersEntry(scope.key, sniDnat, ef), () => {
        const unpatched = this.describeClusters(context, proxy);
        const applied = new Set<EnvoyFilterPatch>();
        const patched = patchClusters(envoyFilters, unpatched, () => 'GATEWAY', 'GATEWAY', applied);
        reportUnmatched(this.logger, proxy, envoyFilters, clusterApplyTo, applied);
        return encodePatched(context, TypeUrl.Cluster, patched, unpatched, envoyFilters, this.logger);
      });
    }
    return memo(context, gatewayClustersEntry(scope.key, sniDnat, ''), () => [
      ...memo(context, scopeClustersEntry(scope.key), () => encodedOutboundClusters(context, scope)),
      ...(sniDnat
        ? memo(context, sniDnatClustersEntry(scope.key), () =>
            sniDnatClusters(context, scope).map((c) => encodeShared(context, TypeUrl.Cluster, String(c.name), c)),
          )
        : []),
      ...memo(context, gatewayWellKnownClustersEntry, () =>
        [buildBlackHoleCluster(), buildPassthroughCluster()].map((c) => encodeShared(context, TypeUrl.Cluster, String(c.name), c)),
      ),
    ]);
  }

  /** EDS as for sidecars, plus the SNI-DNAT clusters of an sni-dnat router (only endpoints that run a proxy). */
  endpoints(context: PushContext, proxy: Proxy, watched: WatchedResource): readonly XdsResource[] {
    if (!isSniDnatRouter(proxy)) return this.sidecar.endpoints(context, proxy, watched);
    // What exists of the sidecar's kind, then the SNI-DNAT clusters; only names neither answers are absent.
    const standard = this.sidecar.endpoints(context, proxy, { ...watched, incremental: true });
    const names = watched.wildcard ? this.clusters(context, proxy).map((c) => c.name) : [...watched.names];
    const out = [...standard];
    for (const name of names) {
      const plan = planSniDnatLoadAssignment(context, proxy, name);
      if (plan) out.push(memo(context, plan.entry, () => encodeShared(context, TypeUrl.ClusterLoadAssignment, name, plan.build())));
    }
    return watched.wildcard || watched.incremental ? out : withAbsentLoadAssignments(context, watched.names, out);
  }

  listeners(context: PushContext, proxy: Proxy): XdsResource[] {
    const merged = this.merged(context, proxy);
    // Telemetry depends on the workload (selector, targetRefs, canonical labels): its key joins the cache key where it adds anything.
    const telemetry = proxyHcmTelemetry(context, proxy);
    const tel = telemetry.key ? `|tel:${telemetry.key}` : '';
    const envoyFilters = proxyEnvoyFilters(context, proxy);
    const ef = envoyFilterKey(envoyFilters, listenerApplyTo, ['GATEWAY']);
    const credentials = credentialSecrets(merged, proxy.namespace);
    return memo(context, gatewayListenersEntry(proxy.namespace, credentials, `${merged.key}${tel}${ef}`), () => {
      const { listeners, dropped } = gatewayListeners(context, proxy, merged, telemetry.outbound);
      for (const { server, reason } of dropped) {
        this.logger?.warn(
          { proxy: proxy.id, gateway: server.gatewayKey, port: server.server.port.number },
          `Gateway ${server.gatewayKey} server on port ${server.server.port.number} (${server.server.port.name}) is not served by gateways in namespace ${proxy.namespace}: ${reason}; its other servers keep serving`,
        );
      }
      if (!ef) return listeners.map((l) => encodeShared(context, TypeUrl.Listener, String(l.name), l));
      const applied = new Set<EnvoyFilterPatch>();
      const patched = patchListeners('GATEWAY', envoyFilters, listeners, applied);
      reportUnmatched(this.logger, proxy, envoyFilters, listenerApplyTo, applied);
      return encodePatched(context, TypeUrl.Listener, patched, listeners, envoyFilters, this.logger);
    });
  }

  routes(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const merged = this.merged(context, proxy);
    const names = watched.wildcard ? [...merged.serversByRouteName.keys()] : [...watched.names];
    const envoyFilters = proxyEnvoyFilters(context, proxy);
    const ef = envoyFilterKey(envoyFilters, routeApplyTo, ['GATEWAY']);
    const out: XdsResource[] = [];
    for (const name of names) {
      // Only names the gateway has are cached: a proxy asking for arbitrary names must not grow the cache.
      if (!merged.serversByRouteName.has(name)) continue;
      // Cached with the Gateways whose VirtualServices it reads and its destinations: other routing changes keep it.
      const key = gatewayRoutesKey(proxy.namespace, labelsKey(proxy), merged.key, name, ef);
      const resource = memoBuilt(context, key, () => {
        const reads = new Set<string>();
        const json = buildGatewayRouteConfiguration(context, proxy, merged, name, reads);
        const entry = gatewayRoutesEntry(key, [...new Set(merged.serversByRouteName.get(name)!.map((s) => s.gatewayKey))], [...reads]);
        if (!json) return { entry, value: undefined };
        if (!ef) return { entry, value: encodeShared(context, TypeUrl.RouteConfiguration, name, json) };
        const patched = patchRouteConfiguration('GATEWAY', envoyFilters, json, { servicePorts: servicePorts(merged) }, new Set());
        return { entry, value: encodePatched(context, TypeUrl.RouteConfiguration, [patched], [json], envoyFilters, this.logger)[0] };
      });
      if (resource) out.push(resource);
    }
    return out;
  }

  secrets(context: PushContext, proxy: Proxy, watched: WatchedResource): XdsResource[] {
    const referenced = referencedCredentialNames(this.merged(context, proxy), proxy.namespace);
    const names = watched.wildcard ? referenced : [...watched.names];
    const out: XdsResource[] = [];
    for (const { resourceName: name, secret } of authorizedSecrets(names, proxy.namespace, referenced)) {
      if (!secretObject(context, secret.namespace, secret.name)) continue;
      const build = (): XdsResource | undefined => {
        const json = buildCredentialSecret(context, secret, name);
        return json ? encodeShared(context, TypeUrl.Secret, name, json) : undefined;
      };
      // As for routes, only what the gateway's servers name is cached (a proxy asking for other names must
      // not grow the cache); the key names the Secret, so rotating it drops only its entries.
      const resource = referenced.includes(name) ? memo(context, gatewaySecretEntry(secret, name), build) : build();
      if (resource) out.push(resource);
    }
    return out;
  }

  /** Everything the router would receive, unencoded and without caches (tests, debugging). */
  describe(context: PushContext, proxy: Proxy): Record<'clusters' | 'listeners' | 'routes' | 'secrets', Json[]> {
    const merged = mergeGateways(context, proxy);
    const envoyFilters = proxyEnvoyFilters(context, proxy);
    const applied = new Set<EnvoyFilterPatch>();
    return {
      clusters: patchClusters(envoyFilters, this.describeClusters(context, proxy), () => 'GATEWAY', 'GATEWAY', applied),
      listeners: patchListeners(
        'GATEWAY',
        envoyFilters,
        gatewayListeners(context, proxy, merged, proxyHcmTelemetry(context, proxy).outbound).listeners,
        applied,
      ),
      routes: [...merged.serversByRouteName.keys()]
        .map((n) => buildGatewayRouteConfiguration(context, proxy, merged, n))
        .filter((r): r is RouteConfiguration => r !== undefined)
        .map((r) => patchRouteConfiguration('GATEWAY', envoyFilters, r, { servicePorts: servicePorts(merged) }, applied)),
      secrets: describeSecrets(context, merged, proxy.namespace),
    };
  }

  /** The router's clusters, unencoded and unpatched. */
  private describeClusters(context: PushContext, proxy: Proxy): Cluster[] {
    const scope = context.scopeFor(proxy);
    return [
      ...outboundClusters(context, scope),
      ...(isSniDnatRouter(proxy) ? sniDnatClusters(context, scope) : []),
      buildBlackHoleCluster(),
      buildPassthroughCluster(),
    ];
  }
}

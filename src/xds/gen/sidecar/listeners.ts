// Sidecar LDS: per-port outbound listeners (HTTP → RDS, TCP/TLS →
// tcp_proxy with VirtualService tcp/tls routes), virtualOutbound (15001) and
// virtualInbound (15006) with a filter chain per inbound port.
import type { PushContext, ProxyScope, ServiceTarget } from '../../../push/pushContext.js';
import type { RouteDestination, TCPRoute, TLSRoute } from '../../../model/istio.js';
import { resolveShortName } from '../../../push/hosts.js';
import { isHttpProtocol } from '../../../push/protocol.js';
import type { MeshService, MeshServicePort } from '../../../push/services.js';
import { httpConnectionManager, socketAddress, tcpProxy } from '../common/listeners.js';
import {
  BlackHoleCluster,
  InboundPassthroughCluster,
  PassthroughCluster,
  VirtualInboundListener,
  VirtualInboundPort,
  VirtualOutboundListener,
  VirtualOutboundPort,
  filterNames,
  inboundClusterName,
  outboundClusterName,
  typeUrls,
} from '../common/names.js';
import type { Json } from '../common/clusters.js';
import { isSniffedPort, sniffedRouteName } from './routes.js';
import { inboundChainOptions, securedInboundChains, type WorkloadSecurity } from '../../../security/index.js';

function tcpDestinations(context: PushContext, route: RouteDestination[], vsNamespace: string, port: number): string | { name: string; weight: number }[] {
  const clusters = route
    .filter((d) => route.length === 1 || (d.weight ?? 0) > 0)
    .map((d) => {
      const hostname = resolveShortName(d.destination.host, vsNamespace, context.options.domainSuffix);
      const ports = context.service(hostname)?.ports;
      const destPort = d.destination.port?.number ?? (ports?.length === 1 ? ports[0]!.port : port);
      return { name: outboundClusterName(destPort, d.destination.subset ?? '', hostname), weight: d.weight ?? 100 };
    });
  return clusters.length === 1 ? clusters[0]!.name : clusters;
}

function l4RouteFor<R extends TCPRoute | TLSRoute>(routes: R[] | undefined, port: number): R | undefined {
  return routes?.find((r) => !r.match?.length || r.match.some((m) => m.port === undefined || m.port === port));
}

function tcpFilterChains(context: PushContext, scope: ProxyScope, service: MeshService, port: MeshServicePort, matchSni: boolean): Json[] {
  const cluster = outboundClusterName(port.port, '', service.hostname);
  const vs = context.virtualServiceFor(service.hostname, scope.namespace);
  const chains: Json[] = [];
  if (port.protocol === 'TLS' || port.protocol === 'HTTPS') {
    for (const route of vs?.spec.tls ?? []) {
      const sniHosts = route.match.filter((m) => m.port === undefined || m.port === port.port).flatMap((m) => m.sniHosts);
      if (sniHosts.length === 0 || !route.route?.length) continue;
      const target = tcpDestinations(context, route.route, vs!.namespace, port.port);
      chains.push({ filterChainMatch: { serverNames: sniHosts }, filters: [tcpProxy(typeof target === 'string' ? target : cluster, target)] });
    }
  }
  const tcpRoute = l4RouteFor(vs?.spec.tcp, port.port);
  const target = tcpRoute?.route?.length ? tcpDestinations(context, tcpRoute.route, vs!.namespace, port.port) : cluster;
  const fallback: Json = { filters: [tcpProxy(typeof target === 'string' ? target : cluster, target)] };
  // Without a VIP, TLS services share 0.0.0.0:PORT and are told apart by SNI.
  if (matchSni) fallback.filterChainMatch = { serverNames: [service.hostname] };
  const fallbackKey = JSON.stringify(fallback.filterChainMatch ?? null);
  if (!chains.some((c) => JSON.stringify(c.filterChainMatch ?? null) === fallbackKey)) chains.push(fallback);
  return chains;
}

function outboundListener(name: string, address: string, port: number, filterChains: Json[], tlsInspector: boolean): Json {
  const listener: Json = {
    name,
    address: socketAddress(address, port),
    filterChains,
    trafficDirection: 'OUTBOUND',
    bindToPort: { value: false },
  };
  if (tlsInspector) listener.listenerFilters = [{ name: filterNames.tlsInspector, typedConfig: { '@type': typeUrls.tlsInspector } }];
  return listener;
}

export function outboundListeners(context: PushContext, scope: ProxyScope): Json[] {
  const listeners = new Map<string, Json>();
  const httpPorts = new Set<number>();
  for (const service of scope.services) {
    for (const port of service.ports) {
      if (!isHttpProtocol(port.protocol)) continue;
      const name = `0.0.0.0_${port.port}`;
      httpPorts.add(port.port);
      if (listeners.has(name)) continue;
      const hcm = httpConnectionManager({ statPrefix: `outbound_0.0.0.0_${port.port}`, rds: String(port.port), inbound: false });
      listeners.set(name, outboundListener(name, '0.0.0.0', port.port, [{ filters: [hcm] }], false));
    }
  }
  for (const service of scope.services) {
    for (const port of service.ports) {
      if (isHttpProtocol(port.protocol)) continue;
      const address = service.addresses[0] ?? '0.0.0.0';
      const name = `${address}_${port.port}`;
      if (isSniffedPort(service, port.protocol)) {
        if (!listeners.has(name)) listeners.set(name, sniffingListener(name, address, service, port));
        continue;
      }
      const tls = port.protocol === 'TLS' || port.protocol === 'HTTPS';
      const shared = address === '0.0.0.0';
      // A TCP service without a VIP cannot share 0.0.0.0:PORT with HTTP services (istiod reports the conflict too).
      if (shared && httpPorts.has(port.port)) continue;
      const existing = listeners.get(name);
      if (existing) {
        // TLS services without VIPs share the listener, one SNI filter chain each; plain TCP ones conflict.
        if (shared && tls && existing.listenerFilters) {
          const chains = existing.filterChains as Json[];
          const matches = new Set(chains.map((c) => JSON.stringify(c.filterChainMatch ?? null)));
          // Envoy rejects a listener whose filter chains match identically: the first service keeps an SNI.
          for (const chain of tcpFilterChains(context, scope, service, port, true)) {
            const key = JSON.stringify(chain.filterChainMatch ?? null);
            if (!matches.has(key)) chains.push(chain);
            matches.add(key);
          }
        }
        continue;
      }
      listeners.set(name, outboundListener(name, address, port.port, tcpFilterChains(context, scope, service, port, shared && tls), tls));
    }
  }
  return [...listeners.keys()].sort().map((k) => listeners.get(k)!);
}

/**
 * A port with no declared protocol: Envoy sniffs it. HTTP (by ALPN from the
 * http_inspector) goes through the HTTP connection manager and the service's
 * own route configuration; anything else is proxied as TCP.
 */
function sniffingListener(name: string, address: string, service: MeshService, port: MeshServicePort): Json {
  const cluster = outboundClusterName(port.port, '', service.hostname);
  const hcm = httpConnectionManager({ statPrefix: `outbound_${address}_${port.port}`, rds: sniffedRouteName(service, port.port), inbound: false });
  const listener = outboundListener(
    name,
    address,
    port.port,
    [
      { filterChainMatch: { applicationProtocols: ['http/1.0', 'http/1.1', 'h2c'] }, filters: [hcm] },
      { filters: [tcpProxy(cluster, cluster)] },
    ],
    true,
  );
  listener.listenerFilters = [...(listener.listenerFilters as Json[]), { name: filterNames.httpInspector, typedConfig: { '@type': typeUrls.httpInspector } }];
  return listener;
}

export function virtualOutboundListener(scope: ProxyScope): Json {
  const catchAll = scope.outboundTrafficPolicy === 'REGISTRY_ONLY' ? BlackHoleCluster : PassthroughCluster;
  return {
    name: VirtualOutboundListener,
    address: socketAddress('0.0.0.0', VirtualOutboundPort),
    filterChains: [
      // Traffic addressed to 15001 itself would loop: drop it.
      { filterChainMatch: { destinationPort: { value: VirtualOutboundPort } }, filters: [tcpProxy(BlackHoleCluster, BlackHoleCluster)], name: 'virtualOutbound-blackhole' },
      { filters: [tcpProxy(catchAll, catchAll)], name: 'virtualOutbound-catchall-tcp' },
    ],
    useOriginalDst: { value: true },
    trafficDirection: 'OUTBOUND',
  };
}

function inboundRouteConfig(target: ServiceTarget): Json {
  const cluster = inboundClusterName(target.targetPort);
  const zero = { seconds: 0 };
  return {
    name: cluster,
    virtualHosts: [
      {
        name: `inbound|http|${target.targetPort}`,
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: { cluster, timeout: zero, maxStreamDuration: { maxStreamDuration: zero, grpcTimeoutHeaderMax: zero } },
            decorator: { operation: `${target.service.hostname}:${target.port.port}/*` },
          },
        ],
      },
    ],
    validateClusters: { value: false },
  };
}

const passthroughRouteConfig = (): Json => {
  const zero = { seconds: 0 };
  return {
    name: InboundPassthroughCluster,
    virtualHosts: [
      {
        name: 'inbound|http|0',
        domains: ['*'],
        routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: InboundPassthroughCluster, timeout: zero, maxStreamDuration: { maxStreamDuration: zero, grpcTimeoutHeaderMax: zero } } }],
      },
    ],
    validateClusters: { value: false },
  };
};

/** Chains for traffic to ports no service declares (`virtualInbound-catchall-http`, `virtualInbound`), secured like a sniffed port. */
function passthroughChains(security: WorkloadSecurity): Json[] {
  const mode = security.mtls.mode;
  return inboundChainOptions(mode, 'auto').map((option) => {
    const suffix = option.transportSocket ? '-mtls' : option.match.transportProtocol === 'tls' ? '-tls' : '';
    const chain: Json =
      option.protocol === 'http'
        ? {
            name: `virtualInbound-catchall-http${suffix}`,
            filterChainMatch: option.match,
            filters: [httpConnectionManager({ statPrefix: InboundPassthroughCluster, inbound: true, routeConfig: passthroughRouteConfig(), securityFilters: security.httpFilters })],
          }
        : {
            name: `virtualInbound${suffix}`,
            filterChainMatch: option.match,
            filters: [...security.networkFilters, tcpProxy(InboundPassthroughCluster, InboundPassthroughCluster)],
          };
    if (option.transportSocket) chain.transportSocket = option.transportSocket;
    return chain;
  });
}

/**
 * virtualInbound: per inbound port, the chains its PeerAuthentication mode
 * asks for (mTLS with the workload certificate, plaintext, or both), each
 * running the workload's jwt_authn/RBAC (HTTP) or network RBAC (TCP) filters;
 * then the passthrough chains for ports no service declares, under the
 * workload-level mode.
 */
export function virtualInboundListener(targets: readonly ServiceTarget[], security: WorkloadSecurity): Json {
  const chains: Json[] = targets.flatMap((target) => {
    const cluster = inboundClusterName(target.targetPort);
    // No declared protocol: HTTP when the http_inspector detects it, TCP otherwise.
    const protocol = isHttpProtocol(target.port.protocol) ? 'http' : target.port.protocol === 'UNKNOWN' ? 'auto' : 'tcp';
    return securedInboundChains(security, target.targetPort, protocol, {
      name: `0.0.0.0_${target.targetPort}`,
      httpConnectionManager: (securityFilters) =>
        httpConnectionManager({ statPrefix: `inbound_0.0.0.0_${target.targetPort}`, routeConfig: inboundRouteConfig(target), inbound: true, securityFilters }),
      tcpFilters: () => [tcpProxy(cluster, cluster)],
    });
  });
  chains.push(...passthroughChains(security));
  return {
    name: VirtualInboundListener,
    address: socketAddress('0.0.0.0', VirtualInboundPort),
    filterChains: chains,
    listenerFilters: [
      { name: filterNames.originalDst, typedConfig: { '@type': typeUrls.originalDst } },
      { name: filterNames.tlsInspector, typedConfig: { '@type': typeUrls.tlsInspector } },
      { name: filterNames.httpInspector, typedConfig: { '@type': typeUrls.httpInspector } },
    ],
    listenerFiltersTimeout: { seconds: 0 },
    continueOnListenerFiltersTimeout: true,
    trafficDirection: 'INBOUND',
  };
}

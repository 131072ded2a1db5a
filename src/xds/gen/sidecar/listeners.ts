// Sidecar LDS: per-port outbound listeners (HTTP → RDS, TCP/TLS →
// tcp_proxy with VirtualService tcp/tls routes) built egress listener by
// egress listener, virtualOutbound (15001), and virtualInbound (15006) with a
// filter chain per inbound port (plus a listener of its own for a Sidecar
// ingress port with captureMode NONE).
import { isIP } from 'node:net';
import type { PushContext, ProxyScope, ServiceTarget } from '../../../push/pushContext.js';
import { listenerServicePorts } from '../../../push/sidecarEgress.js';
import type { RouteDestination, TCPRoute, TLSRoute } from '../../../model/istio.js';
import { resolveShortName } from '../../../push/hosts.js';
import { isHttpProtocol } from '../../../model/protocol.js';
import type { MeshService, MeshServicePort } from '../../../push/services.js';
import { httpConnectionManager, socketAddress, tcpProxy } from '../common/listeners.js';
import type { HcmTelemetry } from '../common/telemetry.js';
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
import type { FilterChain, Listener, ListenerFilter, RouteConfiguration } from '../../../proto/envoyTypes.generated.js';
import { configMetadata } from '../common/struct.js';
import { isSniffedPort, sniffedRouteName } from './routes.js';
import { inboundChainOptions, securedInboundChains, type WorkloadSecurity } from '../../../security/index.js';

export function tcpDestinations(
  context: PushContext,
  route: RouteDestination[],
  vsNamespace: string,
  port: number,
): string | { name: string; weight: number }[] {
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

function tcpFilterChains(context: PushContext, scope: ProxyScope, service: MeshService, port: MeshServicePort, matchSni: boolean): FilterChain[] {
  const cluster = outboundClusterName(port.port, '', service.hostname);
  const vs = context.virtualServiceFor(service.hostname, scope.namespace);
  const chains: FilterChain[] = [];
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
  const fallback: FilterChain = { filters: [tcpProxy(typeof target === 'string' ? target : cluster, target)] };
  // Without a VIP, TLS services share 0.0.0.0:PORT and are told apart by SNI.
  if (matchSni) fallback.filterChainMatch = { serverNames: [service.hostname] };
  const fallbackKey = JSON.stringify(fallback.filterChainMatch ?? null);
  if (!chains.some((c) => JSON.stringify(c.filterChainMatch ?? null) === fallbackKey)) chains.push(fallback);
  return chains;
}

function outboundListener(name: string, address: string, port: number, filterChains: FilterChain[], tlsInspector: boolean): Listener {
  const listener: Listener = {
    name,
    address: socketAddress(address, port),
    filterChains,
    trafficDirection: 'OUTBOUND',
    bindToPort: { value: false },
  };
  if (tlsInspector) listener.listenerFilters = [{ name: filterNames.tlsInspector, typedConfig: { '@type': typeUrls.tlsInspector } }];
  return listener;
}

/**
 * Outbound listeners, egress listener by egress listener as istiod builds
 * them: listeners of Sidecar egress ports first (their services only, with
 * the egress port's protocol), then the catch-all, which adds nothing to
 * listeners those already created.
 */
export function outboundListeners(context: PushContext, scope: ProxyScope, telemetry: HcmTelemetry = {}): Listener[] {
  const built: OutboundListenerSet = { listeners: new Map(), http: new Set(), telemetry };
  for (const egress of scope.egressListeners) {
    const locked: ReadonlySet<string> = new Set(egress.port ? [] : built.listeners.keys());
    addOutboundListeners(context, scope, listenerServicePorts(egress), built, locked);
  }
  return [...built.listeners.keys()].sort().map((k) => built.listeners.get(k)!);
}

interface OutboundListenerSet {
  readonly listeners: Map<string, Listener>;
  /** Names of the HTTP listeners (0.0.0.0_PORT, shared by every HTTP service on the port). */
  readonly http: Set<string>;
  /** What Telemetry adds to the HTTP connection managers (outbound side). */
  readonly telemetry: HcmTelemetry;
}

function addOutboundListeners(
  context: PushContext,
  scope: ProxyScope,
  servicePorts: readonly { service: MeshService; port: MeshServicePort }[],
  built: OutboundListenerSet,
  locked: ReadonlySet<string>,
): void {
  const { listeners } = built;
  for (const { port } of servicePorts) {
    if (!isHttpProtocol(port.protocol)) continue;
    const name = `0.0.0.0_${port.port}`;
    if (listeners.has(name)) continue;
    built.http.add(name);
    const hcm = httpConnectionManager({ statPrefix: `outbound_0.0.0.0_${port.port}`, rds: String(port.port), inbound: false, telemetry: built.telemetry });
    listeners.set(name, outboundListener(name, '0.0.0.0', port.port, [{ filters: [hcm] }], false));
  }
  for (const { service, port } of servicePorts) {
    if (isHttpProtocol(port.protocol)) continue;
    const address = service.addresses[0] ?? '0.0.0.0';
    const name = `${address}_${port.port}`;
    if (locked.has(name)) continue;
    if (isSniffedPort(service, port.protocol)) {
      if (!listeners.has(name)) listeners.set(name, sniffingListener(name, address, service, port, built.telemetry));
      continue;
    }
    const tls = port.protocol === 'TLS' || port.protocol === 'HTTPS';
    const shared = address === '0.0.0.0';
    // A TCP service without a VIP cannot share 0.0.0.0:PORT with HTTP services (istiod reports the conflict too).
    if (shared && built.http.has(name)) continue;
    const existing = listeners.get(name);
    if (existing) {
      // TLS services without VIPs share the listener, one SNI filter chain each; plain TCP ones conflict.
      if (shared && tls && existing.listenerFilters) {
        // outboundListener's chains: an array this module built and still owns.
        const chains = existing.filterChains as FilterChain[];
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

/**
 * A port with no declared protocol: Envoy sniffs it. HTTP (by ALPN from the
 * http_inspector) goes through the HTTP connection manager and the service's
 * own route configuration; anything else is proxied as TCP.
 */
function sniffingListener(name: string, address: string, service: MeshService, port: MeshServicePort, telemetry: HcmTelemetry): Listener {
  const cluster = outboundClusterName(port.port, '', service.hostname);
  const hcm = httpConnectionManager({ statPrefix: `outbound_${address}_${port.port}`, rds: sniffedRouteName(service, port.port), inbound: false, telemetry });
  const listener = outboundListener(
    name,
    address,
    port.port,
    [{ filterChainMatch: { applicationProtocols: ['http/1.0', 'http/1.1', 'h2c'] }, filters: [hcm] }, { filters: [tcpProxy(cluster, cluster)] }],
    true,
  );
  listener.listenerFilters = [...listener.listenerFilters!, { name: filterNames.httpInspector, typedConfig: { '@type': typeUrls.httpInspector } }];
  return listener;
}

export function virtualOutboundListener(scope: ProxyScope): Listener {
  const catchAll = scope.outboundTrafficPolicy === 'REGISTRY_ONLY' ? BlackHoleCluster : PassthroughCluster;
  return {
    name: VirtualOutboundListener,
    address: socketAddress('0.0.0.0', VirtualOutboundPort),
    filterChains: [
      // Traffic addressed to 15001 itself would loop: drop it.
      {
        filterChainMatch: { destinationPort: { value: VirtualOutboundPort } },
        filters: [tcpProxy(BlackHoleCluster, BlackHoleCluster)],
        name: 'virtualOutbound-blackhole',
      },
      { filters: [tcpProxy(catchAll, catchAll)], name: 'virtualOutbound-catchall-tcp' },
    ],
    useOriginalDst: { value: true },
    trafficDirection: 'OUTBOUND',
  };
}

/** The host istiod names an inbound port after in telemetry: its Service's, or `SIDECAR.NAMESPACE` for a Sidecar ingress port. */
function inboundHostname(target: ServiceTarget): string {
  const ingress = target.sidecarIngress;
  return ingress ? `${ingress.sidecar.name}.${ingress.sidecar.namespace}` : target.service.hostname;
}

function inboundRouteConfig(target: ServiceTarget): RouteConfiguration {
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
            decorator: { operation: `${inboundHostname(target)}:${target.port.port}/*` },
          },
        ],
      },
    ],
    validateClusters: { value: false },
  };
}

const passthroughRouteConfig = (): RouteConfiguration => {
  const zero = { seconds: 0 };
  return {
    name: InboundPassthroughCluster,
    virtualHosts: [
      {
        name: 'inbound|http|0',
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: { cluster: InboundPassthroughCluster, timeout: zero, maxStreamDuration: { maxStreamDuration: zero, grpcTimeoutHeaderMax: zero } },
          },
        ],
      },
    ],
    validateClusters: { value: false },
  };
};

/** Chains for traffic to ports no service declares (`virtualInbound-catchall-http`, `virtualInbound`), secured like a sniffed port. */
function passthroughChains(security: WorkloadSecurity, telemetry: HcmTelemetry): FilterChain[] {
  const mode = security.mtls.mode;
  return inboundChainOptions(mode, 'auto').map((option) => {
    const suffix = option.transportSocket ? '-mtls' : option.match.transportProtocol === 'tls' ? '-tls' : '';
    const chain: FilterChain =
      option.protocol === 'http'
        ? {
            name: `virtualInbound-catchall-http${suffix}`,
            filterChainMatch: option.match,
            filters: [
              httpConnectionManager({
                statPrefix: InboundPassthroughCluster,
                inbound: true,
                routeConfig: passthroughRouteConfig(),
                securityFilters: security.httpFilters,
                telemetry,
              }),
            ],
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
 * The filter chains of one inbound port: those its PeerAuthentication mode
 * asks for (mTLS with the workload certificate, plaintext, or both), each
 * running the workload's jwt_authn/RBAC (HTTP) or network RBAC (TCP) filters.
 * A Sidecar ingress port's chains are named after its bind address (istiod
 * defaults it to the proxy's IP) and point at the Sidecar in their metadata.
 */
function inboundPortChains(target: ServiceTarget, security: WorkloadSecurity, proxyAddress: string, telemetry: HcmTelemetry): FilterChain[] {
  const cluster = inboundClusterName(target.targetPort);
  const ingress = target.sidecarIngress;
  const name = `${ingress ? (ingress.bind ?? proxyAddress) : '0.0.0.0'}_${target.targetPort}`;
  // No declared protocol: HTTP when the http_inspector detects it, TCP otherwise.
  const protocol = isHttpProtocol(target.port.protocol) ? 'http' : target.port.protocol === 'UNKNOWN' ? 'auto' : 'tcp';
  const chains = securedInboundChains(security, target.targetPort, protocol, {
    name,
    httpConnectionManager: (securityFilters) =>
      httpConnectionManager({ statPrefix: `inbound_${name}`, routeConfig: inboundRouteConfig(target), inbound: true, securityFilters, telemetry }),
    tcpFilters: () => [tcpProxy(cluster, cluster)],
  });
  if (!ingress) return chains;
  const metadata = configMetadata('sidecar', ingress.sidecar.namespace, ingress.sidecar.name);
  return chains.map((chain) => ({ ...chain, metadata }));
}

/** The address istiod gives inbound listeners of a proxy: its first global unicast IP, else 0.0.0.0. */
function sidecarInboundAddress(proxyIps: readonly string[]): string {
  return proxyIps.find(isGlobalUnicast) ?? '0.0.0.0';
}

function isGlobalUnicast(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return !/^(0\.|127\.|169\.254\.|22[4-9]\.|2[3-5]\d\.)/.test(ip);
  if (family === 6) return !/^(::1?$|fe[89ab]|ff)/i.test(ip);
  return false;
}

/**
 * Inbound listeners: virtualInbound with every redirected port's chains,
 * then the passthrough chains for ports nothing declares (under the
 * workload-level mode); a Sidecar ingress port with captureMode NONE gets a
 * listener of its own bound to the port instead.
 */
export function inboundListeners(
  targets: readonly ServiceTarget[],
  security: WorkloadSecurity,
  proxyIps: readonly string[],
  telemetry: HcmTelemetry = {},
): Listener[] {
  const proxyAddress = sidecarInboundAddress(proxyIps);
  const redirected = targets.filter((t) => !t.sidecarIngress?.bindToPort);
  const bound = targets.filter((t) => t.sidecarIngress?.bindToPort);
  return [
    virtualInboundListener(
      redirected.flatMap((t) => inboundPortChains(t, security, proxyAddress, telemetry)),
      security,
      telemetry,
    ),
    ...bound.map((t) => boundInboundListener(t, inboundPortChains(t, security, proxyAddress, telemetry), proxyAddress)),
  ];
}

function virtualInboundListener(chains: readonly FilterChain[], security: WorkloadSecurity, telemetry: HcmTelemetry): Listener {
  return {
    name: VirtualInboundListener,
    address: socketAddress('0.0.0.0', VirtualInboundPort),
    filterChains: [...chains, ...passthroughChains(security, telemetry)],
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

/** A listener bound to the port itself (no original_dst): inspectors only where its chains match on TLS or ALPN. */
function boundInboundListener(target: ServiceTarget, chains: FilterChain[], proxyAddress: string): Listener {
  const address = target.sidecarIngress?.bind ?? proxyAddress;
  const matches = chains.map((c) => c.filterChainMatch ?? {});
  const listenerFilters: ListenerFilter[] = [];
  if (matches.some((m) => m.transportProtocol === 'tls'))
    listenerFilters.push({ name: filterNames.tlsInspector, typedConfig: { '@type': typeUrls.tlsInspector } });
  if (matches.some((m) => m.applicationProtocols?.some((p) => p === 'http/1.1' || p === 'h2c'))) {
    listenerFilters.push({ name: filterNames.httpInspector, typedConfig: { '@type': typeUrls.httpInspector } });
  }
  return {
    name: `${address}_${target.targetPort}`,
    address: socketAddress(address, target.targetPort),
    filterChains: chains,
    listenerFilters,
    listenerFiltersTimeout: { seconds: 0 },
    continueOnListenerFiltersTimeout: true,
    trafficDirection: 'INBOUND',
  };
}

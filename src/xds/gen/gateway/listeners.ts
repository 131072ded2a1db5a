// Gateway LDS: one listener per merged listener port (`BIND_PORT`, bound to
// the port), built as istiod builds gateway listeners: plaintext HTTP
// servers share one chain and `http.PORT`; each terminated HTTPS server has a
// chain matching its SNI hosts with its TLS context and own route
// configuration; TLS servers terminated or passed through, and TCP servers,
// forward with tcp_proxy from the VirtualServices' tls/tcp routes. A server
// whose credential is missing or malformed loses only its chain.
import type { Proxy } from '../../../model/proxy.js';
import type { VirtualServiceSpec } from '../../../model/istio.js';
import type { ConfigEntry, PushContext } from '../../../push/pushContext.js';
import { hostMatches } from '../../../push/hosts.js';
import {
  isPassthrough,
  serverCredential,
  terminatesHttps,
  verifiesClients,
  type GatewayListenerPlan,
  type MergedGateway,
  type MergedServer,
} from '../../../push/gateways.js';
import { httpConnectionManager, socketAddress, tcpProxy } from '../common/listeners.js';
import { filterNames, typeUrls } from '../common/names.js';
import { tcpDestinations } from '../sidecar/listeners.js';
import type { Filter, FilterChain, Listener } from '../../../proto/envoyTypes.generated.js';
import { withListenerTelemetry, type HcmTelemetry } from '../common/telemetry.js';
import { caCredential, certificateCredential } from '../../../push/credentials.js';
import { gatewayTransportSocket } from './tls.js';
import { autoPassthroughChains } from './sniDnat.js';

/** istiod bounds TLS handshakes on gateway chains (slow-handshake protection). */
const transportSocketConnectTimeout = { seconds: 15 };

/** Why a server's chain cannot be built (its credential), or undefined when it can. */
export function credentialProblem(context: PushContext, proxy: Proxy, server: MergedServer): string | undefined {
  const ref = serverCredential(server.gateway, server.tls, proxy.namespace);
  if (!ref) return undefined;
  if (ref.problem) return ref.problem;
  const cert = certificateCredential(context, ref.namespace, ref.name);
  if (!cert.ok) return cert.problem;
  if (verifiesClients(server.tls)) {
    const ca = caCredential(context, ref.namespace, ref.name);
    if (!ca.ok) return ca.problem;
  }
  return undefined;
}

/** SNI names a TLS server matches: its hosts without namespace; none (match all) when one is `*`. */
function sniHosts(server: MergedServer): string[] | undefined {
  const hosts = [...new Set((server.server.hosts ?? []).map((h) => h.slice(h.indexOf('/') + 1)))];
  return hosts.includes('*') ? undefined : hosts.sort();
}

function vsMatchesServerHosts(vs: ConfigEntry<VirtualServiceSpec>, server: MergedServer): boolean {
  const serverHosts = (server.server.hosts ?? []).map((h) => h.slice(h.indexOf('/') + 1));
  return (vs.spec.hosts ?? []).some((v) => serverHosts.some((s) => hostMatches(s, v) || hostMatches(v, s)));
}

function l4Applies(match: { port?: number; gateways?: string[] } | undefined, server: MergedServer, vsNamespace: string): boolean {
  if (!match) return true;
  if (match.port !== undefined && match.port !== server.server.port.number) return false;
  return !match.gateways?.length || match.gateways.some((g) => (g.includes('/') ? g : `${vsNamespace}/${g}`) === server.gatewayKey);
}

function forward(
  context: PushContext,
  route: NonNullable<VirtualServiceSpec['tcp']>[number]['route'],
  vs: ConfigEntry<VirtualServiceSpec>,
  port: number,
): Filter {
  const target = tcpDestinations(context, route ?? [], vs.namespace, port);
  return tcpProxy(typeof target === 'string' ? target : target[0]!.name, target);
}

/** tcp_proxy from the first tcp route of a bound VirtualService that applies to the server (TCP servers, terminated TLS servers). */
function tcpRouteFilters(context: PushContext, proxy: Proxy, server: MergedServer): Filter[] | undefined {
  for (const vs of context.virtualServicesForGateway(server.gatewayKey, proxy.namespace)) {
    if (!vsMatchesServerHosts(vs, server)) continue;
    for (const tcp of vs.spec.tcp ?? []) {
      if (!tcp.route?.length) continue;
      if (!(tcp.match?.length ? tcp.match.some((m) => l4Applies(m, server, vs.namespace)) : true)) continue;
      return [forward(context, tcp.route, vs, server.server.port.number)];
    }
  }
  return undefined;
}

/** PASSTHROUGH: a chain per tls route match, routed by SNI; an SNI claimed earlier on the listener is skipped (Envoy rejects duplicate matches). */
function passthroughChains(context: PushContext, proxy: Proxy, server: MergedServer, claimed: Set<string>): FilterChain[] {
  const chains: FilterChain[] = [];
  for (const vs of context.virtualServicesForGateway(server.gatewayKey, proxy.namespace)) {
    if (!vsMatchesServerHosts(vs, server)) continue;
    for (const tls of vs.spec.tls ?? []) {
      if (!tls.route?.length) continue;
      for (const match of tls.match) {
        if (!l4Applies(match, server, vs.namespace)) continue;
        const names = [...match.sniHosts].sort();
        if (names.some((n) => claimed.has(n))) continue;
        names.forEach((n) => claimed.add(n));
        chains.push({ filterChainMatch: { serverNames: names }, filters: [forward(context, tls.route, vs, server.server.port.number)] });
      }
    }
  }
  return chains;
}

function gatewayHcm(statPrefix: string, routeName: string, telemetry: HcmTelemetry): Filter {
  return httpConnectionManager({ statPrefix, rds: routeName, inbound: false, gateway: true, telemetry });
}

export interface DroppedServer {
  readonly server: MergedServer;
  readonly reason: string;
}

function listenerChains(context: PushContext, proxy: Proxy, plan: GatewayListenerPlan, dropped: DroppedServer[], telemetry: HcmTelemetry): FilterChain[] {
  const defaultStatPrefix = `outbound_${plan.name}`;
  if (plan.class === 'http') {
    return [{ filters: [gatewayHcm(defaultStatPrefix, plan.servers[0]!.routeName, telemetry)], transportSocketConnectTimeout }];
  }
  const chains: FilterChain[] = [];
  const claimedSni = new Set<string>();
  for (const server of plan.servers) {
    const tls = server.tls;
    if (tls && isPassthrough(tls)) {
      chains.push(
        ...(tls.mode === 'PASSTHROUGH' ? passthroughChains(context, proxy, server, claimedSni) : autoPassthroughChains(context, proxy, server, claimedSni)),
      );
      continue;
    }
    const problem = credentialProblem(context, proxy, server);
    if (problem) {
      dropped.push({ server, reason: problem });
      continue;
    }
    const http = terminatesHttps(server.server);
    const filters = http ? [gatewayHcm(server.server.name || defaultStatPrefix, server.routeName, telemetry)] : tcpRouteFilters(context, proxy, server);
    if (!filters) {
      dropped.push({ server, reason: 'no VirtualService tcp route applies to it' });
      continue;
    }
    const chain: FilterChain = {};
    const names = tls ? sniHosts(server) : undefined;
    if (names) {
      if (names.some((n) => claimedSni.has(n))) {
        dropped.push({ server, reason: `its hosts ${names.join(', ')} are already served on listener ${plan.name}` });
        continue;
      }
      names.forEach((n) => claimedSni.add(n));
      chain.filterChainMatch = { serverNames: names };
    }
    const socket = tls ? gatewayTransportSocket(tls, http) : undefined;
    if (socket) chain.transportSocket = socket;
    chain.filters = filters;
    chain.transportSocketConnectTimeout = transportSocketConnectTimeout;
    chains.push(chain);
  }
  return chains;
}

/**
 * The gateway's listeners, and the servers left out with the reason (for the
 * log). `telemetry` is the proxy's outbound (CLIENT) side: istiod's gateway
 * listener class takes the CLIENT mode for tracing, access logs and metrics.
 */
export function gatewayListeners(
  context: PushContext,
  proxy: Proxy,
  merged: MergedGateway,
  telemetry: HcmTelemetry = {},
): { listeners: Listener[]; dropped: DroppedServer[] } {
  const dropped: DroppedServer[] = [];
  const listeners: Listener[] = [];
  for (const plan of merged.listeners) {
    const filterChains = listenerChains(context, proxy, plan, dropped, telemetry);
    if (filterChains.length === 0) continue;
    const listener: Listener = { name: plan.name, address: socketAddress(plan.bind, plan.port), filterChains, trafficDirection: 'OUTBOUND' };
    const inspects = filterChains.some((c) => c.filterChainMatch?.serverNames || c.transportSocket);
    if (inspects) listener.listenerFilters = [{ name: filterNames.tlsInspector, typedConfig: { '@type': typeUrls.tlsInspector } }];
    listeners.push(listener);
  }
  return { listeners: withListenerTelemetry(listeners, telemetry), dropped };
}

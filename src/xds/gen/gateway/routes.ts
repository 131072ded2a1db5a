// Gateway RDS: one route configuration per route name of the merged gateway
// (`http.PORT` shared by a port's plaintext servers, `https.PORT.NAME.GW.NS`
// per terminated HTTPS server). Virtual hosts come from the VirtualServices
// bound to each server's Gateway, for the hosts the server and the
// VirtualService have in common; httpsRedirect servers require TLS (Envoy
// answers 301 to https). As istiod, virtual hosts of one VirtualService with
// the same routes collapse into one, and a configuration without hosts gets a
// 404 `blackhole` host.
import { routeSemanticsAnnotation } from '../../../model/gatewayApi.js';
import type { Proxy } from '../../../model/proxy.js';
import type { VirtualServiceSpec } from '../../../model/istio.js';
import type { ConfigEntry, ProxyScope, PushContext } from '../../../push/pushContext.js';
import { hostMatches, resolveShortName } from '../../../push/hosts.js';
import type { MergedGateway, MergedServer } from '../../../push/gateways.js';
import { scopeHashPolicy, translateHttpRoute, type RouteContext } from '../common/routes.js';
import { configMetadata } from '../common/struct.js';
import type { Route, RouteConfiguration, VirtualHost } from '../../../proto/envoyTypes.generated.js';

/** Server hosts (`ns/host`, `./host`, `*\/host` or `host`) that apply to a VirtualService of `vsNamespace`, without their namespace part. */
export function serverHostsFor(server: MergedServer, vsNamespace: string): string[] {
  const out: string[] = [];
  for (const entry of server.server.hosts ?? []) {
    const slash = entry.indexOf('/');
    if (slash < 0) {
      out.push(entry.toLowerCase());
      continue;
    }
    const ns = entry.slice(0, slash);
    const visible = ns === '*' || (ns === '.' ? server.gateway.namespace === vsNamespace : ns === vsNamespace);
    if (visible) out.push(entry.slice(slash + 1).toLowerCase());
  }
  return out;
}

/** Hosts two host lists share, each the more specific of a matching pair (istiod's host intersection). */
export function intersectHosts(serverHosts: readonly string[], vsHosts: readonly string[]): string[] {
  const out: string[] = [];
  const add = (h: string): void => {
    if (!out.includes(h)) out.push(h);
  };
  for (const a of serverHosts) {
    for (const b of vsHosts) {
      if (hostMatches(b, a)) add(a);
      else if (hostMatches(a, b)) add(b);
    }
  }
  return out;
}

function gatewayRouteContext(
  context: PushContext,
  scope: ProxyScope,
  vs: ConfigEntry<VirtualServiceSpec>,
  server: MergedServer,
  proxy: Proxy,
  reads?: Set<string>,
): RouteContext {
  const { domainSuffix } = context.options;
  return {
    listenerPort: server.server.port.number,
    proxyLabels: proxy.labels,
    serviceHostname: vs.hosts[0] ?? '',
    resolveHost: (host) => resolveShortName(host, vs.namespace, domainSuffix),
    servicePorts: (hostname) => context.service(hostname)?.ports.map((p) => p.port),
    hashPolicy: scopeHashPolicy(context, scope, reads),
    matchesGateways: (gateways) => gateways.some((g) => (g.includes('/') ? g : `${vs.namespace}/${g}`) === server.gatewayKey),
    gatewaySemantics: vs.object.metadata.annotations?.[routeSemanticsAnnotation] === 'gateway',
  };
}

function virtualServiceRoutes(
  context: PushContext,
  scope: ProxyScope,
  vs: ConfigEntry<VirtualServiceSpec>,
  server: MergedServer,
  proxy: Proxy,
  reads?: Set<string>,
): Route[] {
  const ctx = gatewayRouteContext(context, scope, vs, server, proxy, reads);
  const metadata = configMetadata('virtual-service', vs.namespace, vs.name);
  const routes: Route[] = [];
  for (const http of vs.spec.http ?? []) {
    // Decorators name the rule's first destination (a gateway route has no service of its own).
    const destination = http.route?.[0]?.destination.host;
    const translated = translateHttpRoute(http, destination ? { ...ctx, serviceHostname: ctx.resolveHost(destination) } : ctx);
    for (const route of translated.routes) route.metadata = metadata;
    routes.push(...translated.routes);
    if (translated.catchAll) break;
  }
  return routes;
}

interface VirtualHostDraft {
  hostname: string;
  port: number;
  routes: Route[];
  /** The VirtualServices whose routes it holds, in order: equal lists with equal routes collapse. */
  sources: string[];
  requireTls: boolean;
}

/**
 * The route configuration `name` of the merged gateway, or undefined when it has none by that name.
 * `reads` collects the hosts whose DestinationRules its routes read (their destinations).
 */
export function buildGatewayRouteConfiguration(
  context: PushContext,
  proxy: Proxy,
  merged: MergedGateway,
  name: string,
  reads?: Set<string>,
): RouteConfiguration | undefined {
  const servers = merged.serversByRouteName.get(name);
  if (!servers) return undefined;
  const scope = context.scopeFor(proxy);
  const hosts = new Map<string, VirtualHostDraft>();
  for (const server of servers) {
    const port = server.server.port.number;
    const redirect = server.tls?.httpsRedirect === true;
    for (const vs of context.virtualServicesForGateway(server.gatewayKey, proxy.namespace)) {
      const vsHosts = (vs.spec.hosts ?? []).map((h) => h.toLowerCase());
      const shared = intersectHosts(serverHostsFor(server, vs.namespace), vsHosts);
      if (shared.length === 0) continue;
      const routes = virtualServiceRoutes(context, scope, vs, server, proxy, reads);
      const source = `${vs.namespace}/${vs.name}`;
      for (const hostname of shared) {
        const existing = hosts.get(hostname);
        if (existing) {
          existing.routes.push(...routes);
          existing.sources.push(source);
          existing.requireTls ||= redirect;
        } else {
          hosts.set(hostname, { hostname, port, routes: [...routes], sources: [source], requireTls: redirect });
        }
      }
    }
    // httpsRedirect covers every host of the server, bound to a VirtualService or not.
    if (!redirect) continue;
    for (const entry of server.server.hosts ?? []) {
      const hostname = entry.slice(entry.indexOf('/') + 1).toLowerCase();
      const existing = hosts.get(hostname);
      if (existing) existing.requireTls = true;
      else hosts.set(hostname, { hostname, port, routes: [], sources: [], requireTls: true });
    }
  }
  return {
    name,
    virtualHosts: virtualHosts([...hosts.values()], servers[0]!.server.port.number),
    validateClusters: { value: false },
    ignorePortInHostMatching: true,
  };
}

function virtualHosts(drafts: VirtualHostDraft[], firstPort: number): VirtualHost[] {
  if (drafts.length === 0) return [{ name: `blackhole:${firstPort}`, domains: ['*'] }];
  // Hosts with the same routes from the same VirtualServices share one virtual host, named after the first alphabetically.
  const byContent = new Map<string, { draft: VirtualHostDraft; domains: string[] }>();
  const sorted = [...drafts].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
  for (const draft of sorted) {
    const key = draft.sources.length > 0 ? `${draft.sources.join(',')}|${draft.requireTls}|${JSON.stringify(draft.routes)}` : `host|${draft.hostname}`;
    const entry = byContent.get(key);
    if (entry) entry.domains.push(draft.hostname);
    else byContent.set(key, { draft, domains: [draft.hostname] });
  }
  const out = [...byContent.values()].map(({ draft, domains }) => {
    const vh: VirtualHost = { name: `${draft.hostname}:${draft.port}`, domains, routes: sortCatchAllLast(draft.routes), includeRequestAttemptCount: true };
    if (draft.requireTls) vh.requireTls = 'ALL';
    return vh;
  });
  return out.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
}

/** istiod keeps catch-all routes (prefix `/` and nothing else) after the others, their relative order otherwise unchanged. */
function sortCatchAllLast(routes: Route[]): Route[] {
  const isCatchAll = (r: Route): boolean => {
    const match = r.match;
    return !!match && Object.keys(match).length === 1 && match.prefix === '/';
  };
  return [...routes.filter((r) => !isCatchAll(r)), ...routes.filter(isCatchAll)];
}

// Sidecar RDS: one route configuration per outbound HTTP port (named after
// the port), a virtual host per visible service on that port with
// VirtualService routes or istiod's default route, plus the catch-all host.
import type { PushContext, ProxyScope } from '../../../push/pushContext.js';
import { resolveShortName } from '../../../push/hosts.js';
import { isHttpProtocol, type Protocol } from '../../../model/protocol.js';
import type { MeshService } from '../../../push/services.js';
import { listenerServicePorts, servicesOnRoutePort } from '../../../push/sidecarEgress.js';
import { catchAllVirtualHost, defaultRoute, scopeHashPolicy, translateHttpRoute, type RouteContext } from '../common/routes.js';
import { outboundClusterName } from '../common/names.js';
import { configMetadata } from '../common/struct.js';
import type { Route, RouteConfiguration, VirtualHost } from '../../../proto/envoyTypes.generated.js';

/** RDS name of a port whose protocol is sniffed (istiod names it after the service: `HOST:PORT`). */
export function sniffedRouteName(service: MeshService, port: number): string {
  return `${service.hostname}:${port}`;
}

/** True for a port istiod would sniff: no protocol from its name or appProtocol, and a VIP to bind to. */
export function isSniffedPort(service: MeshService, protocol: Protocol): boolean {
  return protocol === 'UNKNOWN' && service.addresses.length > 0;
}

/** Route configuration names in this scope: `PORT` per HTTP listener port, `HOST:PORT` per sniffed service port (each egress listener's protocols). */
export function routeNames(scope: ProxyScope): string[] {
  const ports = new Set<number>();
  const sniffed = new Set<string>();
  for (const { service, port } of scope.egressListeners.flatMap(listenerServicePorts)) {
    if (isHttpProtocol(port.protocol)) ports.add(port.port);
    else if (isSniffedPort(service, port.protocol)) sniffed.add(sniffedRouteName(service, port.port));
  }
  return [...[...ports].sort((a, b) => a - b).map(String), ...[...sniffed].sort()];
}

/**
 * Names a Kubernetes service is reachable by from a pod in `proxyNamespace`
 * (istiod's alternate virtual hosts): `name` from its own namespace, and
 * `name.ns`, `name.ns.svc` from anywhere in the same cluster domain.
 */
export function alternateHosts(service: MeshService, proxyNamespace: string, domainSuffix: string): string[] {
  if (service.registry !== 'Kubernetes' || !service.hostname.endsWith(`.svc.${domainSuffix}`)) return [];
  const short = `${service.name}.${service.namespace}`;
  const hosts = [short, `${short}.svc`];
  return service.namespace === proxyNamespace ? [service.name, ...hosts] : hosts;
}

/** True when some VirtualService in scope has sourceLabels matches, making routes depend on the proxy's labels. */
export function scopeUsesSourceLabels(context: PushContext, scope: ProxyScope): boolean {
  for (const service of scope.services) {
    const vs = context.virtualServiceFor(service.hostname, scope.namespace);
    if (vs?.spec.http?.some((h) => h.match?.some((m) => m.sourceLabels))) return true;
  }
  return false;
}

function routeContext(
  context: PushContext,
  scope: ProxyScope,
  service: MeshService,
  port: number,
  vsNamespace: string,
  proxyLabels: Readonly<Record<string, string>>,
  reads?: Set<string>,
): RouteContext {
  const { domainSuffix } = context.options;
  return {
    listenerPort: port,
    proxyLabels,
    serviceHostname: service.hostname,
    resolveHost: (host) => resolveShortName(host, vsNamespace, domainSuffix),
    servicePorts: (hostname) => context.service(hostname)?.ports.map((p) => p.port),
    hashPolicy: scopeHashPolicy(context, scope, reads),
  };
}

/**
 * Routes of one service's virtual host on one port: its VirtualService rules, or istiod's default route. Shared with the gRPC generator.
 * `reads` collects the hosts whose routing they read: the service's VirtualService and its destinations' DestinationRules.
 */
export function virtualHostRoutes(
  context: PushContext,
  scope: ProxyScope,
  service: MeshService,
  port: number,
  proxyLabels: Readonly<Record<string, string>>,
  reads?: Set<string>,
): Route[] {
  reads?.add(service.hostname);
  const vs = context.virtualServiceFor(service.hostname, scope.namespace);
  const fallback = (): Route => {
    const route = defaultRoute(outboundClusterName(port, '', service.hostname), service.hostname, port);
    const hash = routeContext(context, scope, service, port, service.namespace, proxyLabels, reads).hashPolicy(service.hostname, port, '');
    if (hash) route.route!.hashPolicy = hash;
    return route;
  };
  if (!vs?.spec.http?.length) return [fallback()];
  const ctx = routeContext(context, scope, service, port, vs.namespace, proxyLabels, reads);
  const routes: Route[] = [];
  // istiod tags each route with the VirtualService it came from (istioctl's VIRTUAL SERVICE column).
  const metadata = configMetadata('virtual-service', vs.namespace, vs.name);
  for (const http of vs.spec.http) {
    const translated = translateHttpRoute(http, ctx);
    for (const route of translated.routes) route.metadata = metadata;
    routes.push(...translated.routes);
    if (translated.catchAll) return routes;
  }
  // No rule matched everything: istiod leaves unmatched requests to 404 from the router.
  return routes.length > 0 ? routes : [fallback()];
}

/** The route configuration named `name` (see routeNames), or undefined when the scope has none by that name; `reads` as virtualHostRoutes'. */
export function buildNamedRouteConfiguration(
  context: PushContext,
  scope: ProxyScope,
  name: string,
  proxyLabels: Readonly<Record<string, string>>,
  reads?: Set<string>,
): RouteConfiguration | undefined {
  if (/^\d+$/.test(name)) return buildRouteConfiguration(context, scope, Number(name), proxyLabels, reads);
  const colon = name.lastIndexOf(':');
  const service = scope.services.find((s) => s.hostname === name.slice(0, colon));
  const port = Number(name.slice(colon + 1));
  if (!service || !service.ports.some((p) => p.port === port && isSniffedPort(service, p.protocol))) return undefined;
  // A sniffed port's listener belongs to one service: its virtual host takes every authority.
  return {
    name,
    virtualHosts: [{ name, domains: ['*'], routes: virtualHostRoutes(context, scope, service, port, proxyLabels, reads), includeRequestAttemptCount: true }],
    validateClusters: { value: false },
    ignorePortInHostMatching: true,
  };
}

export function buildRouteConfiguration(
  context: PushContext,
  scope: ProxyScope,
  port: number,
  proxyLabels: Readonly<Record<string, string>>,
  reads?: Set<string>,
): RouteConfiguration {
  const seen = new Set<string>();
  const virtualHosts: VirtualHost[] = [];
  for (const service of servicesOnRoutePort(scope.egressListeners, port)) {
    const candidates = [service.hostname, ...alternateHosts(service, scope.namespace, context.options.domainSuffix), ...service.addresses];
    const domains = candidates.filter((d) => !seen.has(d));
    if (domains.length === 0) continue;
    for (const d of domains) seen.add(d);
    virtualHosts.push({
      name: `${service.hostname}:${port}`,
      domains,
      routes: virtualHostRoutes(context, scope, service, port, proxyLabels, reads),
      includeRequestAttemptCount: true,
    });
  }
  virtualHosts.push(catchAllVirtualHost(scope.outboundTrafficPolicy));
  return { name: String(port), virtualHosts, validateClusters: { value: false }, ignorePortInHostMatching: true };
}

// gRPC RDS: one route configuration per service port, named after the
// service's default cluster (`outbound|PORT||FQDN`) as istiod's gRPC
// generator names it, holding that service's virtual host only. Routes are
// the sidecar's (VirtualService rules or istiod's default route), so both
// kinds of proxies see the same matches, splits, retries, timeouts and faults.
import type { PushContext, ProxyScope } from '../../../push/pushContext.js';
import type { MeshService } from '../../../push/services.js';
import type { Route, RouteConfiguration } from '../../../proto/envoyTypes.generated.js';
import { alternateHosts, virtualHostRoutes } from '../sidecar/routes.js';
import { joinHostPort } from './names.js';

/**
 * Domains of the virtual host. gRPC picks the virtual host by the authority it
 * dialled (`HOST:PORT` from `xds:///HOST:PORT`), so each name is listed with
 * and without the port.
 */
export function grpcVirtualHostDomains(service: MeshService, port: number, proxyNamespace: string, domainSuffix: string): string[] {
  const hosts = [service.hostname, ...alternateHosts(service, proxyNamespace, domainSuffix), ...service.addresses];
  return [...new Set(hosts.flatMap((h) => [h, joinHostPort(h, port)]))];
}

/**
 * HeaderMatcher.string_match rewritten to the equivalent deprecated fields
 * (exact_match, prefix_match, safe_regex_match). gRPC C-core before 1.52
 * (Debian's python3-grpcio 1.51) rejects string_match; every gRPC version
 * and Envoy accept the older fields with the same meaning.
 */
export function withLegacyHeaderMatchers(route: Route): Route {
  const match = route.match;
  const headers = match?.headers;
  if (!headers) return route;
  const legacy = headers.map((header) => {
    const { stringMatch, ...rest } = header;
    if (!stringMatch || Object.keys(stringMatch).length !== 1) return header;
    if (stringMatch.exact !== undefined) return { ...rest, exactMatch: stringMatch.exact };
    if (stringMatch.prefix !== undefined) return { ...rest, prefixMatch: stringMatch.prefix };
    if (stringMatch.safeRegex !== undefined) return { ...rest, safeRegexMatch: stringMatch.safeRegex };
    return header;
  });
  return { ...route, match: { ...match, headers: legacy } };
}

export function buildGrpcRouteConfiguration(
  context: PushContext,
  scope: ProxyScope,
  routeName: string,
  service: MeshService,
  port: number,
  proxyLabels: Readonly<Record<string, string>>,
): RouteConfiguration {
  return {
    name: routeName,
    virtualHosts: [
      {
        name: joinHostPort(service.hostname, port),
        domains: grpcVirtualHostDomains(service, port, scope.namespace, context.options.domainSuffix),
        routes: virtualHostRoutes(context, scope, service, port, proxyLabels).map(withLegacyHeaderMatchers),
      },
    ],
  };
}

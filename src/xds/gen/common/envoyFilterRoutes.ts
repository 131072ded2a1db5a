// EnvoyFilter patches on route configurations, as istiod applies them:
// ROUTE_CONFIGURATION (MERGE only), VIRTUAL_HOST (REMOVE, MERGE, REPLACE,
// ADD) and HTTP_ROUTE (REMOVE and MERGE on matching routes; ADD,
// INSERT_FIRST, INSERT_BEFORE and INSERT_AFTER relative to the route the match
// names). Sidecars match a configuration by its port (the RDS name `PORT`, or
// the port of an inbound `inbound|PORT||` name) and name; gateways by the port,
// server port name and Gateway their RDS name carries (`http.PORT`,
// `https.PORT.PORTNAME.GATEWAY.NAMESPACE`), a port also matching the service
// ports that map to it.
import type { EnvoyFilterPatch, ProxyEnvoyFilters } from '../../../push/envoyFilters.js';
import { patchesFor } from '../../../push/envoyFilters.js';
import { lookupType } from '../../../proto/envoyRoot.js';
import { protoMerge } from './envoyFilterMerge.js';
import { asArray, contextMatches, valueOf, type PatchContext } from './envoyFilterContext.js';
import type { Json } from './json.js';

export interface RouteConfigurationInfo {
  /** Gateways: service ports by the port a route configuration binds (istiod's GatewayPortMap). */
  readonly servicePorts?: ReadonlyMap<number, readonly number[]>;
}

/** A gateway RDS name's parts: `http.8080` → port 8080; `https.443.https.gw.ns` → port 443, port name https, gateway ns/gw. */
export function parseGatewayRouteName(name: string): { port: number; portName: string; gateway: string } {
  const parts = name.split('.');
  const port = Number(parts[1] ?? 0) || 0;
  if (parts[0] !== 'https' || parts.length < 5) return { port, portName: '', gateway: '' };
  return { port, portName: parts[2]!, gateway: `${parts[parts.length - 1]}/${parts.slice(3, -1).join('.')}` };
}

function routeConfigurationMatch(context: PatchContext, rc: Json, patch: EnvoyFilterPatch, info: RouteConfigurationInfo): boolean {
  const match = patch.match.routeConfiguration;
  if (!match) return true;
  const name = typeof rc.name === 'string' ? rc.name : '';
  if (match.name && match.name !== name) return false;
  if (context !== 'GATEWAY') {
    const port = name.startsWith('inbound|') ? Number(name.split('|')[1]) : Number(name);
    return !match.portNumber || match.portNumber === port;
  }
  const parsed = parseGatewayRouteName(name);
  if (match.portNumber) {
    const servicePorts = info.servicePorts?.get(parsed.port);
    if (servicePorts ? !servicePorts.includes(match.portNumber) : parsed.port !== match.portNumber) return false;
  }
  if (match.portName && match.portName !== parsed.portName) return false;
  if (match.gateway && match.gateway !== parsed.gateway) return false;
  return true;
}

function virtualHostMatch(vhost: Json, patch: EnvoyFilterPatch): boolean {
  const name = patch.match.routeConfiguration?.vhost?.name;
  return !name || name === vhost.name;
}

const hasRouteMatch = (patch: EnvoyFilterPatch): boolean => patch.match.routeConfiguration?.vhost?.route !== undefined;

function routeMatch(route: Json, patch: EnvoyFilterPatch): boolean {
  const match = patch.match.routeConfiguration?.vhost?.route;
  if (!match) return true;
  if (match.name && match.name !== route.name) return false;
  switch (match.action ?? 'ANY') {
    case 'ROUTE':
      return route.route !== undefined;
    case 'REDIRECT':
      return route.redirect !== undefined;
    case 'DIRECT_RESPONSE':
      return route.directResponse !== undefined;
    default:
      return true;
  }
}

function patchRoutes(routes: Json[], patches: readonly EnvoyFilterPatch[], applied: Set<EnvoyFilterPatch>): Json[] {
  const routeType = lookupType('envoy.config.route.v3.Route');
  let out: (Json | undefined)[] = routes.map((route) => {
    let current: Json | undefined = route;
    for (const patch of patches) {
      if (!current || !routeMatch(current, patch)) continue;
      if (patch.operation === 'REMOVE') {
        current = undefined;
        applied.add(patch);
      } else if (patch.operation === 'MERGE') {
        current = protoMerge(routeType, current, valueOf(patch));
        applied.add(patch);
      }
    }
    return current;
  });
  for (const patch of patches) {
    const present = out.filter((r): r is Json => r !== undefined);
    const index = present.findIndex((r) => routeMatch(r, patch));
    switch (patch.operation) {
      case 'ADD':
        out = [...present, valueOf(patch)];
        break;
      case 'INSERT_AFTER':
        if (!hasRouteMatch(patch)) out = [...present, valueOf(patch)];
        else if (index >= 0) out = [...present.slice(0, index + 1), valueOf(patch), ...present.slice(index + 1)];
        else continue;
        break;
      case 'INSERT_BEFORE':
        if (!hasRouteMatch(patch)) out = [valueOf(patch), ...present];
        else if (index >= 0) out = [...present.slice(0, index), valueOf(patch), ...present.slice(index)];
        else continue;
        break;
      case 'INSERT_FIRST':
        if (hasRouteMatch(patch) && index < 0) continue;
        out = [valueOf(patch), ...present];
        break;
      default:
        continue;
    }
    applied.add(patch);
  }
  return out.filter((r): r is Json => r !== undefined);
}

/**
 * A route configuration with a proxy's route-class patches of one context
 * applied (the same object when none matches); records each patch that
 * applied in `applied`.
 */
export function patchRouteConfiguration(
  context: PatchContext,
  filters: ProxyEnvoyFilters,
  rc: Json,
  info: RouteConfigurationInfo,
  applied: Set<EnvoyFilterPatch>,
): Json {
  const inScope = (p: EnvoyFilterPatch): boolean => contextMatches(context, p) && routeConfigurationMatch(context, rc, p, info);
  const patches = patchesFor(filters, 'ROUTE_CONFIGURATION', 'VIRTUAL_HOST', 'HTTP_ROUTE').filter(inScope);
  if (patches.length === 0) return rc;
  let out: Json = { ...rc };
  for (const patch of patches) {
    if (patch.applyTo !== 'ROUTE_CONFIGURATION' || patch.operation !== 'MERGE') continue;
    out = protoMerge(lookupType('envoy.config.route.v3.RouteConfiguration'), out, valueOf(patch));
    applied.add(patch);
  }
  const vhostPatches = patches.filter((p) => p.applyTo === 'VIRTUAL_HOST');
  const routePatches = patches.filter((p) => p.applyTo === 'HTTP_ROUTE');
  const vhostType = lookupType('envoy.config.route.v3.VirtualHost');
  const vhosts: Json[] = [];
  for (const vhost of asArray(out.virtualHosts)) {
    let current: Json | undefined = vhost;
    for (const patch of vhostPatches) {
      if (!current || !virtualHostMatch(current, patch)) continue;
      if (patch.operation === 'REMOVE') current = undefined;
      else if (patch.operation === 'MERGE') current = protoMerge(vhostType, current, valueOf(patch));
      else if (patch.operation === 'REPLACE') current = valueOf(patch);
      else continue;
      applied.add(patch);
    }
    if (!current) continue;
    const own = routePatches.filter((p) => virtualHostMatch(current, p));
    vhosts.push(own.length === 0 ? current : { ...current, routes: patchRoutes(asArray(current.routes), own, applied) });
  }
  for (const patch of vhostPatches) {
    if (patch.operation !== 'ADD') continue;
    vhosts.push(valueOf(patch));
    applied.add(patch);
  }
  out.virtualHosts = vhosts;
  return out;
}

// go-control-plane's snapshot consistency rule, over one proxy's resources of one push: every route
// configuration a listener's HttpConnectionManager names over RDS, and every load assignment an EDS cluster
// names, must be among the RDS and EDS resources generated for that proxy. Envoy otherwise keeps the listener
// or cluster warming until its initial fetch timeout. Pure: reads proto3 JSON (decoded or as generated).
import type { Json } from './gen/common/json.js';

/** One proxy's resources, as proto3 JSON (camelCase fields, `@type`-tagged Any values). */
export interface ProxyResources {
  readonly listeners: readonly Json[];
  readonly clusters: readonly Json[];
  readonly routes: readonly Json[];
  readonly endpoints: readonly Json[];
}

export interface ConsistencyProblem {
  readonly proxy: string;
  /** The type of the missing resource. */
  readonly type: 'RDS' | 'EDS';
  /** The listener or cluster whose reference is unresolved. */
  readonly referencedBy: string;
  readonly missing: string;
  readonly message: string;
}

const httpConnectionManagerType = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/**
 * Route configuration names each listener requests over RDS: from every HttpConnectionManager anywhere in it
 * (every filter chain, the default filter chain, a proxyless client's api_listener). Inline route
 * configurations and scoped routes name nothing.
 */
export function referencedRouteNames(listeners: readonly Json[]): Map<string, Set<string>> {
  const byListener = new Map<string, Set<string>>();
  for (const listener of listeners) {
    const names = new Set<string>();
    visit(listener, (node) => {
      if (node['@type'] !== httpConnectionManagerType) return;
      const name = (node.rds as Json | undefined)?.routeConfigName;
      if (typeof name === 'string') names.add(name);
    });
    if (names.size > 0) byListener.set(String(listener.name), names);
  }
  return byListener;
}

/** The ClusterLoadAssignment name each EDS cluster requests: `edsClusterConfig.serviceName`, or the cluster's name. */
export function referencedEdsNames(clusters: readonly Json[]): Map<string, string> {
  const byCluster = new Map<string, string>();
  for (const cluster of clusters) {
    if (cluster.type !== 'EDS') continue;
    const serviceName = (cluster.edsClusterConfig as Json | undefined)?.serviceName;
    byCluster.set(String(cluster.name), typeof serviceName === 'string' && serviceName !== '' ? serviceName : String(cluster.name));
  }
  return byCluster;
}

/** Every unresolved RDS and EDS reference of one proxy's resources, in listener then cluster order. */
export function consistencyProblems(proxy: string, resources: ProxyResources): ConsistencyProblem[] {
  const problems: ConsistencyProblem[] = [];
  const routes = new Set(resources.routes.map((r) => String(r.name)));
  for (const [listener, names] of referencedRouteNames(resources.listeners)) {
    for (const missing of names) {
      if (routes.has(missing)) continue;
      const message = `proxy ${proxy}: listener ${listener} names route configuration ${JSON.stringify(missing)}, which is not among its RDS resources`;
      problems.push({ proxy, type: 'RDS', referencedBy: listener, missing, message });
    }
  }
  const endpoints = new Set(resources.endpoints.map((e) => String(e.clusterName)));
  for (const [cluster, missing] of referencedEdsNames(resources.clusters)) {
    if (endpoints.has(missing)) continue;
    const message = `proxy ${proxy}: EDS cluster ${cluster} names load assignment ${JSON.stringify(missing)}, which is not among its EDS resources`;
    problems.push({ proxy, type: 'EDS', referencedBy: cluster, missing, message });
  }
  return problems;
}

function visit(value: unknown, onObject: (node: Json) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item, onObject);
  } else if (value !== null && typeof value === 'object') {
    onObject(value as Json);
    for (const child of Object.values(value)) visit(child, onObject);
  }
}

// Istio's EnvoyFilter (networking.istio.io/v1alpha3) as it appears in YAML,
// following istio/api networking/v1alpha3/envoy_filter.proto.

export const envoyFilterApplyTo = [
  'INVALID',
  'LISTENER',
  'FILTER_CHAIN',
  'NETWORK_FILTER',
  'HTTP_FILTER',
  'ROUTE_CONFIGURATION',
  'VIRTUAL_HOST',
  'HTTP_ROUTE',
  'CLUSTER',
  'EXTENSION_CONFIG',
  'BOOTSTRAP',
  'LISTENER_FILTER',
] as const;
export type EnvoyFilterApplyTo = (typeof envoyFilterApplyTo)[number];

export const envoyFilterContexts = ['ANY', 'SIDECAR_INBOUND', 'SIDECAR_OUTBOUND', 'GATEWAY'] as const;
export type EnvoyFilterContext = (typeof envoyFilterContexts)[number];

export const envoyFilterOperations = ['INVALID', 'MERGE', 'ADD', 'REMOVE', 'INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REPLACE'] as const;
export type EnvoyFilterOperation = (typeof envoyFilterOperations)[number];

export interface EnvoyFilterListenerMatch {
  portNumber?: number;
  portName?: string;
  name?: string;
  listenerFilter?: string;
  filterChain?: {
    name?: string;
    sni?: string;
    transportProtocol?: string;
    applicationProtocols?: string;
    destinationPort?: number;
    filter?: { name?: string; subFilter?: { name?: string } };
  };
}

export interface EnvoyFilterRouteConfigurationMatch {
  portNumber?: number;
  portName?: string;
  gateway?: string;
  name?: string;
  vhost?: { name?: string; route?: { name?: string; action?: 'ANY' | 'ROUTE' | 'REDIRECT' | 'DIRECT_RESPONSE' } };
}

export interface EnvoyFilterClusterMatch {
  portNumber?: number;
  service?: string;
  subset?: string;
  name?: string;
}

export interface EnvoyFilterMatch {
  context?: EnvoyFilterContext;
  proxy?: { proxyVersion?: string; metadata?: Record<string, string> };
  listener?: EnvoyFilterListenerMatch;
  routeConfiguration?: EnvoyFilterRouteConfigurationMatch;
  cluster?: EnvoyFilterClusterMatch;
}

export interface EnvoyFilterPatchSpec {
  operation?: EnvoyFilterOperation;
  /** Envoy configuration in proto3 JSON (snake_case or camelCase fields, `@type`-tagged Any). */
  value?: Record<string, unknown>;
  filterClass?: 'UNSPECIFIED' | 'AUTHN' | 'AUTHZ' | 'STATS';
}

export interface EnvoyConfigObjectPatch {
  applyTo?: EnvoyFilterApplyTo;
  match?: EnvoyFilterMatch;
  patch?: EnvoyFilterPatchSpec;
}

export interface EnvoyFilterTargetRef {
  group?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface EnvoyFilterSpec {
  workloadSelector?: { labels?: Record<string, string> };
  targetRefs?: EnvoyFilterTargetRef[];
  configPatches?: EnvoyConfigObjectPatch[];
  priority?: number;
}

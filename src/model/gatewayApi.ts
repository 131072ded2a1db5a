// The Kubernetes Gateway API (gateway.networking.k8s.io, standard channel)
// shapes meshd reads: GatewayClass, Gateway, HTTPRoute, GRPCRoute and
// ReferenceGrant. Only the fields meshd acts on are typed.

export const gatewayApiGroup = 'gateway.networking.k8s.io';
/** istiod's controller name for GatewayClass `istio`. */
export const istioGatewayController = 'istio.io/gateway-controller';
/** The label istiod puts on (and selects) the pods of a deployed Gateway. */
export const gatewayNameLabel = 'gateway.networking.k8s.io/gateway-name';
/** istiod's annotation on VirtualServices generated from routes: Gateway API matching semantics apply. */
export const routeSemanticsAnnotation = 'internal.istio.io/route-semantics';
/** istiod's prefix on a generated redirect `uri` meaning "replace the matched prefix" (RequestRedirect ReplacePrefixMatch). */
export const prefixRedirectMarker = '%PREFIX()%';

export interface GatewayClassSpec {
  controllerName?: string;
  description?: string;
}

export interface SecretObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface RouteGroupKind {
  group?: string;
  kind: string;
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  tls?: {
    mode?: 'Terminate' | 'Passthrough';
    certificateRefs?: SecretObjectReference[];
    options?: Record<string, string>;
  };
  allowedRoutes?: {
    namespaces?: { from?: 'Same' | 'All' | 'Selector'; selector?: LabelSelector };
    kinds?: RouteGroupKind[];
  };
}

export interface KubernetesGatewaySpec {
  gatewayClassName: string;
  listeners?: Listener[];
  addresses?: { type?: string; value: string }[];
}

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
  filters?: RouteFilter[];
}

export interface HeaderMatch {
  type?: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HttpRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: HeaderMatch[];
  queryParams?: HeaderMatch[];
  method?: string;
}

export interface GrpcRouteMatch {
  method?: { type?: 'Exact' | 'RegularExpression'; service?: string; method?: string };
  headers?: HeaderMatch[];
}

export interface HeaderModifier {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface PathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface RouteFilter {
  /** RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror, ExtensionRef; others are reported, not served. */
  type: string;
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestRedirect?: { scheme?: string; hostname?: string; path?: PathModifier; port?: number; statusCode?: number };
  urlRewrite?: { hostname?: string; path?: PathModifier };
  requestMirror?: { backendRef: BackendRef; percent?: number; fraction?: { numerator: number; denominator?: number } };
}

export interface HttpRouteRule {
  name?: string;
  matches?: HttpRouteMatch[];
  filters?: RouteFilter[];
  backendRefs?: BackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}

export interface GrpcRouteRule {
  name?: string;
  matches?: GrpcRouteMatch[];
  filters?: RouteFilter[];
  backendRefs?: BackendRef[];
}

export interface HttpRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HttpRouteRule[];
}

export interface GrpcRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: GrpcRouteRule[];
}

export interface ReferenceGrantSpec {
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name?: string }[];
}

/** A status condition as the Gateway API writes it (metav1.Condition). */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

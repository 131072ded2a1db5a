// HTTP route translation shared by sidecars and gateways: VirtualService
// http rules → Envoy routes, istiod's default route, retries, faults,
// mirrors, CORS and header manipulation.
import type {
  CorsPolicy,
  Destination,
  HeaderOperations,
  HTTPFaultInjection,
  HTTPMatchRequest,
  HTTPRetry,
  HTTPRoute,
  StringMatch,
} from '../../../model/istio.js';
import { toProtoDuration, type ProtoDuration } from '../../../model/duration.js';
import { httpRouteDurations, type HttpRouteDurations } from '../../../push/routeDurations.js';
import { prefixRedirectMarker } from '../../../model/gatewayApi.js';
import { labelsMatch } from '../../../push/hosts.js';
import type { ProxyScope, PushContext } from '../../../push/pushContext.js';
import { PassthroughCluster, filterNames, outboundClusterName, typeUrls } from './names.js';
import { subsetTrafficPolicy } from './trafficPolicy.js';
import type {
  ClusterWeight,
  FractionalPercent,
  HashPolicy,
  HeaderMatcher,
  HeaderValueOption,
  PackedAs,
  RedirectAction,
  RetryPolicy,
  Route,
  RouteAction,
  RouteMatch,
  StringMatcher,
  VirtualHost,
  google_protobuf_Any,
} from '../../../proto/envoyTypes.generated.js';

/** What route translation needs from its caller (push context lookups, the listener, the proxy). */
export interface RouteContext {
  /** Port of the listener/route configuration the virtual host belongs to. */
  readonly listenerPort: number;
  readonly proxyLabels: Readonly<Record<string, string>>;
  /** Hostname of the service the virtual host is for (decorators). */
  readonly serviceHostname: string;
  /** A destination host resolved to the FQDN the registry knows (short names against the VirtualService namespace). */
  resolveHost(host: string): string;
  /** Ports of the destination service, to pick the port when the destination names none. */
  servicePorts(hostname: string): readonly number[] | undefined;
  /** Consistent-hash policy of the destination's DestinationRule, if any. */
  hashPolicy(hostname: string, port: number, subset: string): HashPolicy[] | undefined;
  /** For a gateway's routes: whether a match's `gateways` names this gateway. Unset: the routes are the mesh's (sidecars). */
  matchesGateways?(gateways: readonly string[]): boolean;
  /**
   * The VirtualService was generated from the Kubernetes Gateway API (istiod's
   * `internal.istio.io/route-semantics: gateway`): a path prefix matches whole
   * path segments (`/api` matches `/api/x`, not `/apix`), as that API requires.
   */
  readonly gatewaySemantics?: boolean;
}

const zero: ProtoDuration = { seconds: 0, nanos: 0 };

/** istiod's default retry policy (retry.DefaultPolicy). */
export function defaultRetryPolicy(): RetryPolicy {
  return {
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    numRetries: { value: 2 },
    retryHostPredicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typedConfig: { '@type': typeUrls.previousHosts } }],
    hostSelectionRetryMaxAttempts: '5',
    retriableStatusCodes: [503],
  };
}

/** `perTryTimeout`: retries.perTryTimeout parsed (httpRouteDurations). */
export function retryPolicy(retries: HTTPRetry | undefined, perTryTimeout?: ProtoDuration): RetryPolicy | undefined {
  if (!retries) return defaultRetryPolicy();
  if (!retries.attempts) return undefined;
  const policy = defaultRetryPolicy();
  policy.numRetries = { value: retries.attempts };
  if (retries.retryOn) {
    const tokens = retries.retryOn
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const codes = tokens.filter((t) => /^\d+$/.test(t)).map(Number);
    const names = tokens.filter((t) => !/^\d+$/.test(t));
    if (codes.length > 0 && !names.includes('retriable-status-codes')) names.push('retriable-status-codes');
    policy.retryOn = names.join(',');
    if (codes.length > 0) policy.retriableStatusCodes = codes;
    else delete policy.retriableStatusCodes;
  }
  if (perTryTimeout) policy.perTryTimeout = perTryTimeout;
  if (retries.retryRemoteLocalities) {
    policy.retryPriority = { name: 'envoy.retry_priorities.previous_priorities', typedConfig: { '@type': typeUrls.previousPriorities, updateFrequency: 2 } };
  }
  return policy;
}

function stringMatcher(match: StringMatch): StringMatcher | undefined {
  if (match.exact !== undefined) return { exact: match.exact };
  if (match.prefix !== undefined) return { prefix: match.prefix };
  if (match.regex !== undefined) return { safeRegex: { regex: match.regex } };
  return undefined;
}

function isEmptyMatch(match: StringMatch): boolean {
  return (match.exact ?? match.prefix ?? match.regex) === '';
}

function headerMatcher(name: string, match: StringMatch, invert: boolean): HeaderMatcher {
  const sm = stringMatcher(match);
  const header: HeaderMatcher = { name };
  // An empty match value means "header present", as istiod translates it.
  if (!sm || isEmptyMatch(match)) header.presentMatch = true;
  else header.stringMatch = sm;
  if (invert) header.invertMatch = true;
  return header;
}

/** Envoy RouteMatch for one HTTPMatchRequest (or the catch-all when none). */
export function routeMatch(match: HTTPMatchRequest | undefined, gatewaySemantics = false): RouteMatch {
  const out: RouteMatch = {};
  const uri = match?.uri;
  if (uri?.exact !== undefined) out.path = uri.exact;
  else if (uri?.prefix !== undefined && gatewaySemantics && uri.prefix !== '/' && !uri.prefix.endsWith('/')) out.pathSeparatedPrefix = uri.prefix;
  else if (uri?.prefix !== undefined) out.prefix = uri.prefix;
  else if (uri?.regex !== undefined) out.safeRegex = { regex: uri.regex };
  else out.prefix = '/';
  if (match?.ignoreUriCase) out.caseSensitive = { value: false };
  const headers: HeaderMatcher[] = [];
  for (const [name, m] of Object.entries(match?.headers ?? {})) headers.push(headerMatcher(name, m, false));
  for (const [name, m] of Object.entries(match?.withoutHeaders ?? {})) headers.push(headerMatcher(name, m, true));
  if (match?.method) headers.push(headerMatcher(':method', match.method, false));
  if (match?.authority) headers.push(headerMatcher(':authority', match.authority, false));
  if (match?.scheme) headers.push(headerMatcher(':scheme', match.scheme, false));
  if (headers.length > 0) out.headers = headers;
  const query = Object.entries(match?.queryParams ?? {}).map(([name, m]) => {
    const sm = stringMatcher(m);
    return sm && !isEmptyMatch(m) ? { name, stringMatch: sm } : { name, presentMatch: true };
  });
  if (query.length > 0) out.queryParameters = query;
  return out;
}

function isCatchAll(match: HTTPMatchRequest | undefined): boolean {
  if (!match) return true;
  const keys = Object.keys(match).filter((k) => k !== 'name');
  return keys.length === 0 || (keys.length === 1 && match.uri?.prefix === '/');
}

function headerValueOptions(ops: HeaderOperations | undefined): HeaderValueOption[] {
  const out: HeaderValueOption[] = [];
  for (const [key, value] of Object.entries(ops?.set ?? {})) out.push({ header: { key, value }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  for (const [key, value] of Object.entries(ops?.add ?? {})) out.push({ header: { key, value }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' });
  return out;
}

function mergeOps(a: HeaderOperations | undefined, b: HeaderOperations | undefined): HeaderOperations | undefined {
  if (!a || !b) return a ?? b;
  return { set: { ...a.set, ...b.set }, add: { ...a.add, ...b.add }, remove: [...(a.remove ?? []), ...(b.remove ?? [])] };
}

function mergeHeaders(route: HTTPRoute['headers'], destination: HTTPRoute['headers']): HTTPRoute['headers'] {
  if (!route || !destination) return route ?? destination;
  const request = mergeOps(route.request, destination.request);
  const response = mergeOps(route.response, destination.response);
  return { ...(request ? { request } : {}), ...(response ? { response } : {}) };
}

/** The header operations a Route and a weighted cluster both carry. */
type HeaderOperationsTarget = Pick<Route & ClusterWeight, `${'request' | 'response'}HeadersTo${'Add' | 'Remove'}`>;

function applyHeaders(target: HeaderOperationsTarget, headers: HTTPRoute['headers'], prefix: 'request' | 'response'): void {
  const ops = headers?.[prefix];
  const add = headerValueOptions(ops);
  if (add.length > 0) target[`${prefix}HeadersToAdd`] = add;
  if (ops?.remove?.length) target[`${prefix}HeadersToRemove`] = ops.remove;
}

/** Percentages become parts per million, as istiod translates them. */
function fractionalPercent(value: number | undefined): FractionalPercent {
  return { numerator: Math.round((value ?? 100) * 10000), denominator: 'MILLION' };
}

/** `fixedDelay`: fault.delay.fixedDelay parsed (httpRouteDurations). */
export function faultConfig(fault: HTTPFaultInjection, fixedDelay: ProtoDuration | undefined): PackedAs<typeof typeUrls.fault> {
  const config: PackedAs<typeof typeUrls.fault> = { '@type': typeUrls.fault };
  if (fault.delay && fixedDelay) {
    const percentage = fault.delay.percentage?.value ?? fault.delay.percent;
    config.delay = { fixedDelay, percentage: fractionalPercent(percentage) };
  }
  if (fault.abort) {
    const abort: NonNullable<PackedAs<typeof typeUrls.fault>['abort']> = { percentage: fractionalPercent(fault.abort.percentage?.value) };
    if (fault.abort.httpStatus !== undefined) abort.httpStatus = fault.abort.httpStatus;
    else if (fault.abort.grpcStatus) abort.grpcStatus = grpcStatusCode(fault.abort.grpcStatus);
    config.abort = abort;
  }
  return config;
}

const grpcCodes = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

function grpcStatusCode(status: string): number {
  const index = grpcCodes.indexOf(status.toUpperCase());
  return index >= 0 ? index : 2;
}

/** `maxAge`: cors.maxAge parsed (httpRouteDurations). */
export function corsConfig(cors: CorsPolicy, maxAge: ProtoDuration | undefined): PackedAs<typeof typeUrls.corsPolicy> {
  const config: PackedAs<typeof typeUrls.corsPolicy> = { '@type': typeUrls.corsPolicy };
  const origins = [...(cors.allowOrigins ?? []), ...(cors.allowOrigin ?? []).map((exact) => ({ exact }))]
    .map(stringMatcher)
    .filter((m): m is StringMatcher => m !== undefined);
  if (origins.length > 0) config.allowOriginStringMatch = origins;
  if (cors.allowMethods?.length) config.allowMethods = cors.allowMethods.join(',');
  if (cors.allowHeaders?.length) config.allowHeaders = cors.allowHeaders.join(',');
  if (cors.exposeHeaders?.length) config.exposeHeaders = cors.exposeHeaders.join(',');
  if (maxAge) config.maxAge = String(maxAge.seconds);
  if (cors.allowCredentials !== undefined) config.allowCredentials = { value: cors.allowCredentials };
  config.filterEnabled = { defaultValue: { numerator: 100, denominator: 'HUNDRED' } };
  return config;
}

function destinationCluster(dest: Destination, ctx: RouteContext): { name: string; hostname: string; port: number; subset: string } {
  const hostname = ctx.resolveHost(dest.host);
  const ports = ctx.servicePorts(hostname);
  const port = dest.port?.number ?? (ports && ports.length === 1 ? ports[0]! : ctx.listenerPort);
  const subset = dest.subset ?? '';
  return { name: outboundClusterName(port, subset, hostname), hostname, port, subset };
}

function timeoutFields(action: RouteAction, timeout: ProtoDuration): void {
  action.timeout = timeout;
  action.maxStreamDuration = { maxStreamDuration: timeout, grpcTimeoutHeaderMax: timeout };
}

function routeAction(http: HTTPRoute, durations: HttpRouteDurations, ctx: RouteContext): RouteAction {
  const action: RouteAction = {};
  const destinations = (http.route ?? []).filter((d) => http.route!.length === 1 || (d.weight ?? 0) > 0);
  const clusters = destinations.map((d) => ({ dest: d, cluster: destinationCluster(d.destination, ctx) }));
  // A single destination's header operations live on the route itself (see translateHttpRoute).
  if (clusters.length === 1) action.cluster = clusters[0]!.cluster.name;
  else {
    action.weightedClusters = {
      clusters: clusters.map(({ dest, cluster }) => {
        const weighted: ClusterWeight = { name: cluster.name, weight: { value: dest.weight ?? (clusters.length === 1 ? 100 : 0) } };
        applyHeaders(weighted, dest.headers, 'request');
        applyHeaders(weighted, dest.headers, 'response');
        return weighted;
      }),
    };
  }
  timeoutFields(action, durations.timeout ?? zero);
  const retry = retryPolicy(http.retries, durations.perTryTimeout);
  if (retry) action.retryPolicy = retry;
  if (http.rewrite?.uri !== undefined) action.prefixRewrite = http.rewrite.uri;
  if (http.rewrite?.uriRegexRewrite) {
    action.regexRewrite = { pattern: { regex: http.rewrite.uriRegexRewrite.match ?? '' }, substitution: http.rewrite.uriRegexRewrite.rewrite ?? '' };
  }
  if (http.rewrite?.authority) action.hostRewriteLiteral = http.rewrite.authority;
  const mirrors = [...(http.mirror ? [{ destination: http.mirror, percentage: http.mirrorPercentage }] : []), ...(http.mirrors ?? [])];
  if (mirrors.length > 0) {
    action.requestMirrorPolicies = mirrors.map((m) => ({
      cluster: destinationCluster(m.destination, ctx).name,
      runtimeFraction: { defaultValue: fractionalPercent(m.percentage?.value) },
      traceSampled: { value: false },
    }));
  }
  // Consistent hashing applies when every destination agrees on it.
  const hashes = clusters.map(({ cluster }) => ctx.hashPolicy(cluster.hostname, cluster.port, cluster.subset));
  const firstHash = hashes[0];
  if (firstHash && hashes.every((h) => JSON.stringify(h) === JSON.stringify(firstHash))) action.hashPolicy = firstHash;
  return action;
}

const redirectCodes: Readonly<Record<number, NonNullable<RedirectAction['responseCode']>>> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

function redirectAction(http: HTTPRoute, gatewaySemantics: boolean): RedirectAction {
  const r = http.redirect!;
  const out: RedirectAction = {};
  // Generated from a Gateway API ReplacePrefixMatch redirect: Envoy swaps the matched prefix (as istiod does).
  if (r.uri && gatewaySemantics && r.uri.startsWith(prefixRedirectMarker)) out.prefixRewrite = r.uri.slice(prefixRedirectMarker.length);
  else if (r.uri) out.pathRedirect = r.uri;
  if (r.authority) out.hostRedirect = r.authority;
  if (r.port) out.portRedirect = r.port;
  if (r.scheme) out.schemeRedirect = r.scheme;
  out.responseCode = redirectCodes[r.redirectCode ?? 301] ?? 'MOVED_PERMANENTLY';
  return out;
}

/**
 * Envoy routes for one VirtualService http rule: one route per applicable
 * match, in order. Matches for another port or other source labels are
 * dropped, as istiod drops them for this proxy and listener.
 */
export function translateHttpRoute(http: HTTPRoute, ctx: RouteContext): { routes: Route[]; catchAll: boolean } {
  const matches: (HTTPMatchRequest | undefined)[] = http.match?.length ? http.match : [undefined];
  const durations = httpRouteDurations(http);
  const routes: Route[] = [];
  let catchAll = false;
  for (const match of matches) {
    if (match?.port !== undefined && match.port !== ctx.listenerPort) continue;
    if (match?.sourceLabels && !labelsMatch(match.sourceLabels, ctx.proxyLabels)) continue;
    if (match?.gateways?.length && !(ctx.matchesGateways ? ctx.matchesGateways(match.gateways) : match.gateways.includes('mesh'))) continue;
    const route: Route = {};
    const name = http.name && match?.name ? `${http.name}.${match.name}` : (http.name ?? match?.name);
    if (name) route.name = name;
    route.match = routeMatch(match, ctx.gatewaySemantics);
    if (http.redirect) route.redirect = redirectAction(http, ctx.gatewaySemantics === true);
    else if (http.directResponse) {
      const body = http.directResponse.body;
      route.directResponse = {
        status: http.directResponse.status,
        ...(body?.string !== undefined ? { body: { inlineString: body.string } } : body?.bytes ? { body: { inlineBytes: body.bytes } } : {}),
      };
    } else route.route = routeAction(http, durations, ctx);
    route.decorator = { operation: `${ctx.serviceHostname}:${ctx.listenerPort}/*` };
    const single = http.route?.length === 1 ? http.route[0]!.headers : undefined;
    applyHeaders(route, mergeHeaders(http.headers, single), 'request');
    applyHeaders(route, mergeHeaders(http.headers, single), 'response');
    const perFilter: Record<string, google_protobuf_Any> = {};
    if (http.fault) perFilter[filterNames.fault] = faultConfig(http.fault, durations.faultDelay);
    if (http.corsPolicy) perFilter[filterNames.cors] = corsConfig(http.corsPolicy, durations.corsMaxAge);
    if (Object.keys(perFilter).length > 0) route.typedPerFilterConfig = perFilter;
    routes.push(route);
    if (isCatchAll(match)) {
      catchAll = true;
      break;
    }
  }
  return { routes, catchAll };
}

/** istiod's route for a service with no VirtualService: everything to the port's cluster with the default retry policy. */
export function defaultRoute(clusterName: string, hostname: string, port: number): Route {
  const action: RouteAction = { cluster: clusterName };
  timeoutFields(action, zero);
  action.retryPolicy = defaultRetryPolicy();
  return { name: 'default', match: { prefix: '/' }, route: action, decorator: { operation: `${hostname}:${port}/*` } };
}

/** The catch-all virtual host of an outbound route configuration (ALLOW_ANY / REGISTRY_ONLY). */
export function catchAllVirtualHost(mode: 'ALLOW_ANY' | 'REGISTRY_ONLY'): VirtualHost {
  if (mode === 'REGISTRY_ONLY') {
    return {
      name: 'block_all',
      domains: ['*'],
      routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }],
      includeRequestAttemptCount: true,
    };
  }
  const action: RouteAction = { cluster: PassthroughCluster };
  timeoutFields(action, zero);
  return { name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: action }], includeRequestAttemptCount: true };
}

/**
 * RouteContext.hashPolicy for a scope: the consistentHash of the DestinationRule (subset, then port) that applies to a
 * destination. Each host read goes into `reads`, the hosts a cached route configuration declares it depends on.
 */
export function scopeHashPolicy(context: PushContext, scope: ProxyScope, reads?: Set<string>): RouteContext['hashPolicy'] {
  return (hostname, destPort, subset) => {
    reads?.add(hostname);
    const dr = context.destinationRuleFor(scope, hostname);
    const subsetSpec = subset ? dr?.spec.subsets?.find((s) => s.name === subset) : undefined;
    return hashPolicyFor(subsetTrafficPolicy(dr?.spec.trafficPolicy, subsetSpec?.trafficPolicy, destPort)?.loadBalancer?.consistentHash);
  };
}

/** Envoy hash policy for a DestinationRule consistentHash setting. */
function hashPolicyFor(
  hash:
    { httpHeaderName?: string; httpCookie?: { name: string; path?: string; ttl?: string }; useSourceIp?: boolean; httpQueryParameterName?: string } | undefined,
): HashPolicy[] | undefined {
  if (!hash) return undefined;
  if (hash.httpHeaderName) return [{ header: { headerName: hash.httpHeaderName } }];
  if (hash.httpCookie) {
    const cookie: NonNullable<HashPolicy['cookie']> = { name: hash.httpCookie.name };
    if (hash.httpCookie.path) cookie.path = hash.httpCookie.path;
    if (hash.httpCookie.ttl) cookie.ttl = toProtoDuration(hash.httpCookie.ttl);
    return [{ cookie }];
  }
  if (hash.useSourceIp) return [{ connectionProperties: { sourceIp: true } }];
  if (hash.httpQueryParameterName) return [{ queryParameter: { name: hash.httpQueryParameterName } }];
  return undefined;
}

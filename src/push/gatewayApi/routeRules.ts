// HTTPRoute and GRPCRoute rules as VirtualService http routes, the way
// istiod converts them: one VirtualService route per match (so Gateway API
// precedence can order them), filters as headers/redirect/rewrite/mirrors,
// weighted backendRefs as destinations, timeouts as the route timeout. A
// rule whose backends are all invalid answers 500, as the spec requires.
import { prefixRedirectMarker } from '../../model/gatewayApi.js';
import type {
  BackendRef,
  GrpcRouteMatch,
  GrpcRouteRule,
  HeaderMatch,
  HeaderModifier,
  HttpRouteMatch,
  HttpRouteRule,
  RouteFilter,
} from '../../model/gatewayApi.js';
import type { Destination, HeaderOperations, HTTPMatchRequest, HTTPRoute, HTTPRouteDestination, StringMatch } from '../../model/istio.js';

/** Why a backendRef cannot be used, with the route condition reason the spec names. */
export interface BackendProblem {
  reason: 'RefNotPermitted' | 'BackendNotFound' | 'InvalidKind' | 'UnsupportedValue';
  message: string;
}

export type BackendResolution = { ok: true; destination: Destination } | ({ ok: false } & BackendProblem);

/** Resolves a backendRef of the route (in its namespace) to a mesh destination. */
export type ResolveBackend = (ref: BackendRef) => BackendResolution;

/** A converted route with what orders it among the others on the same host. */
export interface ConvertedRoute {
  readonly route: HTTPRoute;
  readonly precedence: readonly number[];
}

export interface ConvertedRule {
  readonly routes: ConvertedRoute[];
  readonly problems: BackendProblem[];
}

/** A Gateway API duration (`1m30s`, `500ms`) as the seconds string VirtualServices use. */
export function gatewayDuration(value: string): string {
  let ms = 0;
  for (const [, amount, unit] of value.matchAll(/([0-9]+)(h|ms|m|s)/g)) {
    ms += Number(amount) * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1);
  }
  return `${ms / 1000}s`;
}

function stringMatch(type: 'Exact' | 'RegularExpression' | undefined, value: string): StringMatch {
  return type === 'RegularExpression' ? { regex: value } : { exact: value };
}

function headerMatches(matches: readonly HeaderMatch[] | undefined, lowerCase: boolean): Record<string, StringMatch> | undefined {
  if (!matches || matches.length === 0) return undefined;
  const out: Record<string, StringMatch> = {};
  for (const m of matches) out[lowerCase ? m.name.toLowerCase() : m.name] = stringMatch(m.type, m.value);
  return out;
}

/** Trailing slashes do not matter to a Gateway API path prefix (`/foo/` is `/foo`). */
function pathPrefix(value: string): string {
  const trimmed = value.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function httpMatch(match: HttpRouteMatch): { match: HTTPMatchRequest; precedence: number[] } {
  const out: HTTPMatchRequest = {};
  const path = match.path ?? { type: 'PathPrefix', value: '/' };
  const value = path.value ?? '/';
  const type = path.type ?? 'PathPrefix';
  if (type === 'Exact') out.uri = { exact: value };
  else if (type === 'RegularExpression') out.uri = { regex: value };
  else if (pathPrefix(value) !== '/' || match.path !== undefined) out.uri = { prefix: pathPrefix(value) };
  const headers = headerMatches(match.headers, true);
  if (headers) out.headers = headers;
  const query = headerMatches(match.queryParams, false);
  if (query) out.queryParams = query;
  if (match.method) out.method = { exact: match.method };
  // Gateway API precedence: exact path, then longest path, then method, then most headers, then most query params.
  const precedence = [
    type === 'Exact' ? 2 : type === 'PathPrefix' ? 1 : 0,
    value.length,
    match.method ? 1 : 0,
    match.headers?.length ?? 0,
    match.queryParams?.length ?? 0,
  ];
  return { match: out, precedence };
}

function grpcMatch(match: GrpcRouteMatch): { match: HTTPMatchRequest; precedence: number[] } {
  const out: HTTPMatchRequest = {};
  const method = match.method;
  if (method && (method.service || method.method)) {
    if (method.type === 'RegularExpression') out.uri = { regex: `/${method.service || '[^/]+'}/${method.method || '[^/]+'}` };
    else if (method.service && method.method) out.uri = { exact: `/${method.service}/${method.method}` };
    else if (method.service) out.uri = { prefix: `/${method.service}/` };
    else out.uri = { regex: `/[^/]+/${method.method}` };
  }
  const headers = headerMatches(match.headers, true);
  if (headers) out.headers = headers;
  const precedence = [
    method?.type !== 'RegularExpression' && method?.service && method.method ? 2 : method ? 1 : 0,
    (method?.service ?? '').length + (method?.method ?? '').length,
    0,
    match.headers?.length ?? 0,
    0,
  ];
  return { match: out, precedence };
}

function headerOperations(modifier: HeaderModifier | undefined): HeaderOperations | undefined {
  if (!modifier) return undefined;
  const ops: HeaderOperations = {};
  if (modifier.set?.length) ops.set = Object.fromEntries(modifier.set.map((h) => [h.name.toLowerCase(), h.value]));
  if (modifier.add?.length) ops.add = Object.fromEntries(modifier.add.map((h) => [h.name.toLowerCase(), h.value]));
  if (modifier.remove?.length) ops.remove = modifier.remove.map((h) => h.toLowerCase());
  return Object.keys(ops).length > 0 ? ops : undefined;
}

/** The parts of a VirtualService route the rule's filters make; problems for filters meshd cannot honour. */
function applyFilters(filters: readonly RouteFilter[] | undefined, route: HTTPRoute, resolve: ResolveBackend, problems: BackendProblem[]): void {
  for (const filter of filters ?? []) {
    switch (filter.type) {
      case 'RequestHeaderModifier': {
        const request = headerOperations(filter.requestHeaderModifier);
        if (request) route.headers = { ...route.headers, request };
        break;
      }
      case 'ResponseHeaderModifier': {
        const response = headerOperations(filter.responseHeaderModifier);
        if (response) route.headers = { ...route.headers, response };
        break;
      }
      case 'RequestRedirect': {
        const r = filter.requestRedirect ?? {};
        route.redirect = {
          ...(r.scheme ? { scheme: r.scheme } : {}),
          ...(r.hostname ? { authority: r.hostname } : {}),
          ...(r.port ? { port: r.port } : {}),
          ...(r.path?.type === 'ReplaceFullPath' && r.path.replaceFullPath !== undefined ? { uri: r.path.replaceFullPath } : {}),
          // istiod's marker: the route generator turns it into Envoy's prefixRewrite (gateway semantics only).
          ...(r.path?.type === 'ReplacePrefixMatch' && r.path.replacePrefixMatch !== undefined
            ? { uri: `${prefixRedirectMarker}${r.path.replacePrefixMatch}` }
            : {}),
          redirectCode: r.statusCode ?? 302,
        };
        break;
      }
      case 'URLRewrite': {
        const r = filter.urlRewrite ?? {};
        route.rewrite = {
          ...(r.hostname ? { authority: r.hostname } : {}),
          ...(r.path?.type === 'ReplacePrefixMatch' && r.path.replacePrefixMatch !== undefined ? { uri: r.path.replacePrefixMatch } : {}),
          ...(r.path?.type === 'ReplaceFullPath' && r.path.replaceFullPath !== undefined
            ? { uriRegexRewrite: { match: '/.*', rewrite: r.path.replaceFullPath } }
            : {}),
        };
        break;
      }
      case 'RequestMirror': {
        const mirror = filter.requestMirror;
        if (!mirror) break;
        const target = resolve(mirror.backendRef);
        if (!target.ok) {
          problems.push({ reason: target.reason, message: target.message });
          break;
        }
        const fraction = mirror.fraction ? (100 * mirror.fraction.numerator) / (mirror.fraction.denominator ?? 100) : undefined;
        const percent = mirror.percent ?? fraction;
        route.mirrors = [...(route.mirrors ?? []), { destination: target.destination, ...(percent !== undefined ? { percentage: { value: percent } } : {}) }];
        break;
      }
      default:
        problems.push({ reason: 'UnsupportedValue', message: `filter type ${filter.type} is not supported by meshd` });
    }
  }
}

/** The weighted destinations of a rule; invalid backends are left out and reported. */
function destinations(
  backendRefs: readonly BackendRef[] | undefined,
  resolve: ResolveBackend,
  problems: BackendProblem[],
): { routes: HTTPRouteDestination[]; total: number } {
  const out: HTTPRouteDestination[] = [];
  let total = 0;
  for (const ref of backendRefs ?? []) {
    const weight = ref.weight ?? 1;
    total += weight;
    const resolved = resolve(ref);
    if (!resolved.ok) {
      problems.push({ reason: resolved.reason, message: resolved.message });
      continue;
    }
    if (weight === 0) continue;
    out.push({ destination: resolved.destination, weight });
  }
  return { routes: out, total };
}

/**
 * Completes the VirtualService route: destinations (weights only when there
 * are several), or a 500 when the rule forwards but no backend is valid.
 */
function finish(route: HTTPRoute, rule: { backendRefs?: BackendRef[] }, resolve: ResolveBackend, problems: BackendProblem[]): void {
  if (route.redirect) return;
  const { routes } = destinations(rule.backendRefs, resolve, problems);
  if (routes.length === 0) {
    route.directResponse = { status: 500 };
    return;
  }
  route.route = routes.length === 1 ? [{ destination: routes[0]!.destination }] : routes;
}

function ruleName(routeNamespace: string, routeName: string, rule: { name?: string }, index: number): string {
  return rule.name ?? `${routeNamespace}.${routeName}.${index}`;
}

function expand(base: HTTPRoute, matches: { match: HTTPMatchRequest; precedence: number[] }[]): ConvertedRoute[] {
  if (matches.length === 0) return [{ route: base, precedence: [1, 1, 0, 0, 0] }];
  return matches.map(({ match, precedence }) => ({ route: Object.keys(match).length > 0 ? { ...base, match: [match] } : base, precedence }));
}

export function convertHttpRule(rule: HttpRouteRule, index: number, routeNamespace: string, routeName: string, resolve: ResolveBackend): ConvertedRule {
  const problems: BackendProblem[] = [];
  const route: HTTPRoute = { name: ruleName(routeNamespace, routeName, rule, index) };
  applyFilters(rule.filters, route, resolve, problems);
  finish(route, rule, resolve, problems);
  const timeout = rule.timeouts?.request ?? rule.timeouts?.backendRequest;
  // `0s` disables the timeout in the Gateway API as in Istio.
  if (timeout) route.timeout = gatewayDuration(timeout);
  return { routes: expand(route, (rule.matches ?? []).map(httpMatch)), problems };
}

export function convertGrpcRule(rule: GrpcRouteRule, index: number, routeNamespace: string, routeName: string, resolve: ResolveBackend): ConvertedRule {
  const problems: BackendProblem[] = [];
  const route: HTTPRoute = { name: ruleName(routeNamespace, routeName, rule, index) };
  applyFilters(rule.filters, route, resolve, problems);
  finish(route, rule, resolve, problems);
  return { routes: expand(route, (rule.matches ?? []).map(grpcMatch)), problems };
}

/** Higher precedence first; ties keep their order (routes arrive oldest first). */
export function byPrecedence(a: ConvertedRoute, b: ConvertedRoute): number {
  for (let i = 0; i < a.precedence.length; i++) {
    const d = (b.precedence[i] ?? 0) - (a.precedence[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// VirtualService delegation as istiod merges it: a root VirtualService's http
// entry naming a `delegate` is replaced by the delegate's http routes, each
// narrowed to the root entry's matches (a conjunction; a delegate route whose
// matches cannot sit inside any root match is dropped) and inheriting the
// root entry's policies it does not set. One level only; the delegate is a
// VirtualService without hosts, exported to the root's namespace, and is
// never translated on its own.
import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualServiceSpec } from '../model/istio.js';
import { isExportedTo, resolveShortName } from './hosts.js';
import type { ConfigEntry } from './configEntry.js';

type VirtualServiceEntry = ConfigEntry<VirtualServiceSpec>;

export interface MergedVirtualServices {
  /** The VirtualServices with hosts, roots carrying their delegates' routes. */
  readonly virtualServices: readonly VirtualServiceEntry[];
  /** Roots by the `namespace/name` of each delegate they name (whether it exists or not). */
  readonly rootsByDelegate: ReadonlyMap<string, readonly VirtualServiceEntry[]>;
}

const isDelegate = (vs: VirtualServiceEntry): boolean => (vs.spec.hosts ?? []).length === 0;

/** Replaces every root's delegating http entries by the merged delegate routes; delegates themselves drop out. */
export function mergeVirtualServiceDelegates(entries: readonly VirtualServiceEntry[], domainSuffix: string): MergedVirtualServices {
  const delegates = new Map(entries.filter(isDelegate).map((vs) => [`${vs.namespace}/${vs.name}`, vs]));
  const rootsByDelegate = new Map<string, VirtualServiceEntry[]>();
  const virtualServices: VirtualServiceEntry[] = [];
  for (const vs of entries) {
    if (isDelegate(vs)) continue;
    if (!vs.spec.http?.some((h) => h.delegate)) {
      virtualServices.push(vs);
      continue;
    }
    const http: HTTPRoute[] = [];
    for (const route of vs.spec.http) {
      if (!route.delegate) {
        http.push(route);
        continue;
      }
      const key = `${route.delegate.namespace || vs.namespace}/${route.delegate.name}`;
      const roots = rootsByDelegate.get(key);
      if (roots) roots.push(vs);
      else rootsByDelegate.set(key, [vs]);
      const delegate = delegates.get(key);
      // A missing or unexported delegate drops only this http entry, as in istiod.
      if (!delegate || !isExportedTo(delegate.spec.exportTo, delegate.namespace, vs.namespace)) continue;
      const resolved = (delegate.spec.http ?? []).map((r) => withResolvedHosts(r, delegate.namespace, domainSuffix));
      http.push(...mergeHttpRoutes(route, resolved));
    }
    virtualServices.push({ ...vs, spec: { ...vs.spec, http } });
  }
  return { virtualServices, rootsByDelegate };
}

/** The delegate's destination hosts as FQDNs of its own namespace: the merged routes are read in the root's. */
function withResolvedHosts(route: HTTPRoute, namespace: string, domainSuffix: string): HTTPRoute {
  const resolve = (host: string): string => resolveShortName(host, namespace, domainSuffix);
  const out: HTTPRoute = { ...route };
  if (route.route) out.route = route.route.map((d) => ({ ...d, destination: { ...d.destination, host: resolve(d.destination.host) } }));
  if (route.mirror) out.mirror = { ...route.mirror, host: resolve(route.mirror.host) };
  if (route.mirrors) out.mirrors = route.mirrors.map((m) => ({ ...m, destination: { ...m.destination, host: resolve(m.destination.host) } }));
  return out;
}

/** One merged route per delegate route that does not conflict with the root entry. */
export function mergeHttpRoutes(root: HTTPRoute, delegateRoutes: readonly HTTPRoute[]): HTTPRoute[] {
  return delegateRoutes.map((r) => mergeHttpRoute(root, r)).filter((r): r is HTTPRoute => r !== undefined);
}

/** The delegate route under the root entry's matches and policies, or undefined when their matches conflict. */
export function mergeHttpRoute(root: HTTPRoute, delegate: HTTPRoute): HTTPRoute | undefined {
  const matches = mergeMatchRequests(root.match, delegate.match);
  if (matches === 'conflict') return undefined;
  const merged: HTTPRoute = { ...delegate };
  if (matches) merged.match = matches;
  else delete merged.match;
  const name = joinedName(root.name, delegate.name);
  if (name) merged.name = name;
  for (const field of inheritedFields) inherit(merged, root, field);
  return merged;
}

/** What a delegate route takes from its root entry when it does not set it (istiod's list). */
const inheritedFields = ['rewrite', 'timeout', 'retries', 'fault', 'mirror', 'mirrorPercentage', 'corsPolicy', 'headers'] as const;

function inherit<K extends keyof HTTPRoute>(target: HTTPRoute, source: HTTPRoute, key: K): void {
  if (target[key] === undefined && source[key] !== undefined) target[key] = source[key];
}

function joinedName(root: string | undefined, delegate: string | undefined): string | undefined {
  if (!delegate) return root;
  return root ? `${root}-${delegate}` : delegate;
}

/**
 * Every delegate match is merged with each root match it does not conflict
 * with; a delegate match compatible with no root match makes the whole route
 * conflict. No matches on either side keeps the other side's.
 */
export function mergeMatchRequests(
  root: readonly HTTPMatchRequest[] | undefined,
  delegate: readonly HTTPMatchRequest[] | undefined,
): HTTPMatchRequest[] | undefined | 'conflict' {
  if (!root?.length) return delegate ? [...delegate] : undefined;
  if (!delegate?.length) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const leaf of delegate) {
    const compatible = root.filter((r) => !matchesConflict(r, leaf));
    if (compatible.length === 0) return 'conflict';
    out.push(...compatible.map((r) => mergeMatchRequest(r, leaf)));
  }
  return out;
}

/** The conjunction of a root match and a delegate match: the delegate's fields win, the root fills the rest. */
export function mergeMatchRequest(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  const out: HTTPMatchRequest = { ...leaf };
  const name = joinedName(root.name, leaf.name);
  if (name) out.name = name;
  for (const field of ['uri', 'scheme', 'method', 'authority'] as const) {
    if (!out[field] && root[field]) out[field] = root[field];
  }
  for (const field of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    if (root[field] || leaf[field]) out[field] = { ...root[field], ...leaf[field] };
  }
  if (!out.port && root.port) out.port = root.port;
  if (root.sourceLabels || leaf.sourceLabels) out.sourceLabels = { ...root.sourceLabels, ...leaf.sourceLabels };
  if (!out.sourceNamespace && root.sourceNamespace) out.sourceNamespace = root.sourceNamespace;
  if (!out.gateways?.length && root.gateways) out.gateways = root.gateways;
  return out;
}

/** True when the delegate match is not a narrowing of the root match (istiod's hasConflict). */
export function matchesConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const field of ['uri', 'scheme', 'method', 'authority'] as const) {
    if (stringMatchConflict(root[field], leaf[field])) return true;
  }
  for (const field of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [key, value] of Object.entries(leaf[field] ?? {})) {
      if (stringMatchConflict(root[field]?.[key], value)) return true;
    }
  }
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [key, value] of Object.entries(leaf.sourceLabels ?? {})) {
    if (root.sourceLabels?.[key] !== undefined && root.sourceLabels[key] !== value) return true;
  }
  if (root.gateways?.length && leaf.gateways?.length) {
    if (leaf.gateways.some((g) => !root.gateways!.includes(g))) return true;
  }
  return false;
}

/**
 * Whether a delegate string match can narrow the root's: unset on either side
 * is fine; regexes only pair with an unset other side; an exact root needs the
 * same exact; a prefix root needs a prefix or exact starting with it.
 */
export function stringMatchConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  if (root.regex && (leaf.regex || leaf.prefix || leaf.exact)) return true;
  if (leaf.regex && (root.regex || root.prefix || root.exact)) return true;
  if (root.exact) return !!leaf.prefix || leaf.exact !== root.exact;
  if (root.prefix) {
    if (leaf.prefix) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}

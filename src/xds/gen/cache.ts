// Memoisation of generation results inside one push context: proxies that
// share a configuration scope share the encoded resources, so each resource
// is encoded once per change rather than once per proxy.
import type { PushContext } from '../../push/pushContext.js';
import { secretDependency, secretPrefix } from '../../push/contextMemo.js';
import { TypeUrl, encodeResource, type XdsResource } from '../resource.js';
import { discardEncoding } from '../../proto/jsonEncoder.js';

// Defined in the push layer, which memoises its own results (parsed credentials) the same way.
export { memo, secretDependency, secretResultKey } from '../../push/contextMemo.js';

/**
 * Encodes a resource and keeps one copy per distinct content: scopes that
 * differ (other namespaces, other Sidecars) share the bytes of what they have
 * in common, and a new push context hands out the previous context's object
 * for content that did not change, so unchanged resources keep their identity
 * and version. Only encodings a context used are carried to the next, so
 * memory stays bounded by two contexts' worth. Encoding is cheaper than any
 * key of the JSON would be, so content is compared by its bytes' version.
 */
export function encodeShared(context: PushContext, typeUrl: string, name: string, json: Record<string, unknown>): XdsResource {
  const encoded = encodeResource(typeUrl, name, json);
  // The version hashes the type URL and the bytes, so it alone identifies the content.
  let resource = context.encodings.get(encoded.version) as XdsResource | undefined;
  if (!resource) {
    resource = (context.previousEncodings?.get(encoded.version) as XdsResource | undefined) ?? encoded;
    context.encodings.set(encoded.version, resource);
  }
  if (resource !== encoded) discardEncoding(encoded.any);
  return resource;
}

/** Cache keys of endpoint (EDS) results start with this. */
export const endpointCachePrefix = 'eds|';

/** Kinds of results that depend on one service (its clusters, one load assignment). */
type ServiceResultKind = 'cds-svc' | 'eds-svc';

/**
 * The cache key of a result that depends on one service and `detail`:
 * `KIND|HOSTNAME|DETAIL`, so reusableEntries can tell which service it
 * belongs to. Every per-service result is keyed through here.
 */
export function serviceResultKey(kind: ServiceResultKind, hostname: string, detail: string): string {
  return `${kind}|${hostname}|${detail}`;
}

/** The hostname of a serviceResultKey of `kind`, or undefined for any other key. */
function serviceOfResult(kind: ServiceResultKind, key: string): string | undefined {
  if (!key.startsWith(`${kind}|`)) return undefined;
  const end = key.indexOf('|', kind.length + 1);
  return end < 0 ? undefined : key.slice(kind.length + 1, end);
}

/**
 * The cache key of a gateway's listeners: `lds-gw|NAMESPACE|CREDENTIALS|DETAIL`
 * with the Secrets its servers' credentials read (`NAME` in NAMESPACE, or
 * `NS/NAME`), so that a Secret whose validity changed drops the listeners of
 * the gateways using it only.
 */
export function gatewayListenerKey(namespace: string, credentials: readonly string[], detail: string): string {
  return `lds-gw|${namespace}|${credentials.join(',')}|${detail}`;
}

/** Whether a gateway listener key (gatewayListenerKey) names a credential among the changed Secrets. */
function usesChangedSecret(key: string, change: ReadonlySet<string>): boolean {
  const [, namespace, credentials] = key.split('|', 3);
  if (namespace === undefined || !credentials) return false;
  // A Secret name has no '/': an entry with one names its namespace too (a Gateway API certificateRef may read another).
  return credentials.split(',').some((c) => change.has(c.includes('/') ? `${secretPrefix}${c}` : secretDependency(namespace, c)));
}

const keyTypes: ReadonlyArray<[string, string]> = [
  ['cds', TypeUrl.Cluster],
  ['lds', TypeUrl.Listener],
  ['rds', TypeUrl.RouteConfiguration],
  ['eds', TypeUrl.ClusterLoadAssignment],
  ['sds', TypeUrl.Secret],
];

/** The xDS type a cache entry belongs to: every key starts with cds, lds, rds, eds or sds. */
export function cacheKeyType(key: string): string | undefined {
  return keyTypes.find(([prefix]) => key.startsWith(prefix))?.[1];
}

/**
 * How a batch of changes touches one xDS type: everywhere ('all'), or only
 * through the endpoints and pods of these service hostnames (EndpointSlice and
 * Pod changes) and these Secrets (secretDependency), which most cached
 * results do not depend on.
 */
export type TypeChange = 'all' | ReadonlySet<string>;

/**
 * The entries of a previous context's cache that a new context may keep.
 * Types no change touches keep everything. A type changed everywhere drops
 * everything; CDS takes EDS with it, as EDS names derive from clusters. A type
 * changed only through some services' endpoints and pods keeps what does not
 * depend on them:
 * - EDS: the load assignments of other services, and the per-scope lists of
 *   EDS cluster names and proxy inputs (they derive from services and
 *   DestinationRules); the assembled per-scope lists are rebuilt;
 * - CDS: the clusters of other services (they pin their endpoints' identities),
 *   inbound, well-known and JWKS clusters; the assembled lists are rebuilt;
 * - LDS and RDS: everything, as listeners and routes do not read endpoints or
 *   pods other than through keys (a proxy's own labels and inbound ports),
 *   except the listeners of the gateways using a changed Secret (a chain
 *   exists only while its credential is valid);
 * - SDS: the results of other Secrets.
 */
export function reusableEntries(previous: ReadonlyMap<string, unknown>, changes: ReadonlyMap<string, TypeChange> | 'all'): [string, unknown][] {
  if (changes === 'all') return [];
  const clusters = changes.get(TypeUrl.Cluster);
  let endpoints = changes.get(TypeUrl.ClusterLoadAssignment);
  if (clusters === 'all') endpoints = 'all';
  else if (clusters !== undefined) endpoints = endpoints === 'all' ? 'all' : new Set([...clusters, ...(endpoints ?? [])]);
  const effective = new Map(changes);
  if (endpoints !== undefined) effective.set(TypeUrl.ClusterLoadAssignment, endpoints);
  return [...previous].filter(([key]) => {
    const type = cacheKeyType(key);
    if (type === undefined) return false;
    const change = effective.get(type);
    if (change === undefined) return true;
    if (change === 'all') return false;
    if (type === TypeUrl.ClusterLoadAssignment) return unaffectedEndpointEntry(key, change);
    if (type === TypeUrl.Cluster) return unaffectedClusterEntry(key, change);
    // Secret results are keyed KIND|NAMESPACE/NAME|... (secretResultKey).
    if (type === TypeUrl.Secret) return !change.has(`${secretPrefix}${key.split('|', 2)[1]}`);
    if (type === TypeUrl.Listener && key.startsWith('lds-gw|')) return !usesChangedSecret(key, change);
    return true;
  });
}

/**
 * Whether an EDS cache entry survives a change to the endpoints of `hosts`
 * only: a load assignment of another service, or the per-scope lists of EDS
 * cluster names and proxy inputs. Everything else (the per-scope assembled
 * lists under `eds|`) is rebuilt.
 */
function unaffectedEndpointEntry(key: string, hosts: ReadonlySet<string>): boolean {
  if (key.startsWith('eds-names|') || key.startsWith('eds-proxy-inputs|')) return true;
  const host = serviceOfResult('eds-svc', key);
  return host !== undefined && !hosts.has(host);
}

/** Whether a CDS cache entry survives a change to the endpoints and pods of `hosts` only (see reusableEntries). */
function unaffectedClusterEntry(key: string, hosts: ReadonlySet<string>): boolean {
  if (key.startsWith('cds-in|') || key.startsWith('cds-jwks|') || key === 'cds|well-known') return true;
  const host = serviceOfResult('cds-svc', key);
  return host !== undefined && !hosts.has(host);
}

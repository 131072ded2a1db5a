// Memoisation of generation results inside one push context: proxies that
// share a configuration scope share the encoded resources, so each resource
// is encoded once per change rather than once per proxy.
import type { PushContext } from '../../push/pushContext.js';
import { TypeUrl, encodeResource, type XdsResource } from '../resource.js';
import { discardEncoding } from '../../proto/jsonEncoder.js';

export function memo<T>(context: PushContext, key: string, build: () => T): T {
  const cache = context.cache;
  if (cache.has(key)) return cache.get(key) as T;
  const value = build();
  cache.set(key, value);
  return value;
}

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

const keyTypes: ReadonlyArray<[string, string]> = [
  ['cds', TypeUrl.Cluster],
  ['lds', TypeUrl.Listener],
  ['rds', TypeUrl.RouteConfiguration],
  ['eds', TypeUrl.ClusterLoadAssignment],
];

/** The xDS type a cache entry belongs to: every key starts with cds, lds, rds or eds. */
export function cacheKeyType(key: string): string | undefined {
  return keyTypes.find(([prefix]) => key.startsWith(prefix))?.[1];
}

/**
 * The entries of a previous context's cache that a new context may keep:
 * those of types the change does not touch. EDS names derive from CDS, so a
 * CDS change drops EDS results too. When the EDS change is only to the
 * endpoints of `endpointHosts` (EndpointSlice changes), the load assignments
 * of every other host stay too, so a scope's EDS is rebuilt from them rather
 * than from scratch.
 */
export function reusableEntries(
  previous: ReadonlyMap<string, unknown>,
  changedTypes: ReadonlySet<string> | 'all',
  endpointHosts?: ReadonlySet<string>,
): [string, unknown][] {
  if (changedTypes === 'all') return [];
  const dropped = new Set(changedTypes);
  if (dropped.has(TypeUrl.Cluster)) dropped.add(TypeUrl.ClusterLoadAssignment);
  const partialEds = dropped.has(TypeUrl.ClusterLoadAssignment) && !dropped.has(TypeUrl.Cluster) && endpointHosts !== undefined;
  return [...previous].filter(([key]) => {
    const type = cacheKeyType(key);
    if (type === undefined) return false;
    if (!dropped.has(type)) return true;
    return partialEds && type === TypeUrl.ClusterLoadAssignment && unaffectedEndpointEntry(key, endpointHosts);
  });
}

/**
 * Whether an EDS cache entry survives a change to the endpoints of `hosts`
 * only: a service or subset load assignment (`eds|outbound|PORT|SUBSET|HOST|…`)
 * of another host, or the per-scope lists of EDS cluster names and proxy
 * inputs, which derive from services and DestinationRules. Everything else
 * under `eds|` (the per-scope assembled lists) is rebuilt.
 */
function unaffectedEndpointEntry(key: string, hosts: ReadonlySet<string>): boolean {
  if (key.startsWith('eds-names|') || key.startsWith('eds-proxy-inputs|')) return true;
  if (!key.startsWith(`${endpointCachePrefix}outbound|`)) return false;
  const host = key.split('|', 6)[4];
  return host !== undefined && !hosts.has(host);
}

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
 * CDS change drops EDS results too.
 */
export function reusableEntries(previous: ReadonlyMap<string, unknown>, changedTypes: ReadonlySet<string> | 'all'): [string, unknown][] {
  if (changedTypes === 'all') return [];
  const dropped = new Set(changedTypes);
  if (dropped.has(TypeUrl.Cluster)) dropped.add(TypeUrl.ClusterLoadAssignment);
  return [...previous].filter(([key]) => {
    const type = cacheKeyType(key);
    return type !== undefined && !dropped.has(type);
  });
}

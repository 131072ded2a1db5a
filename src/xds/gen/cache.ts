// Memoisation of generation results inside one push context: proxies that
// share a configuration scope share the encoded resources, so each resource
// is encoded once per change rather than once per proxy.
import type { PushContext } from '../../push/pushContext.js';

export function memo<T>(context: PushContext, key: string, build: () => T): T {
  const cache = context.cache;
  if (cache.has(key)) return cache.get(key) as T;
  const value = build();
  cache.set(key, value);
  return value;
}

/** Cache keys of endpoint (EDS) results start with this; an endpoint-only change drops just these. */
export const endpointCachePrefix = 'eds|';

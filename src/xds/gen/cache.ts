// Memoisation of generation results inside one push context: proxies that
// share a configuration scope share the encoded resources, so each resource
// is encoded once per change rather than once per proxy.
// Which results a change leaves valid follows from the entries they are
// cached under (./cacheKeys.ts, ../../push/contextCache.ts).
import type { PushContext } from '../../push/pushContext.js';
import { encodeResource, type XdsResource } from '../resource.js';
import { discardEncoding } from '../../proto/jsonEncoder.js';

// Defined in the push layer, which memoises its own results (parsed credentials) the same way.
export { memo } from '../../push/contextCache.js';

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

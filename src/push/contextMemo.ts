// Memoisation of results inside one push context (its `cache`), and the keys
// of results that read one Secret. Generators (xds/gen/cache.ts) and the push
// layer's own derived results (parsed credentials) share them; cache.ts
// decides which entries a change leaves reusable.
/** A push context as far as memoisation needs it (structural: this module sits below pushContext.ts). */
interface MemoContext {
  readonly cache: Map<string, unknown>;
}

export function memo<T>(context: MemoContext, key: string, build: () => T): T {
  const cache = context.cache;
  if (cache.has(key)) return cache.get(key) as T;
  const value = build();
  cache.set(key, value);
  return value;
}

/** Kinds of results that depend on one Secret (a gateway's SDS resource, a parsed credential). */
export type SecretResultKind = 'sds-gw' | 'sds-cred';

/**
 * The cache key of a result that reads the credential `name` of `namespace`
 * (Secrets `name` and `name-cacert`): `KIND|NAMESPACE/NAME|DETAIL`.
 */
export function secretResultKey(kind: SecretResultKind, namespace: string, name: string, detail: string): string {
  return `${kind}|${namespace}/${name}|${detail}`;
}

export const secretPrefix = 'secret:';

/**
 * A changed Secret as a TypeChange entry (beside service hostnames, which
 * never contain ':'): results reading it are dropped, and the listeners of
 * the gateways using it when it is part of an LDS change.
 */
export function secretDependency(namespace: string, name: string): string {
  return `${secretPrefix}${namespace}/${name}`;
}

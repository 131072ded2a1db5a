// The push context's cache of derived results (generated resources, parsed
// credentials). Every result is stored with the entry that declares what it
// was built from, as istiod's XdsCacheEntry declares its dependent types and
// configs; a new context keeps the results whose declared dependencies a
// batch of changes left alone (reusableEntries). Each kind of entry is built
// by its own function (xds/gen/cacheKeys.ts, parsedCredentialEntry).
import { hostMatches } from './hosts.js';

/** A Secret a result reads. */
export interface SecretRef {
  readonly namespace: string;
  readonly name: string;
}

/** A memoised result's identity and what it depends on. */
export interface CacheEntry {
  /** The kind of result (one builder each): for debugging and tests, never for decisions. */
  readonly kind: string;
  /** Identity within a push context: every input that is not a declared dependency is part of it. */
  readonly key: string;
  /**
   * The xDS types (type URLs) the result is part of. A change reaching one of
   * them that the push layer cannot narrow to some endpoints and Secrets (a
   * VirtualService, a DestinationRule, a Gateway) drops it; a narrowed one
   * drops it when it reads one of those objects. Empty: it reads nothing but
   * the objects declared below, so only their change drops it. 'context': it
   * reads the push context at large or holds state of one context, and is
   * never carried into the next.
   */
  readonly types: readonly string[] | 'context';
  /** The services (hostnames) whose endpoints and pods it reads; 'all': every service's, and any pod's. Absent: none. */
  readonly endpoints?: 'all' | readonly string[];
  /** The Secrets it reads. */
  readonly secrets?: readonly SecretRef[];
  /**
   * The hostnames whose routing it reads: the VirtualService routing each
   * (delegates merged) and the DestinationRule of each (consistent hashing),
   * as istiod's route cache depends on the VirtualServices and
   * DestinationRules a route configuration was built from; 'all': any host's.
   */
  readonly routing?: 'all' | readonly string[];
  /** The Gateways (`ns/name`) whose bound VirtualServices it reads. */
  readonly gateways?: readonly string[];
}

/** A cached value with the entry that declared it. */
export interface CachedResult {
  readonly entry: CacheEntry;
  readonly value: unknown;
}

/** A push context as far as memoisation needs it (structural: this module sits below pushContext.ts). */
interface MemoContext {
  readonly cache: Map<string, CachedResult>;
}

/** The value cached for `entry` in this context, built (and cached with its declaration) on first use. */
export function memo<T>(context: MemoContext, entry: CacheEntry, build: () => T): T {
  const cached = context.cache.get(entry.key);
  if (cached) return cached.value as T;
  const value = build();
  context.cache.set(entry.key, { entry, value });
  return value;
}

/**
 * As memo, for a result whose dependencies are known only once it is built
 * (the hosts a route configuration read): `build` returns the value and the
 * entry, whose key must be `key`.
 */
export function memoBuilt<T>(context: MemoContext, key: string, build: () => { readonly entry: CacheEntry; readonly value: T }): T {
  const cached = context.cache.get(key);
  if (cached) return cached.value as T;
  const built = build();
  context.cache.set(key, built);
  return built.value;
}

/**
 * The objects a change reaches the configuration through: endpoints and pods
 * of services (hostnames), Secrets (secretRefKey), the routing
 * (VirtualServices, DestinationRules) of hosts (patterns: exact, `*.suffix`),
 * and the VirtualServices bound to Gateways (`ns/name`).
 */
export interface ChangedObjects {
  readonly services: ReadonlySet<string>;
  readonly secrets: ReadonlySet<string>;
  readonly routing: ReadonlySet<string>;
  readonly gateways: ReadonlySet<string>;
}

/** How a batch of changes reaches one xDS type: everywhere ('all'), or only through some objects. */
export type TypeChange = 'all' | ChangedObjects;

/** What a batch of changes invalidates, or 'all' when nothing carries over. */
export type CacheChange =
  | 'all'
  | {
      /** The xDS types the batch reaches; a type not listed is untouched. */
      readonly types: ReadonlyMap<string, TypeChange>;
      /** Every endpoint, pod and Secret change of the batch, whether or not it reaches a type: what entries of no type compare with. */
      readonly objects: ChangedObjects;
    };

/** A batch reaching `types` only through the endpoints and pods of `services`, the Secrets `secrets` and the routing of hosts `routing` and of Gateways `gateways` (tests and benchmarks). */
export function changeThrough(
  types: readonly string[],
  objects: { services?: readonly string[]; secrets?: readonly SecretRef[]; routing?: readonly string[]; gateways?: readonly string[] },
): CacheChange {
  const changed: ChangedObjects = {
    services: new Set(objects.services),
    secrets: new Set((objects.secrets ?? []).map(secretRefKey)),
    routing: new Set(objects.routing),
    gateways: new Set(objects.gateways),
  };
  return { types: new Map(types.map((type) => [type, changed])), objects: changed };
}

/** A Secret as ChangedObjects holds it: `NAMESPACE/NAME`. */
export function secretRefKey(ref: SecretRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** Whether the result reads one of the changed objects; reading every endpoint ('all') counts for any narrowed change, every host's routing for any routing change. */
function readsChanged(entry: CacheEntry, changed: ChangedObjects): boolean {
  if (entry.endpoints === 'all') return true;
  if (entry.endpoints?.some((hostname) => changed.services.has(hostname))) return true;
  if (entry.secrets?.some((secret) => changed.secrets.has(secretRefKey(secret)))) return true;
  if (entry.gateways?.some((gateway) => changed.gateways.has(gateway))) return true;
  return entry.routing !== undefined && changed.routing.size > 0 && readsRoutingOf(entry.routing, changed.routing);
}

/** Whether hostnames read (a ServiceEntry's may be wildcards) overlap changed host patterns. */
function readsRoutingOf(read: 'all' | readonly string[], changed: ReadonlySet<string>): boolean {
  if (read === 'all') return true;
  const patterns = [...changed];
  const wildcards = patterns.filter((pattern) => pattern.includes('*'));
  return read.some(
    (host) => changed.has(host) || wildcards.some((p) => hostMatches(p, host)) || (host.includes('*') && patterns.some((p) => hostMatches(host, p))),
  );
}

/** Whether a result declared by `entry` stays valid across `change`. */
export function survives(entry: CacheEntry, change: CacheChange): boolean {
  if (change === 'all' || entry.types === 'context') return false;
  if (entry.types.length === 0) return !readsChanged(entry, change.objects);
  for (const type of entry.types) {
    const typeChange = change.types.get(type);
    if (typeChange === undefined) continue;
    if (typeChange === 'all' || readsChanged(entry, typeChange)) return false;
  }
  return true;
}

/** The entries of a previous context's cache that a new context may keep (see survives). */
export function reusableEntries(previous: ReadonlyMap<string, CachedResult>, change: CacheChange): [string, CachedResult][] {
  if (change === 'all') return [];
  return [...previous].filter(([, cached]) => survives(cached.entry, change));
}

// The resource names SotW streams subscribe to, interned: Envoy repeats its
// whole list in every EDS and RDS request (3,000 names at 1,000 services), and
// proxies of one configuration scope ask for the same list, so they share one
// immutable set (and the generator's per-set results) instead of holding a copy
// each. A set is held weakly: it lives as long as a stream uses it. Once one
// proxy's request was decoded, another request naming the same list (by its
// digest) is answered from the pool without decoding its names again.

/** A pooled name list as a SotW request sent it. */
export interface RequestedNames {
  /** The names but '*': the set streams subscribe with, shared. */
  readonly set: ReadonlySet<string>;
  /** The same names in request order. */
  readonly list: readonly string[];
  /** The request named '*' or nothing: a wildcard request, for the types that have one. */
  readonly wildcard: boolean;
  /** The names' bytes as the first request sent them (a copy), when they were one range (requestedNamesBytes). */
  readonly bytes: Uint8Array | undefined;
}

/** Values by key, held weakly: an entry lasts as long as something else uses its value. */
export class WeakPool<V extends object> {
  private readonly values = new Map<string, WeakRef<V>>();
  private readonly cleanup = new FinalizationRegistry<string>((key) => {
    if (this.values.get(key)?.deref() === undefined) this.values.delete(key);
  });

  get(key: string): V | undefined {
    return this.values.get(key)?.deref();
  }

  /** Pools `value` under `key` (replacing a collected one) and returns it. */
  add(key: string, value: V): V {
    this.values.set(key, new WeakRef(value));
    this.cleanup.register(value, key);
    return value;
  }

  /** Keys currently pooled (for tests and measurements). */
  get size(): number {
    return this.values.size;
  }
}

export class NameSetPool {
  private readonly sets = new WeakPool<ReadonlySet<string>>();
  /** What each pooled set was requested as: lives as long as the set. */
  private readonly requests = new WeakMap<ReadonlySet<string>, RequestedNames>();

  /**
   * The set of `names`, shared with every earlier caller that passed the same `key`.
   * `key` must identify the list exactly (requestedNamesKey: a SHA-256 digest of the
   * names as sent); without one, the set is not shared. Callers never mutate the set.
   */
  intern(key: string | undefined, names: readonly string[] | ReadonlySet<string>): ReadonlySet<string> {
    if (key === undefined) return new Set(names);
    // A set handed in is taken as it is (the caller gives it up).
    return this.sets.get(key) ?? this.sets.add(key, names instanceof Set ? names : new Set(names));
  }

  /**
   * The names of a request as sent (`sent` may hold '*', `bytes` are their entries' bytes when
   * one range), pooled under `key` as intern pools them.
   */
  request(key: string | undefined, sent: readonly string[], bytes?: Uint8Array): RequestedNames {
    const known = key === undefined ? undefined : this.known(key);
    if (known) return known;
    const list = sent.includes('*') ? sent.filter((n) => n !== '*') : sent;
    const set = this.intern(key, list);
    const requested: RequestedNames = {
      set,
      list,
      wildcard: list.length !== sent.length || sent.length === 0,
      // A copy: the request's buffer is not kept alive by the pool.
      bytes: bytes && key !== undefined ? Uint8Array.prototype.slice.call(bytes) : undefined,
    };
    if (key !== undefined) this.requests.set(set, requested);
    return requested;
  }

  /** The pooled request names under `key`, if a stream still uses them. */
  known(key: string): RequestedNames | undefined {
    const set = this.sets.get(key);
    return set && this.requests.get(set);
  }

  /** Sets currently pooled (for tests and measurements). */
  get size(): number {
    return this.sets.size;
  }
}

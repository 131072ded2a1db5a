// The resource names SotW streams subscribe to, interned: Envoy repeats its
// whole list in every EDS and RDS request (3,000 names at 1,000 services), and
// proxies of one configuration scope ask for the same list, so they share one
// immutable set (and the generator's per-set results) instead of holding a copy
// each. A set is held weakly: it lives as long as a stream uses it.

export class NameSetPool {
  private readonly sets = new Map<string, WeakRef<ReadonlySet<string>>>();
  private readonly cleanup = new FinalizationRegistry<string>((key) => {
    if (this.sets.get(key)?.deref() === undefined) this.sets.delete(key);
  });

  /**
   * The set of `names`, shared with every earlier caller that passed the same `key`.
   * `key` must identify the list exactly (requestedNamesKey: a SHA-256 digest of the
   * names as sent); without one, the set is not shared. Callers never mutate the set.
   */
  intern(key: string | undefined, names: readonly string[] | ReadonlySet<string>): ReadonlySet<string> {
    if (key === undefined) return new Set(names);
    const known = this.sets.get(key)?.deref();
    if (known) return known;
    // A set handed in is taken as it is (the caller gives it up).
    const set: ReadonlySet<string> = names instanceof Set ? names : new Set(names);
    this.sets.set(key, new WeakRef(set));
    this.cleanup.register(set, key);
    return set;
  }

  /** Sets currently pooled (for tests and measurements). */
  get size(): number {
    return this.sets.size;
  }
}

// Results per subscribed name set. SotW streams of one scope name the same
// resources and share one interned name set (xds/server/nameSets.ts), so a
// list built for that set can be handed to all of them: one array per scope
// and set, hence one response body, one held-versions map and one status set
// for every proxy of the scope instead of a copy each.

/** Lists by owner (a per-context result such as a scope's route configurations by name) and name set, held weakly by both. */
const lists = new WeakMap<object, WeakMap<ReadonlySet<string>, unknown>>();

/**
 * The value `build` returns for `names`, built once per `owner` and set. `owner` must
 * identify everything else the value depends on (it lives no longer than that input).
 */
export function perNameSet<T>(owner: object, names: ReadonlySet<string>, build: () => T): T {
  let byNames = lists.get(owner);
  if (!byNames) lists.set(owner, (byNames = new WeakMap()));
  if (byNames.has(names)) return byNames.get(names) as T;
  const value = build();
  byNames.set(names, value);
  return value;
}

// What a Delta request does to a subscription's names, and which of the names it subscribed do
// not exist. Delta streams build their name sets from subscribe and unsubscribe lists; proxies
// of one scope subscribe the same names in the same order (every EDS cluster of their CDS), so
// the sets are interned by their names in order, as SotW streams' are by the names as sent
// (nameSets.ts): the generators' per-set results and the per-push work on them are then shared
// by the scope instead of repeated per stream, and so is the set's memory.
import { hash } from 'node:crypto';
import type { XdsResource } from '../resource.js';
import { NameSetPool, WeakPool } from './nameSets.js';
import type { ScannedNames } from './requestScan.js';

const deltaNameSets = new NameSetPool();

/** Subscribe and unsubscribe lists as requests sent them (names in order, '*' included), by their bytes' digest. */
const sentLists = new WeakPool<readonly string[]>();
const noNames: readonly string[] = Object.freeze([]);

/**
 * A request's subscribe or unsubscribe list as one frozen array shared by every request that sent
 * the same bytes: the proxies of a scope subscribe the same EDS names, and a request read from the
 * pool costs neither decoding nor memory, however many proxies wait to be answered. Shared lists
 * also let applyDeltaRequest and subscriptionNames answer once for all of them.
 */
export function pooledNames(scanned: ScannedNames): readonly string[] {
  if (scanned.empty) return noNames;
  const key = scanned.key();
  const known = sentLists.get(key);
  if (known) {
    deltaRequestNames.pooled++;
    return known;
  }
  deltaRequestNames.decoded++;
  return sentLists.add(key, Object.freeze(scanned.names()));
}

/** Non-empty Delta name lists decoded, and those taken from the pool (for tests and measurements). */
export const deltaRequestNames = { decoded: 0, pooled: 0 };

/** subscriptionNames results, by subscribe list. */
const namesBySubscribeList = new WeakMap<readonly string[], ReadonlySet<string>>();

/** The name set a new subscription starts with ('*' aside), interned; once per shared subscribe list. */
export function subscriptionNames(subscribe: readonly string[]): ReadonlySet<string> {
  let names = namesBySubscribeList.get(subscribe);
  if (!names) {
    names = internDeltaNames(new Set(subscribe.filter((n) => n !== '*')));
    namesBySubscribeList.set(subscribe, names);
  }
  return names;
}

/**
 * A set of `names` (taken as it is, never changed after), shared with every Delta stream that
 * holds the same names in the same order. Not sorted: sorting thousands of names per request
 * would cost more than the rest of the request, and a scope's proxies subscribe in one order.
 */
export function internDeltaNames(names: ReadonlySet<string>): ReadonlySet<string> {
  // JSON keeps the list unambiguous whatever characters the client put in its names.
  return deltaNameSets.intern(hash('sha256', JSON.stringify([...names]), 'base64url'), names);
}

/** A Delta request's effect on a subscription's names. */
export interface DeltaNameChange {
  /** The new name set (interned), or undefined when the names did not change. */
  readonly names: ReadonlySet<string> | undefined;
  /** Names the request unsubscribed that were subscribed. */
  readonly unsubscribed: readonly string[];
  /** Every name the request subscribed ('*' aside), subscribed before or not: each must be answered (xDS protocol, "Subscribing to Resources"). */
  readonly subscribed: ReadonlySet<string>;
  /** The wildcard after the request. */
  readonly wildcard: boolean;
}

/** applyDeltaRequest results by names, subscribe list, unsubscribe list, then wildcard (0 or 1). */
const changes = new WeakMap<ReadonlySet<string>, WeakMap<readonly string[], WeakMap<readonly string[], [DeltaNameChange?, DeltaNameChange?]>>>();

/**
 * Applies a request's unsubscribe, then subscribe lists ('*' is the wildcard). The result is the
 * same for every stream holding the same names and sent the same (pooled) lists: it is computed
 * once for them (a new service makes every proxy subscribe its EDS names), and never modified.
 */
export function applyDeltaRequest(
  names: ReadonlySet<string>,
  wildcard: boolean,
  subscribe: readonly string[],
  unsubscribe: readonly string[],
): DeltaNameChange {
  let bySubscribe = changes.get(names);
  if (!bySubscribe) changes.set(names, (bySubscribe = new WeakMap()));
  let byUnsubscribe = bySubscribe.get(subscribe);
  if (!byUnsubscribe) bySubscribe.set(subscribe, (byUnsubscribe = new WeakMap()));
  let known = byUnsubscribe.get(unsubscribe);
  if (!known) byUnsubscribe.set(unsubscribe, (known = []));
  return (known[wildcard ? 1 : 0] ??= nameChange(names, wildcard, subscribe, unsubscribe));
}

function nameChange(names: ReadonlySet<string>, wildcard: boolean, subscribe: readonly string[], unsubscribe: readonly string[]): DeltaNameChange {
  const next = new Set(names);
  const unsubscribed: string[] = [];
  for (const name of unsubscribe) {
    if (name === '*') wildcard = false;
    else if (next.delete(name)) unsubscribed.push(name);
  }
  const subscribed = new Set<string>();
  for (const name of subscribe) {
    if (name === '*') wildcard = true;
    else {
      next.add(name);
      subscribed.add(name);
    }
  }
  const changed = unsubscribed.length > 0 || next.size !== names.size;
  return { names: changed ? internDeltaNames(next) : undefined, unsubscribed, subscribed, wildcard };
}

/**
 * Of `requested`, the names `current` (what was generated) lacks: in Delta the server says such a
 * resource does not exist with removed_resources, so the proxy need not wait out its initial fetch
 * timeout (as istiod answers a subscription to an EDS cluster whose service it does not know).
 */
export function absentNames(requested: Iterable<string>, current: ReadonlyMap<string, XdsResource>): string[] {
  const absent: string[] = [];
  for (const name of requested) if (!current.has(name)) absent.push(name);
  return absent;
}

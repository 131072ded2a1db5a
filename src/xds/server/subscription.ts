// Per-type subscription state of one ADS stream, shared by the SotW and Delta handlers
// (go-control-plane keeps one subscription state for both protocols in the same way): what the
// proxy asked for, what it holds as far as meshd knows, and the nonces of the exchange.
import type { XdsResource } from '../resource.js';
import { HeldVersions } from './heldVersions.js';
import { wantedOf } from './wanted.js';
import type { WatchedResource } from './types.js';

export interface Subscription extends WatchedResource {
  wildcard: boolean;
  /** Never changed in place: SotW streams share them (NameSetPool), generators remember results per set. */
  names: ReadonlySet<string>;
  /** name → version the proxy holds, as far as this server knows. */
  held: HeldVersions;
  sentNonce: string;
  sentVersion: string;
  sentPushStartedAt: number;
  ackedNonce: string;
  nackedNonce: string;
  /**
   * SotW: the generator's array whose every resource the proxy was sent (held matches it and
   * the names did not change since), so the next push finds what changed by comparing arrays.
   */
  lastGenerated: readonly XdsResource[] | undefined;
  /** Digest of the raw resource_names of the last SotW request applied: an ACK repeating them is recognised without decoding them. */
  requestedNames: string | undefined;
  /** The same list's bytes as sent (shared by the streams naming it), when they were one range: an ACK is compared with them byte for byte. */
  requestedNamesBytes: Uint8Array | undefined;
}

export function newSubscription(typeUrl: string, wildcard: boolean, names: ReadonlySet<string>, held: Record<string, string>): Subscription {
  return {
    typeUrl,
    wildcard,
    names,
    held: new HeldVersions(held),
    sentNonce: '',
    sentVersion: '',
    sentPushStartedAt: 0,
    ackedNonce: '',
    nackedNonce: '',
    requestedNames: undefined,
    requestedNamesBytes: undefined,
    lastGenerated: undefined,
  };
}

/**
 * `full`: everything the proxy asked for (a new subscription); `added`: what it lacks, and
 * the newly named resources even if it had them (`held`: a generator array the proxy held all
 * of until it named them, nothing unsubscribed since); `changed`: only differences, or nothing.
 */
export type RespondMode = 'full' | { added: ReadonlySet<string>; held?: readonly XdsResource[] } | 'changed';

/** Order Envoy wants: clusters before their endpoints, listeners before their routes. */
const pushOrder = [
  'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  'type.googleapis.com/envoy.config.listener.v3.Listener',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
];
const orderOf = (typeUrl: string): number => {
  const i = pushOrder.indexOf(typeUrl);
  return i < 0 ? pushOrder.length : i;
};

/** Compares type URLs in the order a push sends them. */
export const byPushOrder = (a: string, b: string): number => orderOf(a) - orderOf(b);

/** A generated resource set compared with what the proxy holds. */
export interface HeldDiff {
  /** The generated resources the subscription asks for (the generator's own array when nothing is filtered out). */
  readonly wanted: readonly XdsResource[];
  /** `wanted` by name (the last of a repeated name wins). */
  readonly current: ReadonlyMap<string, XdsResource>;
  /** What the proxy lacks or holds in another version, plus `added` names whatever it holds. */
  readonly changed: readonly XdsResource[];
  /** Names the proxy holds, still subscribes to, and that no longer exist. */
  readonly removed: readonly string[];
}

/** By-name maps of the wanted arrays (shared, see wanted.ts): built once per array, not once per proxy. */
const byNameOfShared = new WeakMap<readonly XdsResource[], ReadonlyMap<string, XdsResource>>();

function byName(resources: readonly XdsResource[]): Map<string, XdsResource> {
  const map = new Map<string, XdsResource>();
  for (const r of resources) map.set(r.name, r);
  return map;
}

/** A generator array by name, built once per array (shared by the streams sent it). */
export function sharedByName(resources: readonly XdsResource[]): ReadonlyMap<string, XdsResource> {
  let map = byNameOfShared.get(resources);
  if (!map) {
    map = byName(resources);
    byNameOfShared.set(resources, map);
  }
  return map;
}

export function diffAgainstHeld(sub: Subscription, generated: readonly XdsResource[], added?: ReadonlySet<string>): HeldDiff {
  // The generator's own (shared) array when nothing is filtered out: its encoding is shared too. Either
  // way the array is shared by the streams naming the same set, and so is its by-name map.
  const wanted = wantedOf(sub, generated);
  const current = sharedByName(wanted);
  // A proxy that holds nothing yet (a new subscription) lacks everything: no per-name diff.
  const fresh = sub.held.size === 0;
  const changed = fresh ? wanted : wanted.filter((r) => sub.held.get(r.name) !== r.version || added?.has(r.name));
  const removed = fresh ? [] : [...sub.held.keys()].filter((n) => !current.has(n) && (sub.wildcard || sub.names.has(n)));
  return { wanted, current, changed, removed };
}

/** changesSinceLast results by next array, then last array (null: the layouts differ). */
const changesMemo = new WeakMap<readonly XdsResource[], WeakMap<readonly XdsResource[], readonly XdsResource[] | null>>();
const nothing: readonly XdsResource[] = [];

/**
 * The resources of `next` whose version differs from the same position in `last`, when both
 * list the same names in the same order (the generator's arrays for one scope usually do);
 * undefined when they do not, or when there is no `last`. Unchanged resources are usually
 * the very same objects, so this is a pointer comparison per resource, and the streams of a
 * scope, which hold the same arrays, share one comparison per push: every stream moving from
 * `last` to `next` gets the same result (never modify it), so its response is encoded once.
 */
export function changesSinceLast(last: readonly XdsResource[] | undefined, next: readonly XdsResource[]): readonly XdsResource[] | undefined {
  if (!last) return undefined;
  if (last === next) return nothing;
  let byLast = changesMemo.get(next);
  let known = byLast?.get(last);
  if (known === undefined) {
    known = compareLayouts(last, next) ?? null;
    if (!byLast) changesMemo.set(next, (byLast = new WeakMap()));
    byLast.set(last, known);
  }
  return known ?? undefined;
}

/** What moving from one generated array to another changes, by name (see changesByName). */
export interface NamedChanges {
  /** Resources of `next` that `last` lacks or has in another version. */
  readonly changed: readonly XdsResource[];
  /** Names in `last` that `next` lacks. */
  readonly removed: readonly string[];
  /** Names in `next` that `last` lacks (a named subscription must want them all to be sent them). */
  readonly added: readonly string[];
}

const namedChangesMemo = new WeakMap<readonly XdsResource[], WeakMap<readonly XdsResource[], NamedChanges>>();

/**
 * changesSinceLast for arrays that do not list the same names in the same order (a service
 * added or removed changes the layout of every cluster and listener list): compared by name,
 * once per pair of arrays, so the streams of a scope moving from `last` to `next` share one
 * comparison and one result (never modify it), and their response is encoded once.
 */
export function changesByName(last: readonly XdsResource[], next: readonly XdsResource[]): NamedChanges {
  let byLast = namedChangesMemo.get(next);
  let known = byLast?.get(last);
  if (!known) {
    known = compareByName(last, next);
    if (!byLast) namedChangesMemo.set(next, (byLast = new WeakMap()));
    byLast.set(last, known);
  }
  return known;
}

const withNamedMemo = new WeakMap<NamedChanges, WeakMap<ReadonlySet<string>, readonly XdsResource[]>>();

/**
 * The changes plus the resources of `next` the proxy just subscribed to by name (sent even if
 * held: it may have forgotten them), in `next`'s order; one array per changes and name set,
 * shared by the streams that subscribed the same names (never modify it).
 */
export function changesWithNamed(changes: NamedChanges, next: readonly XdsResource[], named: ReadonlySet<string>): readonly XdsResource[] {
  let byNamed = withNamedMemo.get(changes);
  let known = byNamed?.get(named);
  if (!known) {
    const changed = new Set(changes.changed);
    const current = sharedByName(next);
    const extra = [...named].map((name) => current.get(name)).filter((r): r is XdsResource => r !== undefined && !changed.has(r));
    known = extra.length === 0 ? changes.changed : [...changes.changed, ...extra];
    if (!byNamed) withNamedMemo.set(changes, (byNamed = new WeakMap()));
    byNamed.set(named, known);
  }
  return known;
}

function compareByName(last: readonly XdsResource[], next: readonly XdsResource[]): NamedChanges {
  const before = sharedByName(last);
  const after = sharedByName(next);
  const changed: XdsResource[] = [];
  const added: string[] = [];
  for (const r of after.values()) {
    const held = before.get(r.name);
    if (!held) added.push(r.name);
    if (held?.version !== r.version) changed.push(r);
  }
  const removed = [...before.keys()].filter((name) => !after.has(name));
  return { changed, removed, added };
}

function compareLayouts(last: readonly XdsResource[], next: readonly XdsResource[]): XdsResource[] | undefined {
  if (last.length !== next.length) return undefined;
  const changed: XdsResource[] = [];
  for (let i = 0; i < next.length; i++) {
    const a = last[i]!;
    const b = next[i]!;
    if (a === b) continue;
    if (a.name !== b.name) return undefined;
    if (a.version !== b.version) changed.push(b);
  }
  return changed;
}

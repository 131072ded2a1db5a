// What each proxy holds, per xDS type, for the debug API (config dumps, CSDS,
// the why-stale diff), without a copy per proxy: a set of resources is
// interned, so every stream that holds the same resources (the same encoded
// objects, shared by the generators) references one set. Sets are immutable;
// a change makes (or finds) another set. Reference counts free a set once no
// stream holds it.
import type { XdsResource } from '../xds/resource.js';

export interface ResourceSet {
  readonly byName: ReadonlyMap<string, XdsResource>;
}

interface PooledSet extends ResourceSet {
  readonly signature: string;
  refs: number;
}

const empty: PooledSet = { byName: new Map(), signature: '', refs: 0 };

/** A small number per resource object, for order-independent set signatures. */
const ids = new WeakMap<XdsResource, number>();
let nextId = 0;
const idOf = (r: XdsResource): number => {
  let id = ids.get(r);
  if (id === undefined) {
    id = ++nextId;
    ids.set(r, id);
  }
  return id;
};

/** Two 32-bit mixes of an id (splitmix-like), summed and xored over a set: equal sets, equal signatures. */
function signatureOf(resources: Iterable<XdsResource>): string {
  let sum = 0;
  let xor = 0;
  let count = 0;
  for (const r of resources) {
    const id = idOf(r);
    sum = (sum + Math.imul(id ^ (id >>> 16), 0x45d9f3b)) | 0;
    xor ^= Math.imul(id ^ (id >>> 15), 0x2c1b3c6d);
    count++;
  }
  return `${count}|${sum}|${xor}`;
}

function sameContent(set: ResourceSet, resources: readonly XdsResource[]): boolean {
  if (set.byName.size !== resources.length) return false;
  for (const r of resources) if (set.byName.get(r.name) !== r) return false;
  return true;
}

export class ResourceSetPool {
  private readonly sets = new Map<string, PooledSet[]>();
  /**
   * update's results when nothing is removed, by set and added array: the streams of a scope hold
   * one set and are pushed one shared array of changes, so they share one update per push.
   */
  private readonly additions = new WeakMap<ResourceSet, WeakMap<readonly XdsResource[], PooledSet>>();

  get emptySet(): ResourceSet {
    return empty;
  }

  /** Distinct sets held (for tests and measurements). */
  get size(): number {
    let n = 0;
    for (const list of this.sets.values()) n += list.length;
    return n;
  }

  /** The set of `resources` (names unique), shared with every holder of the same resources; the caller holds one reference. */
  acquire(resources: readonly XdsResource[]): ResourceSet {
    if (resources.length === 0) return empty;
    const signature = signatureOf(resources);
    const candidates = this.sets.get(signature);
    const found = candidates?.find((s) => sameContent(s, resources));
    if (found) {
      found.refs++;
      return found;
    }
    const byName = new Map<string, XdsResource>();
    for (const r of resources) byName.set(r.name, r);
    const set: PooledSet = { byName, signature, refs: 1 };
    // Repeated names (never sent by the server) would break sameContent: such a set is not shared.
    if (byName.size !== resources.length) return set;
    if (candidates) candidates.push(set);
    else this.sets.set(signature, [set]);
    return set;
  }

  /** Another reference to a set already held. */
  retain(set: ResourceSet): ResourceSet {
    if (set !== empty) (set as PooledSet).refs++;
    return set;
  }

  release(set: ResourceSet): void {
    if (set === empty) return;
    const pooled = set as PooledSet;
    if (--pooled.refs > 0) return;
    const list = this.sets.get(pooled.signature);
    const i = list?.indexOf(pooled) ?? -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.sets.delete(pooled.signature);
  }

  /** `set` with `removed` names gone and `added` resources in (replacing same names); a reference to the result. */
  update(set: ResourceSet, added: readonly XdsResource[], removed: Iterable<string>): ResourceSet {
    if (set.byName.size === 0) return this.acquire(added);
    const gone = [...removed].filter((n) => set.byName.has(n));
    if (gone.length === 0 && added.every((r) => set.byName.get(r.name) === r)) return this.retain(set);
    const known = gone.length === 0 ? this.additions.get(set)?.get(added) : undefined;
    // Only while still pooled: a released set is gone from the pool.
    if (known && known.refs > 0) return this.retain(known);
    const next = new Map(set.byName);
    for (const n of gone) next.delete(n);
    for (const r of added) next.set(r.name, r);
    const result = this.acquire([...next.values()]) as PooledSet;
    if (gone.length === 0 && result !== empty) {
      let byAdded = this.additions.get(set);
      if (!byAdded) this.additions.set(set, (byAdded = new WeakMap()));
      byAdded.set(added, result);
    }
    return result;
  }
}

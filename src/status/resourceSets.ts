// What each proxy holds, per xDS type, for the debug API (config dumps, CSDS,
// the why-stale diff), without a copy per proxy: a set of resources is
// interned, so every stream that holds the same resources (the same encoded
// objects, shared by the generators) references one set. Sets are immutable;
// a change makes (or finds) another set. Reference counts free a set once no
// stream holds it. An update (an incremental response: one changed load
// assignment) is remembered per set, so the proxies of a scope, holding one set
// and sent the same resources, reach the next set without copying it each.
import type { XdsResource } from '../xds/resource.js';

export interface ResourceSet {
  readonly byName: ReadonlyMap<string, XdsResource>;
}

interface PooledSet extends ResourceSet {
  readonly signature: string;
  refs: number;
  /** The last update made from this set and its result (dropped when either set is freed). */
  lastUpdate?: { readonly added: readonly XdsResource[]; readonly removed: readonly string[]; readonly result: PooledSet };
}

const empty: PooledSet = { byName: new Map(), signature: '', refs: 0 };

const sameItems = <T>(a: readonly T[], b: readonly T[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

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
  private built = 0;
  /** The pooled set last found for an array, held weakly by it; a set with no references left is no longer pooled and is not reused. */
  private readonly byArray = new WeakMap<readonly XdsResource[], PooledSet>();

  get emptySet(): ResourceSet {
    return empty;
  }

  /** Distinct sets held (for tests and measurements). */
  get size(): number {
    let n = 0;
    for (const list of this.sets.values()) n += list.length;
    return n;
  }

  /** Resource maps built so far: new sets, and the copies an update starts from (for tests and measurements). */
  get mapsBuilt(): number {
    return this.built;
  }

  /**
   * The set of `resources` (names unique), shared with every holder of the same resources; the caller holds one reference.
   * `resources` is never modified afterwards (the generators' arrays are not): the next call with the same array
   * takes the set found for it without reading the resources again, as every proxy of a scope is sent one array.
   */
  acquire(resources: readonly XdsResource[]): ResourceSet {
    if (resources.length === 0) return empty;
    const known = this.byArray.get(resources);
    if (known && known.refs > 0) {
      known.refs++;
      return known;
    }
    const signature = signatureOf(resources);
    const candidates = this.sets.get(signature);
    const found = candidates?.find((s) => sameContent(s, resources));
    if (found) {
      found.refs++;
      this.byArray.set(resources, found);
      return found;
    }
    const byName = new Map<string, XdsResource>();
    for (const r of resources) byName.set(r.name, r);
    this.built++;
    const set: PooledSet = { byName, signature, refs: 1 };
    // Repeated names (never sent by the server) would break sameContent: such a set is not shared.
    if (byName.size !== resources.length) return set;
    if (candidates) candidates.push(set);
    else this.sets.set(signature, [set]);
    this.byArray.set(resources, set);
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
    // A freed set keeps nothing else alive (a live set may still point at it, never further).
    pooled.lastUpdate = undefined;
    const list = this.sets.get(pooled.signature);
    const i = list?.indexOf(pooled) ?? -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (list!.length === 0) this.sets.delete(pooled.signature);
  }

  /** `set` with `removed` names gone and `added` resources in (replacing same names); a reference to the result. */
  update(set: ResourceSet, added: readonly XdsResource[], removed: Iterable<string>): ResourceSet {
    if (set.byName.size === 0) return this.acquire(added);
    const removedNames = [...removed];
    const from = set as PooledSet;
    // Every proxy of a scope makes the same update from the same set: the first one builds the result.
    const known = from.lastUpdate;
    if (known && known.result.refs > 0 && sameItems(known.added, added) && sameItems(known.removed, removedNames)) return this.retain(known.result);
    const gone = removedNames.filter((n) => set.byName.has(n));
    if (gone.length === 0 && added.every((r) => set.byName.get(r.name) === r)) return this.retain(set);
    const next = new Map(set.byName);
    this.built++;
    for (const n of gone) next.delete(n);
    for (const r of added) next.set(r.name, r);
    const result = this.acquire([...next.values()]) as PooledSet;
    from.lastUpdate = { added: [...added], removed: removedNames, result };
    return result;
  }
}

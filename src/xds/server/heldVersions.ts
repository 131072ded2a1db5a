// What one stream's proxy holds of one xDS type, name -> version, as far as the
// server knows. Most of the time that is exactly a generator array the stream
// was sent in full, and proxies of one scope are sent the same array: then they
// share one map built from it instead of a copy each (3,000 clusters and 3,000
// load assignments per proxy at 1,000 services). A change copies the map first.
import type { XdsResource } from '../resource.js';

/** One map per generator array, kept as long as the array is. */
const versionMaps = new WeakMap<readonly XdsResource[], ReadonlyMap<string, string>>();

function versionsOf(resources: readonly XdsResource[]): ReadonlyMap<string, string> {
  let map = versionMaps.get(resources);
  if (!map) {
    map = new Map(resources.map((r) => [r.name, r.version]));
    versionMaps.set(resources, map);
  }
  return map;
}

const none: ReadonlyMap<string, string> = new Map();

export class HeldVersions {
  /** The adopted array's map, until the first change; at most one of shared and own is set. */
  private shared: ReadonlyMap<string, string> | undefined;
  private own: Map<string, string> | undefined;

  /** `initial`: what the proxy declares it holds (Delta's initial_resource_versions). */
  constructor(initial: Readonly<Record<string, string>> = {}) {
    const entries = Object.entries(initial);
    if (entries.length > 0) this.own = new Map(entries);
  }

  get size(): number {
    return this.view().size;
  }

  get(name: string): string | undefined {
    return this.view().get(name);
  }

  keys(): IterableIterator<string> {
    return this.view().keys();
  }

  /** The map itself, read-only: streams that adopted the same array see the same object. */
  view(): ReadonlyMap<string, string> {
    return this.shared ?? this.own ?? none;
  }

  /** Now exactly the versions of `resources` (a generator's array, names unique), sharing one map with every stream that adopted it. */
  adopt(resources: readonly XdsResource[]): void {
    this.shared = versionsOf(resources);
    this.own = undefined;
  }

  set(name: string, version: string): void {
    if (this.view().get(name) !== version) this.writable().set(name, version);
  }

  delete(name: string): void {
    if (this.view().has(name)) this.writable().delete(name);
  }

  clear(): void {
    this.shared = undefined;
    this.own = undefined;
  }

  private writable(): Map<string, string> {
    if (!this.own) {
      this.own = new Map(this.shared ?? []);
      this.shared = undefined;
    }
    return this.own;
  }
}
